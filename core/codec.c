#include "codec.h"

#include <stdlib.h>
#include <string.h>

void enc_init(cx_enc *e) { memset(e, 0, sizeof *e); }

void enc_free(cx_enc *e) {
  free(e->buf);
  memset(e, 0, sizeof *e);
}

static int reserve(cx_enc *e, size_t n) {
  if (e->err) return -1;
  if (n > SIZE_MAX - e->len) {
    e->err = CX_E_NOMEM;
    return -1;
  }
  if (e->len + n <= e->cap) return 0;
  size_t cap = e->cap ? e->cap : 128;
  while (cap < e->len + n) cap *= 2;
  uint8_t *b = realloc(e->buf, cap);
  if (!b) {
    e->err = CX_E_NOMEM;
    return -1;
  }
  e->buf = b;
  e->cap = cap;
  return 0;
}

void enc_fixed(cx_enc *e, const void *p, size_t n) {
  if (n == 0 || reserve(e, n)) return;
  memcpy(e->buf + e->len, p, n);
  e->len += n;
}

void enc_u8(cx_enc *e, uint8_t v) { enc_fixed(e, &v, 1); }
void enc_bool(cx_enc *e, int v) { enc_u8(e, v ? 1 : 0); }

size_t varint_put(uint8_t out[CX_VARINT_MAX], uint64_t v) {
  size_t n = 0;
  do {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    out[n++] = (uint8_t)(byte | (v ? 0x80 : 0));
  } while (v);
  return n;
}

void enc_varint(cx_enc *e, uint64_t v) {
  uint8_t b[CX_VARINT_MAX];
  enc_fixed(e, b, varint_put(b, v));
}

void enc_bytes(cx_enc *e, const void *p, size_t n) {
  enc_varint(e, n);
  enc_fixed(e, p, n);
}

void enc_str(cx_enc *e, const char *s) { enc_bytes(e, s, strlen(s)); }

cx_err enc_finish(const cx_enc *e) { return e->err; }

uint8_t *enc_take(cx_enc *e, size_t *len) {
  uint8_t *b = e->buf;
  *len = e->len;
  memset(e, 0, sizeof *e);
  return b;
}

void dec_init(cx_dec *d, const void *p, size_t len) {
  d->p = p;
  d->len = len;
  d->off = 0;
  d->err = CX_OK;
  d->err_off = 0;
}

int dec_fail(cx_dec *d, cx_err err) {
  if (!d->err) {
    d->err = err;
    d->err_off = d->off;
  }
  return -1;
}

int dec_fixed(cx_dec *d, void *out, size_t n) {
  if (d->err) return -1;
  if (d->len - d->off < n) return dec_fail(d, CX_E_TRUNCATED);
  if (n) memcpy(out, d->p + d->off, n);
  d->off += n;
  return 0;
}

int dec_u8(cx_dec *d, uint8_t *v) { return dec_fixed(d, v, 1); }

int dec_bool(cx_dec *d, int *v) {
  uint8_t b;
  if (dec_u8(d, &b)) return -1;
  if (b > 1) {
    d->off--;
    return dec_fail(d, CX_E_NONCANONICAL);
  }
  *v = b;
  return 0;
}

int dec_varint(cx_dec *d, uint64_t *v) {
  if (d->err) return -1;
  uint64_t r = 0;
  size_t start = d->off;
  for (unsigned i = 0;; i++) {
    if (d->off >= d->len) return dec_fail(d, CX_E_TRUNCATED);
    uint8_t b = d->p[d->off++];
    if (i == 9 && b > 1) { /* 10th group may only carry bit 63 */
      d->off = start;
      return dec_fail(d, CX_E_NONCANONICAL);
    }
    r |= (uint64_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      /* Minimal: a multi-byte varint may not end in a zero group. */
      if (b == 0 && i > 0) {
        d->off = start;
        return dec_fail(d, CX_E_NONCANONICAL);
      }
      *v = r;
      return 0;
    }
  }
}

int dec_varint_max(cx_dec *d, uint64_t *v, uint64_t max) {
  size_t start = d->off;
  if (dec_varint(d, v)) return -1;
  if (*v > max) {
    d->off = start;
    return dec_fail(d, CX_E_TOO_LONG);
  }
  return 0;
}

int dec_bytes(cx_dec *d, const uint8_t **p, size_t *n, size_t cap) {
  uint64_t len;
  if (dec_varint_max(d, &len, cap)) return -1;
  if (d->len - d->off < len) return dec_fail(d, CX_E_TRUNCATED);
  *p = d->p + d->off;
  *n = (size_t)len;
  d->off += (size_t)len;
  return 0;
}

size_t utf8_seq(const uint8_t *s, size_t n, uint32_t *cp) {
  uint8_t c = s[0];
  size_t len;
  uint32_t min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xe0) == 0xc0) {
    len = 2, min = 0x80, *cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3, min = 0x800, *cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4, min = 0x10000, *cp = c & 0x07;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    *cp = (*cp << 6) | (s[i] & 0x3f);
  }
  if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff)) return 0;
  return len;
}

size_t text_invalid_at(const uint8_t *s, size_t n, str_class cls) {
  if (cls == STR_IDENT) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
      uint8_t c = s[i];
      int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      if (!alnum && !(i > 0 && (c == '_' || c == '-'))) return i;
    }
    return SIZE_MAX;
  }
  if (cls == STR_ADDR) {
    for (size_t i = 0; i < n; i++)
      if (s[i] <= 0x20 || s[i] >= 0x7f) return i;
    return SIZE_MAX;
  }
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t l = utf8_seq(s + i, n - i, &cp);
    if (!l) return i;
    int ws = cls == STR_TEXT && (cp == '\t' || cp == '\n' || cp == '\r');
    if (!ws && (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))) return i;
    i += l;
  }
  return SIZE_MAX;
}

int text_valid(const uint8_t *s, size_t n, str_class cls) { return text_invalid_at(s, n, cls) == SIZE_MAX; }

int str_valid(const char *s, size_t cap, str_class cls) {
  size_t n = strlen(s);
  return n <= cap && text_valid((const uint8_t *)s, n, cls);
}

int dec_str(cx_dec *d, char *out, size_t cap, str_class cls) {
  const uint8_t *p;
  size_t n;
  size_t start = d->off;
  if (dec_bytes(d, &p, &n, cap)) return -1;
  if (!text_valid(p, n, cls)) {
    d->off = start;
    return dec_fail(d, CX_E_BAD_STRING);
  }
  memcpy(out, p, n);
  out[n] = 0;
  return 0;
}

int dec_enum(cx_dec *d, uint8_t *v, uint8_t lo, uint8_t hi) {
  if (dec_u8(d, v)) return -1;
  if (*v < lo || *v > hi) {
    d->off--;
    return dec_fail(d, CX_E_BAD_ENUM);
  }
  return 0;
}

cx_err dec_finish(cx_dec *d) {
  if (d->err) return d->err;
  if (d->off != d->len) {
    dec_fail(d, CX_E_TRAILING);
    return d->err;
  }
  return CX_OK;
}
