#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

const char *cx_err_name(int err) {
  switch (err) {
#define CX_ERR_NAME(sym, num, name, msg) case num: return name;
    CX_ERRORS(CX_ERR_NAME)
#undef CX_ERR_NAME
  }
  return "unknown_error";
}

const char *cx_err_str(int err) {
  switch (err) {
#define CX_ERR_STR(sym, num, name, msg) case num: return msg;
    CX_ERRORS(CX_ERR_STR)
#undef CX_ERR_STR
  }
  return "unknown error";
}

void cx_panic(const char *file, int line, const char *what) {
  fprintf(stderr, "custos: fatal: %s:%d: assertion failed: %s\n", file, line, what);
  fflush(stderr);
  abort();
}

cx_err cx_errf(char *err, size_t errlen, cx_err code, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return code;
}
