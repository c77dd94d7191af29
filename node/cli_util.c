/* cli_util: messages, argument parsers, files, keys and output for the CLI. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "cli.h"
#include "codec.h"
#include "fileutil.h"

int cli_fail(int code, const char *fmt, ...) {
  va_list ap;
  fputs("custos: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return code;
}

const char *cli_opt(const cli_args *a, const char *name) {
  const cli_flag *f = a->cmd->flags;
  for (int i = 0; i < CLI_MAX_FLAGS && f[i].name; i++)
    if (strcmp(f[i].name, name) == 0) return a->val[i];
  CX_ASSERT(!"cli_opt: flag not in the command's table");
  return NULL;
}

/* ---- argument parsers ---- */

int cli_hex32(const char *what, const char *s, uint8_t out[32]) {
  if (hex_decode(s, out, 32) != CX_OK)
    return cli_fail(CLI_USAGE, "%s: expected 64 hex digits, got \"%s\"", what, s);
  return CLI_OK;
}

int cli_hash_arg(const char *what, const char *s, cx_hash *out) {
  return cli_hex32(what, s, out->b);
}

int cli_did_arg(const char *what, const char *s, cx_hash *out) {
  static const char prefix[] = "did:custos:";
  if (strncmp(s, prefix, sizeof prefix - 1) == 0) s += sizeof prefix - 1;
  return cli_hex32(what, s, out->b);
}

int cli_u64_arg(const char *what, const char *s, uint64_t *out) {
  /* strtoull accepts "-1", " 7" and "0x10"; only plain decimal digits here */
  if (!*s || strspn(s, "0123456789") != strlen(s))
    return cli_fail(CLI_USAGE, "%s: expected a non-negative integer, got \"%s\"", what, s);
  errno = 0;
  unsigned long long v = strtoull(s, NULL, 10);
  if (errno == ERANGE || v > 9007199254740991ull) /* JSON numbers stay exact */
    return cli_fail(CLI_USAGE, "%s: %s is too large", what, s);
  *out = v;
  return CLI_OK;
}

int cli_name_arg(const char *what, const char *s, char out[CX_NAME_MAX + 1]) {
  if (!str_valid(s, CX_NAME_MAX, STR_IDENT))
    return cli_fail(CLI_USAGE,
                    "%s: \"%s\" is not a name (1-%d characters of a-z 0-9 _ -, starting "
                    "with a letter or digit)",
                    what, s, CX_NAME_MAX);
  strcpy(out, s);
  return CLI_OK;
}

int cli_domains_arg(const char *what, const char *csv, cx_domain_set *out) {
  cx_err e = domain_set_parse(csv, out);
  switch (e) {
    case CX_OK: return CLI_OK;
    case CX_E_FULL:
      return cli_fail(CLI_USAGE, "%s: at most %d domains", what, CX_DOMAINS_MAX);
    case CX_E_EXISTS: return cli_fail(CLI_USAGE, "%s: a domain is listed twice", what);
    default:
      return cli_fail(CLI_USAGE,
                      "%s: expected a comma-separated list of names (1-%d characters of "
                      "a-z 0-9 _ -), got \"%s\"",
                      what, CX_DOMAIN_MAX, csv);
  }
}

static int is_hex64(const char *s) {
  return strlen(s) == 64 && strspn(s, "0123456789abcdefABCDEF") == 64;
}

int cli_pubkey_arg(const char *what, const char *arg, cx_pubkey *key, uint8_t *enc_out,
                   int *has_enc) {
  struct stat st;
  char err[512];
  if (has_enc) *has_enc = 0;
  /* A file wins over hex: a keystore named like a key is odd but possible. */
  if (stat(arg, &st) == 0) {
    uint8_t ek[32];
    cx_err e = keystore_public(arg, key, ek, err, sizeof err);
    if (e) return cli_fail(CLI_LOCAL, "%s: %s", what, err);
    if (enc_out) memcpy(enc_out, ek, 32);
    if (has_enc) *has_enc = 1;
    return CLI_OK;
  }
  if (!is_hex64(arg))
    return cli_fail(CLI_USAGE, "%s: \"%s\" is neither a keystore file nor 64 hex digits", what,
                    arg);
  hex_decode(arg, key->b, 32);
  if (!pubkey_valid(key))
    return cli_fail(CLI_USAGE, "%s: not a valid secp256k1 x-only public key", what);
  return CLI_OK;
}

