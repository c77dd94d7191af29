/* Canonical binary codec.
 *
 * Exactly one encoding per value (docs/formats.md):
 *  - u8, bool (0 or 1 only), fixed-size byte strings (hashes, keys, sigs);
 *  - unsigned integers as LEB128 varints, minimal (no trailing 0x80 groups,
 *    no 0x00 final group except the value 0 itself), at most 10 bytes;
 *  - byte strings and text as varint length + bytes, length checked against
 *    the field's cap BEFORE anything is read or allocated;
 *  - text restricted per field (identifier charset, or valid UTF-8 without
 *    control characters);
 *  - sets as a count + elements in strictly ascending order.
 * Decoding reports the first problem with its own error code and the byte
 * offset where it was found; a top-level decode must end with dec_finish()
 * which rejects trailing bytes.
 *
 * Writers grow a heap buffer; on allocation failure the writer latches
 * CX_E_NOMEM and later writes are no-ops (check enc_finish). */
#ifndef CUSTOS_CODEC_H
#define CUSTOS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct {
  uint8_t *buf; /* owned; free() or take via enc_take */
  size_t len, cap;
  cx_err err;
} cx_enc;

void enc_init(cx_enc *e);
void enc_free(cx_enc *e);
void enc_u8(cx_enc *e, uint8_t v);
void enc_bool(cx_enc *e, int v);
void enc_varint(cx_enc *e, uint64_t v);
/* The minimal LEB128 encoding of v into out (at most CX_VARINT_MAX bytes);
 * returns its length. The one varint writer: for fixed buffers (digests,
 * wire messages) where a growing cx_enc is not wanted. */
#define CX_VARINT_MAX 10
size_t varint_put(uint8_t out[CX_VARINT_MAX], uint64_t v);
void enc_fixed(cx_enc *e, const void *p, size_t n);
void enc_bytes(cx_enc *e, const void *p, size_t n); /* varint length + bytes */
void enc_str(cx_enc *e, const char *s);             /* varint length + bytes, no NUL */
/* CX_OK or the latched error. */
cx_err enc_finish(const cx_enc *e);
/* Hands the buffer to the caller (free()); the writer is reset. */
uint8_t *enc_take(cx_enc *e, size_t *len);

/* Text field charsets. */
typedef enum {
  STR_IDENT,  /* [a-z0-9_-], starting with a letter or digit */
  STR_ADDR,   /* printable ASCII without spaces (network addresses) */
  STR_UTF8,   /* valid UTF-8, no C0/C1 control characters, no NUL */
  STR_TEXT,   /* as STR_UTF8 but also tab, LF and CR (source code) */
} str_class;

typedef struct {
  const uint8_t *p;
  size_t len, off;
  cx_err err;       /* first error, latched */
  size_t err_off;   /* where it was found */
} cx_dec;

void dec_init(cx_dec *d, const void *p, size_t len);
/* All getters return 0 on success, -1 on error (latched in d->err). */
int dec_u8(cx_dec *d, uint8_t *v);
int dec_bool(cx_dec *d, int *v);
int dec_varint(cx_dec *d, uint64_t *v);
int dec_varint_max(cx_dec *d, uint64_t *v, uint64_t max); /* CX_E_TOO_LONG over max */
int dec_fixed(cx_dec *d, void *out, size_t n);
/* Length-prefixed bytes; *p points into the input (borrowed). */
int dec_bytes(cx_dec *d, const uint8_t **p, size_t *n, size_t cap);
/* Length-prefixed text copied into out (cap bytes + NUL => out size cap+1). */
int dec_str(cx_dec *d, char *out, size_t cap, str_class cls);
/* Fails with CX_E_BAD_ENUM unless lo <= v <= hi. */
int dec_enum(cx_dec *d, uint8_t *v, uint8_t lo, uint8_t hi);
/* CX_OK, the latched error, or CX_E_TRAILING if bytes remain. */
cx_err dec_finish(cx_dec *d);
/* Latches err at the current offset (for semantic checks by callers). */
int dec_fail(cx_dec *d, cx_err err);

/* Checks a NUL-terminated string against a class and a cap (no codec). */
int str_valid(const char *s, size_t cap, str_class cls);
/* Same for n bytes (may contain no NUL). */
int text_valid(const uint8_t *s, size_t n, str_class cls);
/* Where text_valid fails: the offset of the first byte of s that breaks
 * cls (for STR_UTF8 and STR_TEXT, the start of the invalid sequence or of
 * the refused character; an empty STR_IDENT at 0), or SIZE_MAX if s is
 * valid. For callers that report the position (the contract lexer). */
size_t text_invalid_at(const uint8_t *s, size_t n, str_class cls);
/* The length of the UTF-8 sequence at s (n >= 1 bytes available) and its
 * code point in *cp, or 0 if it is invalid: overlong forms, surrogates and
 * code points over U+10FFFF are refused (RFC 3629 §4). */
size_t utf8_seq(const uint8_t *s, size_t n, uint32_t *cp);

/* ---- fixed-width big-endian integers and zigzag ----
 * For fixed layouts (store keys, message headers, LevelDB records): the one
 * definition the modules share. Zigzag maps signed values to unsigned ones
 * with small magnitudes small, so a minimal varint carries an int64 with a
 * single encoding per value. */
static inline void put_be16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static inline uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline void put_be32(uint8_t *p, uint32_t v) {
  for (int i = 3; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}
static inline void put_be64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}
static inline uint32_t get_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t get_be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}
static inline uint64_t zigzag_enc(int64_t v) { return ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63)); }
static inline int64_t zigzag_dec(uint64_t z) { return (int64_t)((z >> 1) ^ (0 - (z & 1))); }

#endif