/* ---- files and keys ---- */

int cli_read_file(const char *path, size_t cap, char **out, size_t *len) {
  cx_err e = file_read_all(path, cap, out, len);
  if (e == CX_E_TOO_LONG) return cli_fail(CLI_LOCAL, "%s: larger than %zu bytes", path, cap);
  if (e == CX_E_NOT_FOUND) return cli_fail(CLI_LOCAL, "%s: no such file", path);
  if (e) return cli_fail(CLI_LOCAL, "%s: cannot read: %s", path, strerror(errno));
  return CLI_OK;
}

int cli_passphrase(const cli_ctx *c, char **out) {
  char err[512];
  if (keystore_passphrase(c->pass_file, out, err, sizeof err) != CX_OK)
    return cli_fail(CLI_LOCAL, "%s", err);
  return CLI_OK;
}

int cli_load_signer_keys(const cli_ctx *c, keystore_keys *out) {
  char err[512];
  char *pass = NULL;
  memset(out, 0, sizeof *out);
  if (!c->key || !*c->key)
    return cli_fail(CLI_USAGE, "no signer: give --key FILE or set $CUSTOS_KEY");
  int rc = cli_passphrase(c, &pass);
  if (rc) return rc;
  cx_err e = keystore_load(c->key, pass, out, err, sizeof err);
  keystore_passphrase_free(pass);
  if (e == CX_E_PASSPHRASE)
    return cli_fail(CLI_LOCAL, "%s: wrong passphrase or damaged keystore", c->key);
  if (e) return cli_fail(CLI_LOCAL, "keystore: %s", err[0] ? err : cx_err_str(e));
  return CLI_OK;
}

/* ---- output ---- */

void cli_print_json(const cli_ctx *c, const cJSON *j) {
  char *s = c->json ? cJSON_PrintUnformatted(j) : cJSON_Print(j);
  if (!s) {
    cli_fail(CLI_LOCAL, "out of memory");
    return;
  }
  puts(s);
  free(s);
}

void cli_print_fields(const cJSON *obj) {
  size_t w = 0;
  for (const cJSON *f = obj ? obj->child : NULL; f; f = f->next)
    if (strlen(f->string) > w) w = strlen(f->string);
  for (const cJSON *f = obj ? obj->child : NULL; f; f = f->next) {
    if (cJSON_IsString(f)) {
      printf("%s:%*s %s\n", f->string, (int)(w - strlen(f->string)), "", f->valuestring);
    } else if (cJSON_IsNumber(f)) {
      printf("%s:%*s %.0f\n", f->string, (int)(w - strlen(f->string)), "", f->valuedouble);
    } else {
      char *s = cJSON_PrintUnformatted(f);
      printf("%s:%*s %s\n", f->string, (int)(w - strlen(f->string)), "", s ? s : "?");
      free(s);
    }
  }
}

int cli_json_u64(const cJSON *v, uint64_t *out) {
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (d < 0 || d > 9007199254740992.0 || d != (double)(uint64_t)d) return -1;
    *out = (uint64_t)d;
    return 0;
  }
  if (cJSON_IsString(v) && v->valuestring[0] &&
      strspn(v->valuestring, "0123456789") == strlen(v->valuestring)) {
    errno = 0;
    unsigned long long x = strtoull(v->valuestring, NULL, 10);
    if (errno == ERANGE) return -1;
    *out = x;
    return 0;
  }
  return -1;
}

/* The cookie file holds "__cookie__:<hex>" (custosd writes it at start,
 * mode 0600, into its data_dir); sent as HTTP Basic credentials. */
int cli_read_cookie(const cli_args *a, char **out) {
  char *text = NULL;
  size_t len = 0;
  const char *path = cli_opt(a, "cookie");
  int rc = cli_read_file(path, 1024, &text, &len);
  if (rc) return rc;
  while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
    text[--len] = 0;
  if (!strchr(text, ':')) {
    sodium_memzero(text, len);
    free(text);
    return cli_fail(CLI_LOCAL, "%s: not a cookie file (expected user:secret)", path);
  }
  *out = text;
  return CLI_OK;
}

void cli_free_cookie(char *cookie) {
  if (!cookie) return;
  sodium_memzero(cookie, strlen(cookie));
  free(cookie);
}
