/* Unit tests for core/: error, hash, codec, keys (BIP340 vectors), merkle,
 * tx, block, log, clock.
 *
 * Reference values are computed independently where possible: tagged hashes
 * from plain SHA-256, Merkle roots from a straightforward recursive
 * definition, encodings from the byte layout in the headers. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "block.h"
#include "clock.h"
#include "codec.h"
#include "error.h"
#include "hash.h"
#include "keys.h"
#include "log.h"
#include "merkle.h"
#include "testutil.h"
#include "tx.h"
#include "client.h" /* mpc_client_blob_len: the length tx_call_blob_len copies */
#include "field.h"  /* fe_decode: the canonical check tx_decode copies for results */
#include "mpc.h"    /* mpc_ev_type: the evidence types TX_MPC_EVIDENCE carries */
#include "wire.h"   /* MPC_MSG_OVERHEAD: the shortest engine message */

#ifndef CUSTOS_VECTORS_DIR
#error "CUSTOS_VECTORS_DIR must be defined (path of tests/vectors)"
#endif

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* tx_key_context of fixed inputs (test_tx_key_context): a change of the
 * context's layout changes every key's proofs, so it must be deliberate. */
#define KEY_CONTEXT_GOLDEN "896a1a289e28cd98cceb27fdfe9509f9d5be4ee31830caca25246b8b618b8649"

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* The tag strings as documented (hash.h, docs/formats.md). Hard-coded here so
 * a silent change of a tag (which would change every id on chain) fails. */
static const struct {
  cx_tag tag;
  const char *name;
} k_tags[] = {
    {CX_TAG_TX, "custos/tx"},
    {CX_TAG_TX_SIG, "custos/tx-sig"},
    {CX_TAG_BLOCK, "custos/block"},
    {CX_TAG_VOTE, "custos/vote"},
    {CX_TAG_MERKLE_LEAF, "custos/merkle-leaf"},
    {CX_TAG_MERKLE_NODE, "custos/merkle-node"},
    {CX_TAG_RECEIPT, "custos/receipt"},
    {CX_TAG_STATE_LEAF, "custos/state-leaf"},
    {CX_TAG_STATE_BUCKET, "custos/state-bucket"},
    {CX_TAG_STATE_NODE, "custos/state-node"},
    {CX_TAG_STATE_KEY, "custos/state-key"},
    {CX_TAG_DID, "custos/did"},
    {CX_TAG_GENESIS, "custos/genesis"},
    {CX_TAG_CONTRACT, "custos/contract"},
    {CX_TAG_PROPOSAL, "custos/proposal"},
    {CX_TAG_CS_PROPOSAL, "custos/cs-proposal"},
    {CX_TAG_CS_PREVOTE, "custos/cs-prevote"},
    {CX_TAG_MPC_MSG, "custos/mpc-msg"},
    {CX_TAG_MPC_COIN, "custos/mpc-coin"},
    {CX_TAG_MPC_TRANSCRIPT, "custos/mpc-transcript"},
    {CX_TAG_MPC_CLIENT, "custos/mpc-client"},
    {CX_TAG_CALL, "custos/call"},
    {CX_TAG_RESULT, "custos/result"},
    {CX_TAG_RESULT_SIG, "custos/result-sig"},
    {CX_TAG_MPC_CALL, "custos/mpc-call"},
    {CX_TAG_MPC_OPENED, "custos/mpc-opened"},
    {CX_TAG_KEY, "custos/key"},
    {CX_TAG_RESULT_BLOBS, "custos/result-blobs"},
    {CX_TAG_RESULT_LEAF, "custos/result-leaf"},
    {CX_TAG_RESULT_BATCH, "custos/result-batch"},
};

/* BIP340 tagged hash computed from plain SHA-256 only:
 * SHA256(SHA256(tag) || SHA256(tag) || m). */
static void ref_tagged(const char *tag, const void *m, size_t n, uint8_t out[32]) {
  uint8_t th[32];
  hash_sha256(tag, strlen(tag), th);
  uint8_t *buf = malloc(64 + n);
  ck_assert_ptr_nonnull(buf);
  memcpy(buf, th, 32);
  memcpy(buf + 32, th, 32);
  if (n) memcpy(buf + 64, m, n);
  hash_sha256(buf, 64 + n, out);
  free(buf);
}

static void unhex(const char *s, uint8_t *out, size_t n) {
  ck_assert_msg(hex_decode(s, out, n) == CX_OK, "bad hex in test: %s", s);
}

static void rand_hash(cx_hash *h) { tu_randbytes(h->b, 32); }

static uint64_t rand_u64_any_width(void) {
  unsigned bits = (unsigned)(tu_rand() % 65); /* 0..64 significant bits */
  uint64_t v = tu_rand();
  if (bits == 0) return 0;
  if (bits < 64) v &= (UINT64_C(1) << bits) - 1;
  return v;
}

/* ------------------------------------------------------------------------ */
/* error                                                                    */
/* ------------------------------------------------------------------------ */

static const struct {
  int num;
  const char *sym;
} k_errs[] = {
#define X_ERR(sym, num, name, msg) {num, #sym},
    CX_ERRORS(X_ERR)
#undef X_ERR
};

START_TEST(test_error_names_distinct) {
  size_t n = ARRAY_LEN(k_errs);
  ck_assert_uint_gt(n, 50);
  for (size_t i = 0; i < n; i++) {
    const char *name = cx_err_name(k_errs[i].num);
    const char *str = cx_err_str(k_errs[i].num);
    ck_assert_ptr_nonnull(name);
    ck_assert_ptr_nonnull(str);
    ck_assert_msg(strcmp(name, "unknown_error") != 0, "%s has no name", k_errs[i].sym);
    ck_assert_msg(strcmp(str, "unknown error") != 0, "%s has no text", k_errs[i].sym);
    ck_assert_uint_gt(strlen(name), 0);
    ck_assert_uint_gt(strlen(str), 0);
    for (const char *c = name; *c; c++)
      ck_assert_msg((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_',
                    "%s: name '%s' not snake_case", k_errs[i].sym, name);
    for (size_t j = 0; j < i; j++) {
      ck_assert_msg(k_errs[i].num != k_errs[j].num, "%s and %s share a number",
                    k_errs[i].sym, k_errs[j].sym);
      ck_assert_msg(strcmp(name, cx_err_name(k_errs[j].num)) != 0, "%s and %s share name %s",
                    k_errs[i].sym, k_errs[j].sym, name);
    }
  }
  ck_assert_str_eq(cx_err_name(CX_OK), "ok");
  ck_assert_str_eq(cx_err_name(CX_E_BAD_SIG), "bad_signature");
  ck_assert_str_eq(cx_err_name(99999), "unknown_error");
  ck_assert_str_eq(cx_err_name(-1), "unknown_error");
  ck_assert_str_eq(cx_err_str(99999), "unknown error");
}
END_TEST

/* Codes appear in receipts on chain: a few pinned numbers. */
START_TEST(test_error_numbers_stable) {
  ck_assert_int_eq(CX_OK, 0);
  ck_assert_int_eq(CX_E_TRUNCATED, 100);
  ck_assert_int_eq(CX_E_TRAILING, 101);
  ck_assert_int_eq(CX_E_TOO_LONG, 102);
  ck_assert_int_eq(CX_E_NONCANONICAL, 103);
  ck_assert_int_eq(CX_E_BAD_ENUM, 104);
  ck_assert_int_eq(CX_E_BAD_STRING, 105);
  ck_assert_int_eq(CX_E_BAD_VERSION, 106);
  ck_assert_int_eq(CX_E_UNSORTED, 107);
  ck_assert_int_eq(CX_E_BAD_SIG, 200);
  ck_assert_int_eq(CX_E_NOT_CONFLICTING, 209);
  ck_assert_int_eq(CX_E_EVIDENCE_EXISTS, 350);
  ck_assert_int_eq(CX_E_CONSENT_MISMATCH, 360);
  ck_assert_int_eq(CX_E_BAD_DEALING, 361);
  ck_assert_int_eq(CX_E_BAD_EVIDENCE, 366);
  ck_assert_int_eq(CX_E_BAD_CERT, 501);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* hash                                                                     */
/* ------------------------------------------------------------------------ */

START_TEST(test_sha256_known) {
  /* FIPS 180-2 examples. */
  uint8_t out[32], want[32];
  hash_sha256("abc", 3, out);
  unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
  ck_assert_mem_eq(out, want, 32);
  hash_sha256("", 0, out);
  unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, 32);
  ck_assert_mem_eq(out, want, 32);
}
END_TEST

START_TEST(test_hash_tags_distinct) {
  ck_assert_uint_eq(ARRAY_LEN(k_tags), CX_TAG_COUNT);
  const char *msg = "the same input";
  cx_hash h[CX_TAG_COUNT];
  uint8_t plain[32];
  hash_sha256(msg, strlen(msg), plain);
  for (int t = 0; t < CX_TAG_COUNT; t++) {
    hash_tagged((cx_tag)t, msg, strlen(msg), &h[t]);
    ck_assert_msg(memcmp(h[t].b, plain, 32) != 0, "tag %d equals plain sha256", t);
    for (int u = 0; u < t; u++) ck_assert_msg(!hash_eq(&h[t], &h[u]), "tags %d and %d collide", t, u);
  }
}
END_TEST

START_TEST(test_hash_tagged_matches_bip340_definition) {
  uint8_t buf[300];
  tu_randbytes(buf, sizeof buf);
  size_t lens[] = {0, 1, 31, 32, 33, 55, 56, 63, 64, 65, 200, 300};
  for (size_t i = 0; i < ARRAY_LEN(k_tags); i++) {
    for (size_t j = 0; j < ARRAY_LEN(lens); j++) {
      cx_hash got;
      uint8_t want[32];
      hash_tagged(k_tags[i].tag, buf, lens[j], &got);
      ref_tagged(k_tags[i].name, buf, lens[j], want);
      ck_assert_msg(memcmp(got.b, want, 32) == 0, "tag %s len %zu", k_tags[i].name, lens[j]);
    }
  }
}
END_TEST

START_TEST(test_hash_incremental) {
  uint8_t buf[500];
  tu_randbytes(buf, sizeof buf);
  for (int it = 0; it < 50; it++) {
    size_t n = tu_rand() % sizeof buf;
    size_t cut1 = n ? tu_rand() % (n + 1) : 0;
    size_t cut2 = cut1 + (n - cut1 ? tu_rand() % (n - cut1 + 1) : 0);
    cx_tag tag = (cx_tag)(tu_rand() % CX_TAG_COUNT);
    cx_hash one, inc;
    hash_tagged(tag, buf, n, &one);
    hash_ctx c;
    hash_ctx_init(&c, tag);
    hash_ctx_update(&c, buf, cut1);
    hash_ctx_update(&c, buf + cut1, cut2 - cut1);
    hash_ctx_update(&c, buf + cut2, n - cut2);
    hash_ctx_final(&c, &inc);
    ck_assert(hash_eq(&one, &inc));
  }
}
END_TEST

START_TEST(test_hash_eq_zero) {
  cx_hash a, b;
  memset(&a, 0, sizeof a);
  ck_assert(hash_is_zero(&a));
  b = a;
  ck_assert(hash_eq(&a, &b));
  b.b[31] = 1;
  ck_assert(!hash_is_zero(&b));
  ck_assert(!hash_eq(&a, &b));
  b.b[31] = 0;
  b.b[0] = 0x80;
  ck_assert(!hash_is_zero(&b));
}
END_TEST

START_TEST(test_hex) {
  uint8_t in[40], out[40];
  char s[81];
  tu_randbytes(in, sizeof in);
  hex_encode(in, sizeof in, s);
  ck_assert_uint_eq(strlen(s), 80);
  for (const char *c = s; *c; c++) ck_assert((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'));
  ck_assert_int_eq(hex_decode(s, out, sizeof out), CX_OK);
  ck_assert_mem_eq(in, out, sizeof in);

  /* known value, both cases accepted */
  uint8_t b[4];
  ck_assert_int_eq(hex_decode("00ff7fA0", b, 4), CX_OK);
  ck_assert_uint_eq(b[0], 0x00);
  ck_assert_uint_eq(b[1], 0xff);
  ck_assert_uint_eq(b[2], 0x7f);
  ck_assert_uint_eq(b[3], 0xa0);
  ck_assert_int_eq(hex_decode("DEADBEEF", b, 4), CX_OK);
  ck_assert_uint_eq(b[0], 0xde);
  ck_assert_uint_eq(b[3], 0xef);
  char e[9];
  hex_encode(b, 4, e);
  ck_assert_str_eq(e, "deadbeef");
  hex_encode(b, 0, e);
  ck_assert_str_eq(e, "");

  /* bad digits anywhere, odd length, wrong length, NULL */
  ck_assert_int_eq(hex_decode("0g112233", b, 4), CX_E_BAD_HEX);
  ck_assert_int_eq(hex_decode("g0112233", b, 4), CX_E_BAD_HEX);
  ck_assert_int_eq(hex_decode("001122 3", b, 4), CX_E_BAD_HEX);
  ck_assert_int_eq(hex_decode("0x112233", b, 4), CX_E_BAD_HEX);
  ck_assert_int_eq(hex_decode("001122334", b, 4), CX_E_BAD_HEX);
  ck_assert_int_eq(hex_decode("0011223", b, 4), CX_E_BAD_HEX);
  ck_assert_int_eq(hex_decode("001122", b, 4), CX_E_BAD_HEX);
  ck_assert_int_eq(hex_decode("0011223344", b, 4), CX_E_BAD_HEX);
  ck_assert_int_eq(hex_decode(NULL, b, 4), CX_E_BAD_HEX);
  ck_assert_int_eq(hex_decode("", b, 0), CX_OK);

  size_t got = 99;
  ck_assert_int_eq(hex_decode_var("", b, 4, &got), CX_OK);
  ck_assert_uint_eq(got, 0);
  ck_assert_int_eq(hex_decode_var("aB", b, 4, &got), CX_OK);
  ck_assert_uint_eq(got, 1);
  ck_assert_uint_eq(b[0], 0xab);
  ck_assert_int_eq(hex_decode_var("abc", b, 4, &got), CX_E_BAD_HEX);
  ck_assert_int_eq(hex_decode_var("zz", b, 4, &got), CX_E_BAD_HEX);
  ck_assert_int_eq(hex_decode_var("0011223344", b, 4, &got), CX_E_TOO_LONG);
  ck_assert_int_eq(hex_decode_var(NULL, b, 4, &got), CX_E_BAD_HEX);

  cx_hash h;
  rand_hash(&h);
  char hs[CX_HASH_HEX_LEN];
  ck_assert_ptr_eq(hash_hex(&h, hs), hs);
  ck_assert_uint_eq(strlen(hs), 64);
  cx_hash back;
  ck_assert_int_eq(hex_decode(hs, back.b, 32), CX_OK);
  ck_assert(hash_eq(&h, &back));
}
END_TEST

/* ------------------------------------------------------------------------ */
/* keys: BIP340 vectors                                                     */
/* ------------------------------------------------------------------------ */

typedef struct {
  char f[8][512]; /* index, sk, pk, aux, msg, sig, result, comment */
} csv_row;

/* Reads the BIP340 CSV; returns the number of data rows (header checked). */
static size_t read_bip340_csv(csv_row *rows, size_t cap) {
  const char *path = CUSTOS_VECTORS_DIR "/bip340_test_vectors.csv";
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  char line[4096];
  size_t n = 0;
  int header = 1;
  while (fgets(line, sizeof line, f)) {
    size_t len = strlen(line);
    ck_assert_msg(len + 1 < sizeof line, "line too long");
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
    if (len == 0) continue;
    if (header) {
      ck_assert_str_eq(line,
                       "index,secret key,public key,aux_rand,message,signature,"
                       "verification result,comment");
      header = 0;
      continue;
    }
    ck_assert_uint_lt(n, cap);
    csv_row *r = &rows[n];
    memset(r, 0, sizeof *r);
    const char *p = line;
    for (int i = 0; i < 8; i++) {
      /* the comment is the rest of the line */
      const char *c = i < 7 ? strchr(p, ',') : NULL;
      size_t l = c ? (size_t)(c - p) : strlen(p);
      ck_assert_uint_lt(l, sizeof r->f[i]);
      memcpy(r->f[i], p, l);
      r->f[i][l] = 0;
      if (i < 7) {
        ck_assert_msg(c != NULL, "row %zu has too few columns", n);
        p = c + 1;
      }
    }
    n++;
  }
  fclose(f);
  ck_assert_msg(!header, "empty CSV");
  return n;
}

START_TEST(test_bip340_vectors) {
  static csv_row rows[64];
  size_t n = read_bip340_csv(rows, ARRAY_LEN(rows));
  ck_assert_uint_eq(n, 19);
  int signed_rows = 0, invalid_key_rows = 0, empty_msg = 0, long_msg = 0;
  for (size_t i = 0; i < n; i++) {
    const csv_row *r = &rows[i];
    ck_assert_int_eq(atoi(r->f[0]), (int)i);
    cx_pubkey pk;
    cx_sig sig;
    uint8_t msg[512];
    size_t msg_len = 0;
    unhex(r->f[2], pk.b, 32);
    unhex(r->f[5], sig.b, 64);
    ck_assert_int_eq(hex_decode_var(r->f[4], msg, sizeof msg, &msg_len), CX_OK);
    if (msg_len == 0) empty_msg++;
    if (msg_len > 32) long_msg++;
    int want = strcmp(r->f[6], "TRUE") == 0;
    ck_assert_msg(want || strcmp(r->f[6], "FALSE") == 0, "row %zu: bad result column", i);

    if (r->f[1][0]) {
      uint8_t sk[32], aux[32];
      unhex(r->f[1], sk, 32);
      unhex(r->f[3], aux, 32);
      cx_seckey *k = NULL;
      ck_assert_int_eq(key_from_bytes(sk, &k), CX_OK);
      cx_pubkey got_pk;
      key_public(k, &got_pk);
      ck_assert_msg(memcmp(got_pk.b, pk.b, 32) == 0, "row %zu: public key mismatch", i);
      uint8_t back[32];
      key_secret_bytes(k, back);
      ck_assert_mem_eq(back, sk, 32);
      cx_sig got_sig;
      ck_assert_int_eq(key_sign(k, msg, msg_len, aux, &got_sig), CX_OK);
      ck_assert_msg(memcmp(got_sig.b, sig.b, 64) == 0, "row %zu: signature mismatch", i);
      if (msg_len == 32) {
        ck_assert_int_eq(key_sign32(k, msg, aux, &got_sig), CX_OK);
        ck_assert_mem_eq(got_sig.b, sig.b, 64);
      }
      /* fresh randomness: a different but valid signature */
      ck_assert_int_eq(key_sign(k, msg, msg_len, NULL, &got_sig), CX_OK);
      ck_assert(sig_verify(&pk, msg, msg_len, &got_sig));
      key_free(k);
      signed_rows++;
    }
    ck_assert_msg(sig_verify(&pk, msg, msg_len, &sig) == want, "row %zu (%s): verify != %s", i,
                  r->f[7], r->f[6]);
    /* rows whose comment says the public key is bad must fail pubkey_valid */
    int bad_key = strncmp(r->f[7], "public key", 10) == 0;
    ck_assert_msg(pubkey_valid(&pk) == !bad_key, "row %zu: pubkey_valid", i);
    invalid_key_rows += bad_key;
  }
  ck_assert_int_eq(signed_rows, 8);
  ck_assert_int_eq(invalid_key_rows, 2);
  ck_assert_int_eq(empty_msg, 1);
  ck_assert_int_eq(long_msg, 1);
}
END_TEST

START_TEST(test_keys_misc) {
  uint8_t zero[32] = {0}, n_order[32];
  cx_seckey *k = (cx_seckey *)1;
  ck_assert_int_eq(key_from_bytes(zero, &k), CX_E_BAD_KEY);
  ck_assert_ptr_eq(k, (cx_seckey *)1); /* untouched on failure */
  unhex("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", n_order, 32);
  ck_assert_int_eq(key_from_bytes(n_order, &k), CX_E_BAD_KEY);
  key_free(NULL);

  cx_seckey *a = key_generate(), *b = key_generate();
  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_nonnull(b);
  cx_pubkey pa, pb;
  key_public(a, &pa);
  key_public(b, &pb);
  ck_assert(memcmp(pa.b, pb.b, 32) != 0);
  ck_assert(pubkey_valid(&pa));
  uint8_t msg[77];
  tu_randbytes(msg, sizeof msg);
  cx_sig s;
  ck_assert_int_eq(key_sign(a, msg, sizeof msg, NULL, &s), CX_OK);
  ck_assert(sig_verify(&pa, msg, sizeof msg, &s));
  ck_assert(!sig_verify(&pb, msg, sizeof msg, &s));
  ck_assert(!sig_verify(&pa, msg, sizeof msg - 1, &s));
  msg[0] ^= 1;
  ck_assert(!sig_verify(&pa, msg, sizeof msg, &s));
  msg[0] ^= 1;
  for (int i = 0; i < 64; i += 7) {
    s.b[i] ^= 0x10;
    ck_assert(!sig_verify(&pa, msg, sizeof msg, &s));
    s.b[i] ^= 0x10;
  }
  ck_assert(sig_verify(&pa, msg, sizeof msg, &s));
  /* secret bytes round trip to the same key */
  uint8_t sk[32];
  key_secret_bytes(a, sk);
  cx_seckey *a2 = NULL;
  ck_assert_int_eq(key_from_bytes(sk, &a2), CX_OK);
  cx_pubkey pa2;
  key_public(a2, &pa2);
  ck_assert_mem_eq(pa.b, pa2.b, 32);
  ck_assert_ptr_nonnull(keys_context());
  key_free(a);
  key_free(a2);
  key_free(b);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* codec                                                                    */
/* ------------------------------------------------------------------------ */

static size_t varint_len(uint64_t v) {
  size_t n = 1;
  while (v >>= 7) n++;
  return n;
}

static void check_varint_rt(uint64_t v) {
  cx_enc e;
  enc_init(&e);
  enc_varint(&e, v);
  ck_assert_int_eq(enc_finish(&e), CX_OK);
  ck_assert_uint_eq(e.len, varint_len(v));
  /* LEB128: continuation bit on all but the last byte, last byte non-zero
   * unless the value is 0 */
  for (size_t i = 0; i + 1 < e.len; i++) ck_assert(e.buf[i] & 0x80);
  ck_assert(!(e.buf[e.len - 1] & 0x80));
  if (e.len > 1) ck_assert_uint_ne(e.buf[e.len - 1], 0);
  cx_dec d;
  uint64_t got = ~v;
  dec_init(&d, e.buf, e.len);
  ck_assert_int_eq(dec_varint(&d, &got), 0);
  ck_assert_int_eq(dec_finish(&d), CX_OK);
  ck_assert_msg(got == v, "varint %llu decoded as %llu", (unsigned long long)v,
                (unsigned long long)got);
  dec_init(&d, e.buf, e.len);
  ck_assert_int_eq(dec_varint_max(&d, &got, v), 0);
  ck_assert(got == v);
  if (v > 0) {
    dec_init(&d, e.buf, e.len);
    ck_assert_int_eq(dec_varint_max(&d, &got, v - 1), -1);
    ck_assert_int_eq(d.err, CX_E_TOO_LONG);
    ck_assert_uint_eq(d.err_off, 0);
  }
  enc_free(&e);
}

START_TEST(test_varint_roundtrip) {
  const uint64_t fixed[] = {0,
                            1,
                            127,
                            128,
                            255,
                            300,
                            16383,
                            16384,
                            (UINT64_C(1) << 32) - 1,
                            UINT64_C(1) << 32,
                            (UINT64_C(1) << 56) - 1,
                            (UINT64_C(1) << 63) - 1,
                            UINT64_C(1) << 63,
                            UINT64_MAX - 1,
                            UINT64_MAX};
  for (size_t i = 0; i < ARRAY_LEN(fixed); i++) check_varint_rt(fixed[i]);
  for (int i = 0; i < 2000; i++) check_varint_rt(rand_u64_any_width());

  /* exact bytes of a few values */
  cx_enc e;
  enc_init(&e);
  enc_varint(&e, 0);
  enc_varint(&e, 127);
  enc_varint(&e, 128);
  enc_varint(&e, 300);
  enc_varint(&e, UINT64_C(1) << 63);
  enc_varint(&e, UINT64_MAX);
  const uint8_t want[] = {0x00, 0x7f, 0x80, 0x01, 0xac, 0x02,
                          0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
                          0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  ck_assert_uint_eq(e.len, sizeof want);
  ck_assert_mem_eq(e.buf, want, sizeof want);
  enc_free(&e);
}
END_TEST

/* dec_varint then dec_finish over p[0..n); returns the first error. */
static cx_err varint_err(const uint8_t *p, size_t n, size_t *err_off) {
  cx_dec d;
  uint64_t v;
  dec_init(&d, p, n);
  int r = dec_varint(&d, &v);
  cx_err e = dec_finish(&d);
  ck_assert_int_eq(r == 0, e == CX_OK || e == CX_E_TRAILING);
  *err_off = d.err_off;
  return e;
}

START_TEST(test_varint_noncanonical) {
  size_t off;
  const uint8_t nm1[] = {0x80, 0x00};
  ck_assert_int_eq(varint_err(nm1, sizeof nm1, &off), CX_E_NONCANONICAL);
  ck_assert_uint_eq(off, 0);
  const uint8_t nm2[] = {0x81, 0x00};
  ck_assert_int_eq(varint_err(nm2, sizeof nm2, &off), CX_E_NONCANONICAL);
  ck_assert_uint_eq(off, 0);
  const uint8_t nm3[] = {0xff, 0x80, 0x00};
  ck_assert_int_eq(varint_err(nm3, sizeof nm3, &off), CX_E_NONCANONICAL);
  const uint8_t nm4[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  ck_assert_int_eq(varint_err(nm4, sizeof nm4, &off), CX_E_NONCANONICAL);

  /* 11-byte varints and 10-byte ones that overflow 64 bits */
  const uint8_t ov1[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  ck_assert_int_eq(varint_err(ov1, sizeof ov1, &off), CX_E_NONCANONICAL);
  ck_assert_uint_eq(off, 0);
  const uint8_t ov2[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  ck_assert_int_eq(varint_err(ov2, sizeof ov2, &off), CX_E_NONCANONICAL);
  const uint8_t ov3[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
  ck_assert_int_eq(varint_err(ov3, sizeof ov3, &off), CX_E_NONCANONICAL);
  const uint8_t ov4[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f};
  ck_assert_int_eq(varint_err(ov4, sizeof ov4, &off), CX_E_NONCANONICAL);
  /* the largest 10-byte forms are fine */
  const uint8_t ok1[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  ck_assert_int_eq(varint_err(ok1, sizeof ok1, &off), CX_OK);

  /* truncation: continuation bit set on the last byte */
  const uint8_t tr1[] = {0x80};
  ck_assert_int_eq(varint_err(tr1, sizeof tr1, &off), CX_E_TRUNCATED);
  ck_assert_uint_eq(off, 1);
  const uint8_t tr2[] = {0xff, 0xff, 0xff};
  ck_assert_int_eq(varint_err(tr2, sizeof tr2, &off), CX_E_TRUNCATED);
  ck_assert_int_eq(varint_err(tr2, 0, &off), CX_E_TRUNCATED);
  ck_assert_uint_eq(off, 0);

  /* trailing */
  const uint8_t tl[] = {0x05, 0x00};
  ck_assert_int_eq(varint_err(tl, sizeof tl, &off), CX_E_TRAILING);
  ck_assert_uint_eq(off, 1);

  /* err_off is where the varint starts, not where decoding began */
  const uint8_t pre[] = {0x07, 0x07, 0x81, 0x00};
  cx_dec d;
  uint8_t u;
  uint64_t v;
  dec_init(&d, pre, sizeof pre);
  ck_assert_int_eq(dec_u8(&d, &u), 0);
  ck_assert_int_eq(dec_u8(&d, &u), 0);
  ck_assert_int_eq(dec_varint(&d, &v), -1);
  ck_assert_int_eq(d.err, CX_E_NONCANONICAL);
  ck_assert_uint_eq(d.err_off, 2);
}
END_TEST

START_TEST(test_codec_roundtrip_mixed) {
  for (int it = 0; it < 200; it++) {
    uint8_t u8 = (uint8_t)tu_rand();
    int b = (int)(tu_rand() & 1);
    uint64_t v = rand_u64_any_width();
    uint8_t fixed[32];
    tu_randbytes(fixed, sizeof fixed);
    size_t blen = tu_rand() % 300;
    uint8_t *bytes = malloc(blen ? blen : 1);
    tu_randbytes(bytes, blen);
    char str[40];
    size_t slen = tu_rand() % 33;
    for (size_t i = 0; i < slen; i++) str[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[tu_rand() % 36];
    str[slen] = 0;
    if (slen) str[0] = 'a';

    cx_enc e;
    enc_init(&e);
    enc_u8(&e, u8);
    enc_bool(&e, b);
    enc_varint(&e, v);
    enc_fixed(&e, fixed, sizeof fixed);
    enc_bytes(&e, bytes, blen);
    enc_str(&e, str);
    enc_bool(&e, 42); /* any non-zero encodes as 1 */
    ck_assert_int_eq(enc_finish(&e), CX_OK);
    size_t len;
    uint8_t *buf = enc_take(&e, &len);
    ck_assert_ptr_null(e.buf);
    ck_assert_uint_eq(e.len, 0);

    cx_dec d;
    dec_init(&d, buf, len);
    uint8_t gu8;
    int gb, gb2;
    uint64_t gv;
    uint8_t gfixed[32];
    const uint8_t *gbytes;
    size_t gblen;
    char gstr[33];
    ck_assert_int_eq(dec_u8(&d, &gu8), 0);
    ck_assert_int_eq(dec_bool(&d, &gb), 0);
    ck_assert_int_eq(dec_varint(&d, &gv), 0);
    ck_assert_int_eq(dec_fixed(&d, gfixed, sizeof gfixed), 0);
    ck_assert_int_eq(dec_bytes(&d, &gbytes, &gblen, 300), 0);
    ck_assert_int_eq(dec_str(&d, gstr, 32, slen ? STR_IDENT : STR_UTF8), 0);
    ck_assert_int_eq(dec_bool(&d, &gb2), 0);
    ck_assert_int_eq(dec_finish(&d), CX_OK);
    ck_assert_uint_eq(gu8, u8);
    ck_assert_int_eq(gb, b);
    ck_assert_int_eq(gb2, 1);
    ck_assert(gv == v);
    ck_assert_mem_eq(gfixed, fixed, sizeof fixed);
    ck_assert_uint_eq(gblen, blen);
    if (blen) ck_assert_mem_eq(gbytes, bytes, blen);
    ck_assert(gbytes >= buf && gbytes + gblen <= buf + len); /* borrowed */
    ck_assert_str_eq(gstr, str);
    free(buf);
    free(bytes);
  }
}
END_TEST

START_TEST(test_codec_errors) {
  cx_dec d;
  uint8_t u;
  int b;
  uint64_t v;
  const uint8_t *p;
  size_t n;
  uint8_t out[32];

  /* bool: only 0 and 1 */
  const uint8_t bools[] = {0x00, 0x01, 0x02};
  dec_init(&d, bools, sizeof bools);
  ck_assert_int_eq(dec_bool(&d, &b), 0);
  ck_assert_int_eq(b, 0);
  ck_assert_int_eq(dec_bool(&d, &b), 0);
  ck_assert_int_eq(b, 1);
  ck_assert_int_eq(dec_bool(&d, &b), -1);
  ck_assert_int_eq(d.err, CX_E_NONCANONICAL);
  ck_assert_uint_eq(d.err_off, 2);
  const uint8_t bff[] = {0xff};
  dec_init(&d, bff, 1);
  ck_assert_int_eq(dec_bool(&d, &b), -1);
  ck_assert_int_eq(dec_finish(&d), CX_E_NONCANONICAL);

  /* trailing bytes after a complete value */
  const uint8_t two[] = {0x01, 0x02};
  dec_init(&d, two, sizeof two);
  ck_assert_int_eq(dec_u8(&d, &u), 0);
  ck_assert_int_eq(dec_finish(&d), CX_E_TRAILING);
  ck_assert_uint_eq(d.err_off, 1);

  /* truncation */
  uint8_t ten[10] = {0};
  dec_init(&d, ten, sizeof ten);
  ck_assert_int_eq(dec_fixed(&d, out, 32), -1);
  ck_assert_int_eq(d.err, CX_E_TRUNCATED);
  ck_assert_uint_eq(d.off, 0); /* nothing consumed */
  dec_init(&d, ten, 0);
  ck_assert_int_eq(dec_u8(&d, &u), -1);
  ck_assert_int_eq(dec_finish(&d), CX_E_TRUNCATED);
  const uint8_t short_bytes[] = {0x05, 'a', 'b', 'c'};
  dec_init(&d, short_bytes, sizeof short_bytes);
  ck_assert_int_eq(dec_bytes(&d, &p, &n, 100), -1);
  ck_assert_int_eq(d.err, CX_E_TRUNCATED);

  /* length over cap is reported before anything is read: the input has only
   * the length prefix, yet the error is TOO_LONG, not TRUNCATED */
  const uint8_t only_len[] = {0x05};
  dec_init(&d, only_len, sizeof only_len);
  ck_assert_int_eq(dec_bytes(&d, &p, &n, 4), -1);
  ck_assert_int_eq(d.err, CX_E_TOO_LONG);
  ck_assert_uint_eq(d.err_off, 0);
  const uint8_t huge_len[] = {0xaa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  dec_init(&d, huge_len, sizeof huge_len);
  ck_assert_int_eq(dec_u8(&d, &u), 0);
  ck_assert_int_eq(dec_bytes(&d, &p, &n, 1 << 20), -1);
  ck_assert_int_eq(d.err, CX_E_TOO_LONG);
  ck_assert_uint_eq(d.err_off, 1);
  char s5[5];
  dec_init(&d, only_len, sizeof only_len);
  ck_assert_int_eq(dec_str(&d, s5, 4, STR_UTF8), -1);
  ck_assert_int_eq(d.err, CX_E_TOO_LONG);
  /* exactly at the cap is fine */
  const uint8_t four[] = {0x04, 'a', 'b', 'c', 'd'};
  dec_init(&d, four, sizeof four);
  ck_assert_int_eq(dec_str(&d, s5, 4, STR_IDENT), 0);
  ck_assert_int_eq(dec_finish(&d), CX_OK);
  ck_assert_str_eq(s5, "abcd");
  dec_init(&d, four, sizeof four);
  ck_assert_int_eq(dec_str(&d, s5, 3, STR_IDENT), -1);
  ck_assert_int_eq(d.err, CX_E_TOO_LONG);

  /* enum range */
  const uint8_t enums[] = {0x01, 0x03, 0x04};
  dec_init(&d, enums, sizeof enums);
  ck_assert_int_eq(dec_enum(&d, &u, 1, 3), 0);
  ck_assert_int_eq(dec_enum(&d, &u, 1, 3), 0);
  ck_assert_uint_eq(u, 3);
  ck_assert_int_eq(dec_enum(&d, &u, 1, 3), -1);
  ck_assert_int_eq(d.err, CX_E_BAD_ENUM);
  ck_assert_uint_eq(d.err_off, 2);
  const uint8_t zero[] = {0x00};
  dec_init(&d, zero, 1);
  ck_assert_int_eq(dec_enum(&d, &u, 1, 3), -1);
  ck_assert_int_eq(dec_finish(&d), CX_E_BAD_ENUM);
  ck_assert_uint_eq(d.err_off, 0);

  /* errors latch: the first one is kept and later reads fail */
  const uint8_t latch[] = {0x02, 0x01, 0x01};
  dec_init(&d, latch, sizeof latch);
  ck_assert_int_eq(dec_bool(&d, &b), -1);
  ck_assert_int_eq(dec_u8(&d, &u), -1);
  ck_assert_int_eq(dec_varint(&d, &v), -1);
  ck_assert_int_eq(dec_fixed(&d, out, 1), -1);
  ck_assert_int_eq(dec_fail(&d, CX_E_INTERNAL), -1);
  ck_assert_int_eq(dec_finish(&d), CX_E_NONCANONICAL);
  ck_assert_uint_eq(d.err_off, 0);

  /* dec_fail records the current offset */
  dec_init(&d, latch, sizeof latch);
  ck_assert_int_eq(dec_u8(&d, &u), 0);
  ck_assert_int_eq(dec_fail(&d, CX_E_BAD_MEMBER), -1);
  ck_assert_int_eq(d.err, CX_E_BAD_MEMBER);
  ck_assert_uint_eq(d.err_off, 1);
}
END_TEST

/* dec_str of the raw bytes s[0..n) as a length-prefixed string after one
 * leading filler byte; returns the error (CX_OK if accepted). */
static cx_err str_err(const void *s, size_t n, str_class cls) {
  uint8_t buf[300];
  ck_assert_uint_lt(n, 120);
  buf[0] = 0x55;
  buf[1] = (uint8_t)n;
  memcpy(buf + 2, s, n);
  cx_dec d;
  uint8_t u;
  char out[128];
  dec_init(&d, buf, n + 2);
  ck_assert_int_eq(dec_u8(&d, &u), 0);
  int r = dec_str(&d, out, 127, cls);
  cx_err e = dec_finish(&d);
  if (r == 0) {
    ck_assert_int_eq(e, CX_OK);
    ck_assert_uint_eq(strlen(out), n);
    ck_assert_mem_eq(out, s, n);
  } else {
    ck_assert_uint_eq(d.err_off, 1); /* the string's start (its length prefix) */
  }
  /* the class checker agrees with the decoder */
  ck_assert_int_eq(text_valid(s, n, cls), e == CX_OK);
  return e;
}

#define STR_OK(lit, cls) ck_assert_int_eq(str_err(lit, sizeof(lit) - 1, cls), CX_OK)
#define STR_BAD(lit, cls) ck_assert_int_eq(str_err(lit, sizeof(lit) - 1, cls), CX_E_BAD_STRING)

START_TEST(test_codec_strings) {
  /* STR_IDENT: [a-z0-9_-], starting with a letter or digit, non-empty */
  STR_OK("abc", STR_IDENT);
  STR_OK("a-b_c-9", STR_IDENT);
  STR_OK("0abc", STR_IDENT);
  STR_OK("z", STR_IDENT);
  STR_BAD("", STR_IDENT);
  STR_BAD("Abc", STR_IDENT);
  STR_BAD("abC", STR_IDENT);
  STR_BAD("a b", STR_IDENT);
  STR_BAD(" ab", STR_IDENT);
  STR_BAD("-ab", STR_IDENT);
  STR_BAD("_ab", STR_IDENT);
  STR_BAD("a.b", STR_IDENT);
  STR_BAD("a/b", STR_IDENT);
  STR_BAD("a\0b", STR_IDENT);
  STR_BAD("caf\xc3\xa9", STR_IDENT);

  /* STR_ADDR: printable ASCII, no spaces */
  STR_OK("127.0.0.1:7000", STR_ADDR);
  STR_OK("[::1]:7000", STR_ADDR);
  STR_OK("", STR_ADDR);
  STR_BAD("host name:1", STR_ADDR);
  STR_BAD("host\t:1", STR_ADDR);
  STR_BAD("host\x7f", STR_ADDR);
  STR_BAD("h\xc3\xa9", STR_ADDR);

  /* STR_UTF8: valid UTF-8, no controls */
  STR_OK("", STR_UTF8);
  STR_OK("hello, world", STR_UTF8);
  STR_OK("caf\xc3\xa9", STR_UTF8);                 /* U+00E9 */
  STR_OK("\xc2\xa0", STR_UTF8);                    /* U+00A0, first after C1 */
  STR_OK("\xe2\x82\xac", STR_UTF8);                /* U+20AC */
  STR_OK("\xed\x9f\xbf", STR_UTF8);                /* U+D7FF */
  STR_OK("\xee\x80\x80", STR_UTF8);                /* U+E000 */
  STR_OK("\xf0\x9f\x98\x80", STR_UTF8);            /* U+1F600 */
  STR_OK("\xf4\x8f\xbf\xbf", STR_UTF8);            /* U+10FFFF */
  STR_BAD("\xc0\x80", STR_UTF8);                   /* overlong NUL */
  STR_BAD("\xc1\xbf", STR_UTF8);                   /* overlong */
  STR_BAD("\xe0\x80\xaf", STR_UTF8);               /* overlong '/' */
  STR_BAD("\xf0\x80\x80\xaf", STR_UTF8);           /* overlong */
  STR_BAD("\xed\xa0\x80", STR_UTF8);               /* U+D800 surrogate */
  STR_BAD("\xed\xbf\xbf", STR_UTF8);               /* U+DFFF surrogate */
  STR_BAD("\xf4\x90\x80\x80", STR_UTF8);           /* U+110000 */
  STR_BAD("\xf5\x80\x80\x80", STR_UTF8);
  STR_BAD("\xf8\x88\x80\x80\x80", STR_UTF8);       /* 5-byte form */
  STR_BAD("\xff", STR_UTF8);
  STR_BAD("\x80", STR_UTF8);                       /* lone continuation */
  STR_BAD("a\xc3", STR_UTF8);                      /* truncated sequence */
  STR_BAD("\xe2\x82", STR_UTF8);
  STR_BAD("\xc3\x28", STR_UTF8);                   /* bad continuation */
  STR_BAD("a\0b", STR_UTF8);
  STR_BAD("a\x01", STR_UTF8);
  STR_BAD("a\x1f", STR_UTF8);
  STR_BAD("a\nb", STR_UTF8);
  STR_BAD("a\tb", STR_UTF8);
  STR_BAD("a\rb", STR_UTF8);
  STR_BAD("\x7f", STR_UTF8);                       /* DEL */
  STR_BAD("\xc2\x80", STR_UTF8);                   /* U+0080, C1 control */
  STR_BAD("\xc2\x85", STR_UTF8);                   /* U+0085 NEL */
  STR_BAD("\xc2\x9f", STR_UTF8);                   /* U+009F */

  /* STR_TEXT: as UTF-8 plus tab, LF, CR */
  STR_OK("fn main() {\n\treturn 1;\r\n}\n", STR_TEXT);
  STR_OK("caf\xc3\xa9\n", STR_TEXT);
  STR_BAD("a\x01", STR_TEXT);
  STR_BAD("a\x0b", STR_TEXT);                      /* vertical tab */
  STR_BAD("a\x0c", STR_TEXT);                      /* form feed */
  STR_BAD("a\0", STR_TEXT);
  STR_BAD("\xc0\x80", STR_TEXT);
  STR_BAD("\xed\xa0\x80", STR_TEXT);
  STR_BAD("\x7f", STR_TEXT);

  /* str_valid: NUL-terminated, with a cap */
  ck_assert(str_valid("abcd", 4, STR_IDENT));
  ck_assert(!str_valid("abcde", 4, STR_IDENT));
  ck_assert(str_valid("", 0, STR_UTF8));
  ck_assert(!str_valid("", 4, STR_IDENT));
  ck_assert(!str_valid("a b", 10, STR_IDENT));
}
END_TEST

START_TEST(test_domain_set_codec) {
  cx_domain_set s, got;
  memset(&s, 0, sizeof s);
  ck_assert_int_eq(domain_set_add(&s, "medical"), CX_OK);
  ck_assert_int_eq(domain_set_add(&s, "credit"), CX_OK);
  ck_assert_int_eq(domain_set_add(&s, "tax"), CX_OK);
  ck_assert_uint_eq(s.n, 3);
  ck_assert_str_eq(s.d[0].name, "credit");
  ck_assert_str_eq(s.d[1].name, "medical");
  ck_assert_str_eq(s.d[2].name, "tax");
  cx_enc e;
  enc_init(&e);
  domain_set_enc(&e, &s);
  cx_dec d;
  dec_init(&d, e.buf, e.len);
  ck_assert_int_eq(domain_set_dec(&d, &got), 0);
  ck_assert_int_eq(dec_finish(&d), CX_OK);
  ck_assert_uint_eq(got.n, 3);
  for (int i = 0; i < 3; i++) ck_assert_str_eq(got.d[i].name, s.d[i].name);
  enc_free(&e);

  /* unsorted and duplicate elements: CX_E_UNSORTED at the offending element */
  const uint8_t unsorted[] = {0x02, 0x01, 'b', 0x01, 'a'};
  dec_init(&d, unsorted, sizeof unsorted);
  ck_assert_int_eq(domain_set_dec(&d, &got), -1);
  ck_assert_int_eq(d.err, CX_E_UNSORTED);
  ck_assert_uint_eq(d.err_off, 3);
  const uint8_t dup[] = {0x03, 0x01, 'a', 0x01, 'b', 0x01, 'b'};
  dec_init(&d, dup, sizeof dup);
  ck_assert_int_eq(domain_set_dec(&d, &got), -1);
  ck_assert_int_eq(d.err, CX_E_UNSORTED);
  ck_assert_uint_eq(d.err_off, 5);
  /* prefix order: "ab" < "abc" */
  const uint8_t prefix_bad[] = {0x02, 0x03, 'a', 'b', 'c', 0x02, 'a', 'b'};
  dec_init(&d, prefix_bad, sizeof prefix_bad);
  ck_assert_int_eq(domain_set_dec(&d, &got), -1);
  ck_assert_int_eq(d.err, CX_E_UNSORTED);
  const uint8_t prefix_ok[] = {0x02, 0x02, 'a', 'b', 0x03, 'a', 'b', 'c'};
  dec_init(&d, prefix_ok, sizeof prefix_ok);
  ck_assert_int_eq(domain_set_dec(&d, &got), 0);
  ck_assert_int_eq(dec_finish(&d), CX_OK);
  /* count over CX_DOMAINS_MAX, bad element, truncated */
  const uint8_t too_many[] = {CX_DOMAINS_MAX + 1};
  dec_init(&d, too_many, sizeof too_many);
  ck_assert_int_eq(domain_set_dec(&d, &got), -1);
  ck_assert_int_eq(d.err, CX_E_TOO_LONG);
  const uint8_t upper[] = {0x01, 0x01, 'A'};
  dec_init(&d, upper, sizeof upper);
  ck_assert_int_eq(domain_set_dec(&d, &got), -1);
  ck_assert_int_eq(d.err, CX_E_BAD_STRING);
  const uint8_t trunc[] = {0x02, 0x01, 'a'};
  dec_init(&d, trunc, sizeof trunc);
  ck_assert_int_eq(domain_set_dec(&d, &got), -1);
  ck_assert_int_eq(d.err, CX_E_TRUNCATED);
  uint8_t long_name[2 + CX_DOMAIN_MAX + 1];
  long_name[0] = 1;
  long_name[1] = CX_DOMAIN_MAX + 1;
  memset(long_name + 2, 'a', CX_DOMAIN_MAX + 1);
  dec_init(&d, long_name, sizeof long_name);
  ck_assert_int_eq(domain_set_dec(&d, &got), -1);
  ck_assert_int_eq(d.err, CX_E_TOO_LONG);
}
END_TEST

START_TEST(test_domain_set_parse) {
  cx_domain_set s;
  ck_assert_int_eq(domain_set_parse("tax,credit,medical", &s), CX_OK);
  ck_assert_uint_eq(s.n, 3);
  ck_assert_str_eq(s.d[0].name, "credit");
  ck_assert_str_eq(s.d[1].name, "medical");
  ck_assert_str_eq(s.d[2].name, "tax");
  ck_assert(domain_set_has(&s, "medical"));
  ck_assert(!domain_set_has(&s, "med"));
  ck_assert_int_eq(domain_set_parse("", &s), CX_OK);
  ck_assert_uint_eq(s.n, 0);
  ck_assert_int_eq(domain_set_parse(NULL, &s), CX_OK);
  ck_assert_uint_eq(s.n, 0);
  ck_assert_int_eq(domain_set_parse("a", &s), CX_OK);
  ck_assert_uint_eq(s.n, 1);
  ck_assert_int_eq(domain_set_parse("b,a,b", &s), CX_E_EXISTS);
  ck_assert_int_eq(domain_set_parse("a,a", &s), CX_E_EXISTS);
  ck_assert_int_eq(domain_set_parse("a,,b", &s), CX_E_BAD_STRING);
  ck_assert_int_eq(domain_set_parse("a,", &s), CX_E_BAD_STRING);
  ck_assert_int_eq(domain_set_parse(",a", &s), CX_E_BAD_STRING);
  ck_assert_int_eq(domain_set_parse("a,B", &s), CX_E_BAD_STRING);
  ck_assert_int_eq(domain_set_parse("a, b", &s), CX_E_BAD_STRING);
  ck_assert_int_eq(domain_set_parse("a,-b", &s), CX_E_BAD_STRING);
  ck_assert_int_eq(domain_set_parse("abcdefghijklmnop", &s), CX_OK); /* 16 = max */
  ck_assert_int_eq(domain_set_parse("abcdefghijklmnopq", &s), CX_E_TOO_LONG);
  ck_assert_int_eq(domain_set_parse("a,b,c,d,e,f,g,h", &s), CX_OK);
  ck_assert_uint_eq(s.n, CX_DOMAINS_MAX);
  ck_assert_int_eq(domain_set_parse("i,a,b,c,d,e,f,g,h", &s), CX_E_FULL);
  /* the parsed set always encodes in strictly ascending order */
  ck_assert_int_eq(domain_set_parse("h,g,f,e,d,c,b,a", &s), CX_OK);
  for (int i = 1; i < s.n; i++) ck_assert_int_lt(strcmp(s.d[i - 1].name, s.d[i].name), 0);
  cx_enc e;
  enc_init(&e);
  domain_set_enc(&e, &s);
  cx_domain_set got;
  cx_dec d;
  dec_init(&d, e.buf, e.len);
  ck_assert_int_eq(domain_set_dec(&d, &got), 0);
  ck_assert_int_eq(dec_finish(&d), CX_OK);
  enc_free(&e);
  /* domain_set_add on a full set */
  ck_assert_int_eq(domain_set_add(&s, "zz"), CX_E_FULL);
  ck_assert_int_eq(domain_set_add(&s, "a"), CX_E_EXISTS);
  ck_assert_int_eq(domain_set_add(&s, "Bad"), CX_E_BAD_STRING);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* merkle                                                                   */
/* ------------------------------------------------------------------------ */

/* Straight from the definition in merkle.h, hashing with plain SHA-256. */
static void ref_mth(const cx_hash *d, size_t n, uint8_t out[32]) {
  if (n == 0) {
    memset(out, 0, 32);
    return;
  }
  if (n == 1) {
    ref_tagged("custos/merkle-leaf", d->b, 32, out);
    return;
  }
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  uint8_t lr[64];
  ref_mth(d, k, lr);
  ref_mth(d + k, n - k, lr + 32);
  ref_tagged("custos/merkle-node", lr, 64, out);
}

/* Depth of leaf m in an n-leaf RFC 6962 tree. */
static size_t ref_depth(size_t n, size_t m) {
  if (n <= 1) return 0;
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return 1 + (m < k ? ref_depth(k, m) : ref_depth(n - k, m - k));
}

START_TEST(test_merkle) {
  cx_hash leaves[41];
  for (size_t i = 0; i < ARRAY_LEN(leaves); i++) rand_hash(&leaves[i]);
  for (size_t n = 0; n <= 40; n++) {
    cx_hash root;
    uint8_t want[32];
    merkle_root(leaves, n, &root);
    ref_mth(leaves, n, want);
    ck_assert_msg(memcmp(root.b, want, 32) == 0, "root of %zu leaves", n);
    if (n == 0) {
      ck_assert(hash_is_zero(&root));
      continue;
    }
    for (size_t i = 0; i < n; i++) {
      cx_hash path[MERKLE_MAX_DEPTH + 1];
      size_t len = merkle_path(leaves, n, i, path);
      ck_assert_uint_eq(len, ref_depth(n, i));
      ck_assert_msg(merkle_verify(&leaves[i], i, n, path, len, &root), "n=%zu i=%zu", n, i);
      /* wrong leaf */
      cx_hash bad = leaves[i];
      bad.b[tu_rand() % 32] ^= (uint8_t)(1u << (tu_rand() % 8));
      ck_assert(!merkle_verify(&bad, i, n, path, len, &root));
      if (n > 1) ck_assert(!merkle_verify(&leaves[(i + 1) % n], i, n, path, len, &root));
      /* wrong index */
      for (size_t j = 0; j < n; j++)
        if (j != i) ck_assert_msg(!merkle_verify(&leaves[i], j, n, path, len, &root), "n=%zu i=%zu j=%zu", n, i, j);
      ck_assert(!merkle_verify(&leaves[i], n, n, path, len, &root));
      ck_assert(!merkle_verify(&leaves[i], n + 5, n, path, len, &root));
      /* wrong path length */
      if (len > 0) ck_assert(!merkle_verify(&leaves[i], i, n, path, len - 1, &root));
      path[len] = leaves[0];
      ck_assert(!merkle_verify(&leaves[i], i, n, path, len + 1, &root));
      /* damaged path element */
      if (len > 0) {
        size_t k = tu_rand() % len;
        path[k].b[0] ^= 1;
        ck_assert(!merkle_verify(&leaves[i], i, n, path, len, &root));
        path[k].b[0] ^= 1;
      }
      /* wrong root */
      cx_hash r2 = root;
      r2.b[5] ^= 0x40;
      ck_assert(!merkle_verify(&leaves[i], i, n, path, len, &r2));
    }
  }
  /* single leaf: root is the leaf hash, empty path */
  cx_hash root1, path0[1];
  uint8_t lh[32];
  merkle_root(leaves, 1, &root1);
  ref_tagged("custos/merkle-leaf", leaves[0].b, 32, lh);
  ck_assert_mem_eq(root1.b, lh, 32);
  ck_assert(merkle_verify(&leaves[0], 0, 1, path0, 0, &root1));
  /* root depends on order */
  cx_hash ab[2] = {leaves[0], leaves[1]}, ba[2] = {leaves[1], leaves[0]}, r_ab, r_ba;
  merkle_root(ab, 2, &r_ab);
  merkle_root(ba, 2, &r_ba);
  ck_assert(!hash_eq(&r_ab, &r_ba));
  /* a leaf is not confused with an inner node (domain separation) */
  cx_hash inner;
  merkle_root(leaves, 2, &inner);
  cx_hash one_leaf_root;
  merkle_root(&inner, 1, &one_leaf_root);
  ck_assert(!hash_eq(&one_leaf_root, &inner));
}
END_TEST

START_TEST(test_merkle_path_too_long) {
  cx_hash leaves[4], path[MERKLE_MAX_DEPTH + 2], root;
  for (int i = 0; i < 4; i++) rand_hash(&leaves[i]);
  memset(path, 0, sizeof path);
  merkle_root(leaves, 4, &root);
  ck_assert(!merkle_verify(&leaves[0], 0, 4, path, MERKLE_MAX_DEPTH + 1, &root));
  ck_assert(!merkle_verify(&leaves[0], 0, SIZE_MAX, path, MERKLE_MAX_DEPTH, &root));
}
END_TEST

/* merkle_climb gives the root merkle_root gives, for every leaf of every
 * small tree along its own path, and refuses an index or a path length
 * the tree has no place for (what FROST_BATCH results rely on). */
START_TEST(test_merkle_climb) {
  cx_hash leaves[9], path[MERKLE_MAX_DEPTH + 1], root, got;
  for (size_t i = 0; i < ARRAY_LEN(leaves); i++) rand_hash(&leaves[i]);
  ck_assert(!merkle_climb(&leaves[0], 0, 0, path, 0, &got));
  for (size_t n = 1; n <= ARRAY_LEN(leaves); n++) {
    merkle_root(leaves, n, &root);
    for (size_t i = 0; i < n; i++) {
      size_t len = merkle_path(leaves, n, i, path);
      memset(got.b, 0, 32);
      ck_assert_msg(merkle_climb(&leaves[i], i, n, path, len, &got), "n=%zu i=%zu", n, i);
      ck_assert_msg(hash_eq(&got, &root), "n=%zu i=%zu", n, i);
      /* no place for the leaf: idx >= n */
      ck_assert(!merkle_climb(&leaves[i], n, n, path, len, &got));
      ck_assert(!merkle_climb(&leaves[i], n + 3, n, path, len, &got));
      /* a path one shorter or one longer than the leaf's depth */
      if (len > 0) ck_assert(!merkle_climb(&leaves[i], i, n, path, len - 1, &got));
      path[len] = leaves[0];
      ck_assert(!merkle_climb(&leaves[i], i, n, path, len + 1, &got));
      ck_assert(!merkle_climb(&leaves[i], i, n, path, MERKLE_MAX_DEPTH + 1, &got));
      /* a damaged path or leaf climbs, to another root */
      if (len > 0) {
        path[len - 1].b[31] ^= 0x10;
        ck_assert(merkle_climb(&leaves[i], i, n, path, len, &got));
        ck_assert(!hash_eq(&got, &root));
        path[len - 1].b[31] ^= 0x10;
        ck_assert(merkle_climb(&leaves[(i + 1) % n], i, n, path, len, &got));
        ck_assert(!hash_eq(&got, &root));
      }
    }
  }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* transactions                                                             */
/* ------------------------------------------------------------------------ */

enum {
  V_PROPOSE_ADD_BUREAU,
  V_PROPOSE_ADD_INSURER,
  V_PROPOSE_REMOVE,
  V_PROPOSE_REKEY,
  V_APPROVE,
  V_REGISTER,
  V_ATTEST_MINUS,
  V_ATTEST_PLUS,
  V_ROTATE,
  V_REVOKE,
  V_GRANT_SUBJECT,
  V_GRANT_BUREAU,
  V_CREVOKE,
  V_DEPLOY,
  V_DEPLOY_EMPTY,
  V_CAPPROVE,
  V_RETIRE,
  V_EV_PROPOSAL,
  V_EV_PREVOTE,
  V_EV_PRECOMMIT,
  V_CALL,
  V_CALL_NODEAL,
  V_RESULT_DONE,
  V_RESULT_ABORTED,
  V_ANCHOR,
  V_MEV,        /* mpc_evidence: an equivocation (two messages) */
  V_MEV_CLIENT, /* mpc_evidence: a client check (item, aux) */
  V_RESULT_FROST_DONE,    /* call_result, FROST proof, 3 blobs */
  V_RESULT_FROST_ABORTED, /* call_result, FROST proof, no blob */
  V_RESULT_BATCH_DONE,    /* call_result, FROST_BATCH proof (a leaf and its path), 3 blobs */
  V_RESULT_BATCH_ABORTED, /* call_result, FROST_BATCH proof, no blob */
  V_KEY_CREATE,
  V_KEY_DEAL,  /* 4 slots, the own one empty */
  V_KEY_VERDICT,
  V_KEY_ANSWER,
  V_KEY_ADVANCE,
  V_SIGN_REQUEST, /* custody signing (docs/keys.md §9) */
  V_SIGN_APPROVE,
  V_SIGN_RESULT,
  V_KEY_RESHARE, /* resharing (docs/keys.md §10) */
  V_COUNT
};

static const char k_source[] =
    "// scoring contract\n"
    "fn score(rec) {\n"
    "\tlet s = rec.credit * 3 + rec.tax;\n"
    "\treturn s; // caf\xc3\xa9 \xe2\x82\xac\r\n"
    "}\n";

static void fill_member(cx_member *m, int bureau_validator) {
  memset(m, 0, sizeof *m);
  tu_randbytes(m->key.b, 32);
  tu_randbytes(m->enc_key, 32);
  if (bureau_validator) {
    strcpy(m->name, "bureau-north_1");
    m->role = ROLE_BUREAU;
    m->validator = 1;
    strcpy(m->address, "10.0.0.7:7400");
    ck_assert_int_eq(domain_set_parse("tax,credit,medical", &m->domains), CX_OK);
  } else {
    strcpy(m->name, "insurer7");
    m->role = ROLE_INSURER;
    m->validator = 0;
  }
}

/* A random canonical field element (< 2^127 - 1), little-endian. */
static void rand_fe(uint8_t b[16]) {
  do {
    tu_randbytes(b, 16);
    b[15] &= 0x7f;
  } while (b[15] == 0x7f && b[0] == 0xff); /* keep clear of p (rarely hit) */
}

/* A call_result body: DONE with two inputs, public outputs at the int64
 * extremes and private ones (p - 1 among them), 3 signatures with blobs of
 * 2 private elements; or ABORTED with a code, a UTF-8 reason and empty blobs.
 * frost: the FROST proof (an epoch, one signature) with the same blobs, or
 * none when ABORTED. */
static void make_result(cx_tx *tx, int done, int frost) {
  cx_tx_call_result *r = &tx->u.result;
  tx->type = TX_CALL_RESULT;
  rand_hash(&r->call);
  ck_assert_int_eq(tx_result_alloc(tx, done ? 5 : 0, frost && !done ? 0 : 3), CX_OK);
  if (frost) {
    r->proof = CX_RESULT_PROOF_FROST;
    r->key_epoch = tu_rand() % 2 ? UINT32_MAX : (uint32_t)(tu_rand() % 300);
    tu_randbytes(r->frost.b, 64);
  }
  if (done) {
    r->status = CX_CALL_DONE;
    r->nin = 2;
    strcpy(r->in[0].domain, "health");
    strcpy(r->in[1].domain, "hrss");
    for (size_t i = 0; i < r->nin; i++) {
      rand_hash(&r->in[i].root);
      rand_hash(&r->in[i].leaf);
      r->in[i].count = rand_u64_any_width();
    }
    r->out[0].value = INT64_MIN;
    r->out[1].priv = 1;
    rand_fe(r->out[1].masked);
    r->out[2].value = -1;
    r->out[3].priv = 1;
    memset(r->out[3].masked, 0xff, 16); /* p - 1 = 2^127 - 2 */
    r->out[3].masked[0] = 0xfe;
    r->out[3].masked[15] = 0x7f;
    r->out[4].value = (int64_t)rand_u64_any_width();
    rand_hash(&r->transcript);
  } else {
    r->status = CX_CALL_ABORTED;
    r->code = tu_rand() % 2 ? INT32_MIN : (int32_t)(tu_rand() % 1000);
    strcpy(r->reason, "domain owner is not a validator \xe2\x80\x94 caf\xc3\xa9");
  }
  const uint8_t parties[3] = {0, 2, 63};
  for (size_t i = 0; i < r->nsig; i++) {
    r->sigs[i].party = parties[i];
    if (!frost) tu_randbytes(r->sigs[i].sig.b, 64);
    if (done) {
      uint8_t blob[2 * 16 + 48];
      tu_randbytes(blob, sizeof blob);
      ck_assert_int_eq(tx_result_set_blob(tx, i, blob, sizeof blob), CX_OK);
    }
  }
}

/* The FROST proof of r made a FROST_BATCH one: r is leaf idx of a batch of
 * n (2..64), with a path of random hashes as long as that leaf's in an
 * RFC 6962 tree (the codec does not climb it); now and then the largest
 * batch's last leaf, whose path is the longest (CX_RESULT_BATCH_DEPTH). */
static void make_batch_proof(cx_tx_call_result *r) {
  r->proof = CX_RESULT_PROOF_FROST_BATCH;
  r->batch_n = tu_rand() % 4 ? (uint8_t)(2 + tu_rand() % (CX_RESULT_BATCH_MAX - 1)) : CX_RESULT_BATCH_MAX;
  r->batch_idx = r->batch_n == CX_RESULT_BATCH_MAX ? CX_RESULT_BATCH_MAX - 1 : (uint8_t)(tu_rand() % r->batch_n);
  r->batch_npath = (uint8_t)ref_depth(r->batch_n, r->batch_idx);
  ck_assert_uint_le(r->batch_npath, CX_RESULT_BATCH_DEPTH);
  for (size_t i = 0; i < r->batch_npath; i++) rand_hash(&r->batch_path[i]);
}

/* An mpc_evidence body: an online equivocation (two messages of 150 and
 * 151 bytes), or a client check of 5 parties (6 messages, item 3, aux of
 * 40 + 5 x 32 bytes). The messages are random bytes: the codec does not
 * look into them. */
static void make_mev(cx_tx *tx, int client) {
  cx_tx_mpc_evidence *v = &tx->u.mev;
  tx->type = TX_MPC_EVIDENCE;
  rand_hash(&v->call);
  v->session = client ? CX_MPC_SESSION_ONLINE : (uint8_t)(1 + tu_rand() % 3);
  v->ev_type = client ? MPC_EV_CLIENT : MPC_EV_EQUIVOCATION;
  v->culprit = (uint8_t)(tu_rand() % CX_MAX_VALIDATORS);
  v->item = client ? 3 : 0;
  uint8_t bufs[6][200], aux[40 + 5 * 32];
  const uint8_t *msg[6];
  size_t len[6], n = client ? 6 : 2;
  for (size_t i = 0; i < n; i++) {
    tu_randbytes(bufs[i], sizeof bufs[i]);
    msg[i] = bufs[i];
    len[i] = 150 + i;
  }
  tu_randbytes(aux, sizeof aux);
  ck_assert_int_eq(tx_mpc_evidence_set(tx, msg, len, n, client ? aux : NULL, client ? sizeof aux : 0), CX_OK);
}

/* The consortium key bodies (docs/keys.md §3). The DKG payloads are random
 * bytes of the right sizes: core checks only their lengths. */
static void make_key_tx(cx_tx *tx, int v) {
  static const char *const names[] = {"results", "beacon", "a", "vault-0123456789"}; /* 16: the cap */
  const char *name = names[tu_rand() % 4];
  uint32_t epoch = tu_rand() % 3 ? (uint32_t)(tu_rand() % 1000) : UINT32_MAX;
  switch (v) {
    case V_KEY_CREATE:
      tx->type = TX_KEY_CREATE;
      strcpy(tx->u.kcreate.name, name);
      tx->u.kcreate.purpose = (uint8_t)(1 + tu_rand() % 3);
      tx->u.kcreate.t = (uint8_t)tu_rand();
      tx->u.kcreate.k = (uint8_t)tu_rand(); /* any k too: the rule judges it */
      break;
    case V_KEY_DEAL: {
      tx->type = TX_KEY_DEAL;
      strcpy(tx->u.kdeal.name, name);
      tx->u.kdeal.epoch = epoch;
      uint8_t r1[1 + 2 + 2 + 3 * 32 + 64], sl[CX_KEY_SEALED_LEN];
      tu_randbytes(r1, sizeof r1);
      ck_assert_int_eq(tx_key_deal_set(tx, r1, sizeof r1, 4), CX_OK);
      for (uint32_t j = 0; j < 4; j++) {
        if (j == 1) continue; /* the dealer's own slot */
        tu_randbytes(sl, sizeof sl);
        ck_assert_int_eq(tx_key_deal_set_slot(tx, j, sl), CX_OK);
      }
      break;
    }
    case V_KEY_VERDICT: {
      cx_tx_key_verdict *k = &tx->u.kverdict;
      tx->type = TX_KEY_VERDICT;
      strcpy(k->name, name);
      k->epoch = epoch;
      k->k = tu_rand() % 4 ? 3 : 0;
      const uint8_t lens[3] = {6, CX_KEY_COMPLAINT_MAX, 1};
      for (uint32_t i = 0; i < k->k; i++) {
        tu_randbytes(k->complaint[i], lens[i]);
        k->complaint_len[i] = lens[i];
      }
      break;
    }
    case V_KEY_ANSWER:
      tx->type = TX_KEY_ANSWER;
      strcpy(tx->u.kanswer.name, name);
      tx->u.kanswer.epoch = epoch;
      tu_randbytes(tx->u.kanswer.answer, CX_KEY_ANSWER_LEN);
      break;
    case V_KEY_RESHARE:
      tx->type = TX_KEY_RESHARE;
      strcpy(tx->u.kreshare.name, name);
      tx->u.kreshare.epoch = epoch;
      break;
    default:
      tx->type = TX_KEY_ADVANCE;
      strcpy(tx->u.kadvance.name, name);
      tx->u.kadvance.epoch = epoch;
      tx->u.kadvance.phase = (uint8_t)(CX_KEY_PHASE_DEALING + tu_rand() % 2);
  }
}

/* The custody signing bodies (docs/keys.md §9): a request for a key with
 * a message of 1 byte, the cap, or a length between; an approval; a
 * result with a random 64-byte signature (the codec does not check it). */
static void make_sign_tx(cx_tx *tx, int v) {
  static const char *const names[] = {"vault", "a", "escrow-012345678"}; /* 16: the cap */
  switch (v) {
    case V_SIGN_REQUEST: {
      uint8_t msg[CX_SIGN_MSG_MAX];
      size_t r = tu_rand() % 4, len = r == 0 ? 1 : r == 1 ? CX_SIGN_MSG_MAX : 1 + tu_rand() % 300;
      tx->type = TX_SIGN_REQUEST;
      strcpy(tx->u.sreq.key, names[tu_rand() % 3]);
      tu_randbytes(msg, len);
      ck_assert_int_eq(tx_sign_request_set(tx, msg, len), CX_OK);
      break;
    }
    case V_SIGN_APPROVE:
      tx->type = TX_SIGN_APPROVE;
      rand_hash(&tx->u.sapprove.request);
      break;
    default:
      tx->type = TX_SIGN_RESULT;
      rand_hash(&tx->u.sres.request);
      tu_randbytes(tx->u.sres.sig.b, 64);
  }
}

static void make_tx(cx_tx *tx, int v) {
  tx_init(tx);
  rand_hash(&tx->chain_id);
  tu_randbytes(tx->sender.b, 32);
  tx->nonce = rand_u64_any_width();
  tu_randbytes(tx->sig.b, 64);
  switch (v) {
    case V_PROPOSE_ADD_BUREAU:
    case V_PROPOSE_ADD_INSURER:
      tx->type = TX_MEMBER_PROPOSE;
      tx->u.propose.action = GOV_ADD;
      fill_member(&tx->u.propose.member, v == V_PROPOSE_ADD_BUREAU);
      tx->u.propose.expires = rand_u64_any_width();
      break;
    case V_PROPOSE_REMOVE:
      tx->type = TX_MEMBER_PROPOSE;
      tx->u.propose.action = GOV_REMOVE;
      strcpy(tx->u.propose.member.name, "auditor-2");
      tx->u.propose.expires = 1000;
      break;
    case V_PROPOSE_REKEY:
      tx->type = TX_MEMBER_PROPOSE;
      tx->u.propose.action = GOV_REKEY;
      strcpy(tx->u.propose.member.name, "regulator");
      tu_randbytes(tx->u.propose.member.key.b, 32);
      tu_randbytes(tx->u.propose.member.enc_key, 32);
      tx->u.propose.expires = UINT64_MAX;
      break;
    case V_APPROVE:
      tx->type = TX_MEMBER_APPROVE;
      rand_hash(&tx->u.approve.proposal);
      break;
    case V_REGISTER:
      tx->type = TX_ID_REGISTER;
      rand_hash(&tx->u.reg.did);
      break;
    case V_ATTEST_MINUS:
    case V_ATTEST_PLUS:
      tx->type = TX_ID_ATTEST;
      rand_hash(&tx->u.attest.did);
      tx->u.attest.level = v == V_ATTEST_MINUS ? LEVEL_EA5_MINUS : LEVEL_EA5_PLUS;
      break;
    case V_ROTATE:
      tx->type = TX_ID_ROTATE;
      rand_hash(&tx->u.rotate.did);
      tu_randbytes(tx->u.rotate.new_key.b, 32);
      break;
    case V_REVOKE:
      tx->type = TX_ID_REVOKE;
      rand_hash(&tx->u.revoke.did);
      break;
    case V_GRANT_SUBJECT:
    case V_GRANT_BUREAU: {
      cx_tx_consent_grant *g = &tx->u.grant;
      tx->type = TX_CONSENT_GRANT;
      rand_hash(&g->did);
      strcpy(g->insurer, "insurer7");
      ck_assert_int_eq(domain_set_parse("medical,credit", &g->domains), CX_OK);
      rand_hash(&g->contract);
      strcpy(g->purpose, "life insurance underwriting \xe2\x80\x94 policy #12");
      g->expires = rand_u64_any_width();
      g->quota = v == V_GRANT_BUREAU ? UINT32_MAX : 1 + (uint32_t)(tu_rand() % 1000);
      if (v == V_GRANT_BUREAU) rand_hash(&g->evidence);
      break;
    }
    case V_CREVOKE:
      tx->type = TX_CONSENT_REVOKE;
      rand_hash(&tx->u.crevoke.consent);
      break;
    case V_DEPLOY:
    case V_DEPLOY_EMPTY:
      tx->type = TX_CONTRACT_DEPLOY;
      strcpy(tx->u.deploy.name, v == V_DEPLOY ? "credit-score" : "noop");
      if (v == V_DEPLOY) ck_assert_int_eq(domain_set_parse("credit,tax", &tx->u.deploy.domains), CX_OK);
      if (v == V_DEPLOY)
        ck_assert_int_eq(tx_set_source(tx, k_source, sizeof k_source - 1), CX_OK);
      else
        ck_assert_int_eq(tx_set_source(tx, "", 0), CX_OK);
      /* The codec carries bytecode opaquely (the deploy rule compiles). */
      ck_assert_int_eq(tx_set_bytecode(tx, "CXC1\x05risk", v == V_DEPLOY ? 9 : 1), CX_OK);
      break;
    case V_CAPPROVE:
      tx->type = TX_CONTRACT_APPROVE;
      rand_hash(&tx->u.cref.contract);
      break;
    case V_RETIRE:
      tx->type = TX_CONTRACT_RETIRE;
      rand_hash(&tx->u.cref.contract);
      break;
    case V_EV_PROPOSAL:
    case V_EV_PREVOTE:
    case V_EV_PRECOMMIT: {
      cx_tx_evidence *ev = &tx->u.evidence;
      tx->type = TX_EVIDENCE;
      tu_randbytes(ev->accused.b, 32);
      ev->msg_type = (uint8_t)(CX_CS_PROPOSAL + (v - V_EV_PROPOSAL));
      ev->height = rand_u64_any_width();
      ev->round = (uint32_t)(rand_u64_any_width() % UINT32_MAX); /* <= UINT32_MAX - 1 */
      for (int i = 0; i < 2; i++) {
        cx_cs_signed *h = &ev->half[i];
        h->pol_round = CX_CS_NIL_ROUND;
        if (v == V_EV_PROPOSAL && tu_rand() % 3) h->pol_round = (uint32_t)(rand_u64_any_width() % UINT32_MAX);
        if (v != V_EV_PROPOSAL || tu_rand() % 2) rand_hash(&h->block_hash);
        tu_randbytes(h->sig.b, 64);
      }
      /* a nil vote against a vote for a block, now and then */
      if (v != V_EV_PROPOSAL && tu_rand() % 4 == 0) memset(ev->half[tu_rand() % 2].block_hash.b, 0, 32);
      if (!tx_evidence_order(ev)) { /* same content by chance: make them differ */
        rand_hash(&ev->half[1].block_hash);
        ck_assert_int_eq(tx_evidence_order(ev), 1);
      }
      break;
    }
    case V_CALL:
    case V_CALL_NODEAL: {
      cx_tx_call *c = &tx->u.call;
      tx->type = TX_CALL;
      rand_hash(&c->contract);
      rand_hash(&c->did);
      rand_hash(&c->consent);
      if (v == V_CALL_NODEAL) break;
      /* the extremes and small negatives exercise zigzag */
      int64_t args[6] = {0, -1, 1, INT64_MIN, INT64_MAX, (int64_t)rand_u64_any_width()};
      ck_assert_int_eq(tx_call_set_args(tx, args, 6), CX_OK);
      uint32_t np = 4;
      size_t count = 3, bl = tx_call_blob_len(count);
      uint8_t *blobs = malloc(np * bl);
      cx_hash cm[4];
      tu_randbytes(blobs, np * bl);
      for (uint32_t i = 0; i < np; i++) rand_hash(&cm[i]);
      ck_assert_int_eq(tx_call_set_dealing(tx, np, count, blobs, bl, cm), CX_OK);
      free(blobs);
      break;
    }
    case V_RESULT_DONE:
    case V_RESULT_ABORTED:
      make_result(tx, v == V_RESULT_DONE, 0);
      break;
    case V_RESULT_FROST_DONE:
    case V_RESULT_FROST_ABORTED:
      make_result(tx, v == V_RESULT_FROST_DONE, 1);
      break;
    case V_RESULT_BATCH_DONE:
    case V_RESULT_BATCH_ABORTED:
      make_result(tx, v == V_RESULT_BATCH_DONE, 1);
      make_batch_proof(&tx->u.result);
      break;
    case V_KEY_CREATE:
    case V_KEY_DEAL:
    case V_KEY_VERDICT:
    case V_KEY_ANSWER:
    case V_KEY_ADVANCE:
    case V_KEY_RESHARE:
      make_key_tx(tx, v);
      break;
    case V_SIGN_REQUEST:
    case V_SIGN_APPROVE:
    case V_SIGN_RESULT:
      make_sign_tx(tx, v);
      break;
    case V_ANCHOR:
      tx->type = TX_VAULT_ANCHOR;
      strcpy(tx->u.anchor.domain, tu_rand() % 2 ? "hrss" : "health-2025_abcd"); /* 16: the cap */
      rand_hash(&tx->u.anchor.root);
      tx->u.anchor.count = rand_u64_any_width();
      break;
    case V_MEV:
    case V_MEV_CLIENT:
      make_mev(tx, v == V_MEV_CLIENT);
      break;
    default:
      ck_abort_msg("bad variant %d", v);
  }
}

static void assert_domains_eq(const cx_domain_set *a, const cx_domain_set *b) {
  ck_assert_uint_eq(a->n, b->n);
  for (int i = 0; i < a->n; i++) ck_assert_str_eq(a->d[i].name, b->d[i].name);
}

static void assert_member_eq(const cx_member *a, const cx_member *b) {
  ck_assert_str_eq(a->name, b->name);
  ck_assert_uint_eq(a->role, b->role);
  ck_assert_mem_eq(a->key.b, b->key.b, 32);
  ck_assert_mem_eq(a->enc_key, b->enc_key, 32);
  ck_assert_uint_eq(a->validator, b->validator);
  ck_assert_str_eq(a->address, b->address);
  assert_domains_eq(&a->domains, &b->domains);
}

static void assert_tx_eq(const cx_tx *a, const cx_tx *b) {
  ck_assert_uint_eq(a->type, b->type);
  ck_assert_mem_eq(a->chain_id.b, b->chain_id.b, 32);
  ck_assert_mem_eq(a->sender.b, b->sender.b, 32);
  ck_assert(a->nonce == b->nonce);
  ck_assert_mem_eq(a->sig.b, b->sig.b, 64);
  switch (a->type) {
    case TX_MEMBER_PROPOSE:
      ck_assert_uint_eq(a->u.propose.action, b->u.propose.action);
      ck_assert(a->u.propose.expires == b->u.propose.expires);
      assert_member_eq(&a->u.propose.member, &b->u.propose.member);
      break;
    case TX_MEMBER_APPROVE:
      ck_assert(hash_eq(&a->u.approve.proposal, &b->u.approve.proposal));
      break;
    case TX_ID_REGISTER:
      ck_assert(hash_eq(&a->u.reg.did, &b->u.reg.did));
      break;
    case TX_ID_ATTEST:
      ck_assert(hash_eq(&a->u.attest.did, &b->u.attest.did));
      ck_assert_uint_eq(a->u.attest.level, b->u.attest.level);
      break;
    case TX_ID_ROTATE:
      ck_assert(hash_eq(&a->u.rotate.did, &b->u.rotate.did));
      ck_assert_mem_eq(a->u.rotate.new_key.b, b->u.rotate.new_key.b, 32);
      break;
    case TX_ID_REVOKE:
      ck_assert(hash_eq(&a->u.revoke.did, &b->u.revoke.did));
      break;
    case TX_CONSENT_GRANT: {
      const cx_tx_consent_grant *x = &a->u.grant, *y = &b->u.grant;
      ck_assert(hash_eq(&x->did, &y->did));
      ck_assert_str_eq(x->insurer, y->insurer);
      assert_domains_eq(&x->domains, &y->domains);
      ck_assert(hash_eq(&x->contract, &y->contract));
      ck_assert_str_eq(x->purpose, y->purpose);
      ck_assert(x->expires == y->expires);
      ck_assert_uint_eq(x->quota, y->quota);
      ck_assert(hash_eq(&x->evidence, &y->evidence));
      break;
    }
    case TX_CONSENT_REVOKE:
      ck_assert(hash_eq(&a->u.crevoke.consent, &b->u.crevoke.consent));
      break;
    case TX_CONTRACT_DEPLOY:
      ck_assert_str_eq(a->u.deploy.name, b->u.deploy.name);
      assert_domains_eq(&a->u.deploy.domains, &b->u.deploy.domains);
      ck_assert_uint_eq(a->u.deploy.source_len, b->u.deploy.source_len);
      if (a->u.deploy.source_len)
        ck_assert_mem_eq(a->u.deploy.source, b->u.deploy.source, a->u.deploy.source_len);
      ck_assert_uint_eq(a->u.deploy.bytecode_len, b->u.deploy.bytecode_len);
      ck_assert_mem_eq(a->u.deploy.bytecode, b->u.deploy.bytecode, a->u.deploy.bytecode_len);
      break;
    case TX_CONTRACT_APPROVE:
    case TX_CONTRACT_RETIRE:
      ck_assert(hash_eq(&a->u.cref.contract, &b->u.cref.contract));
      break;
    case TX_EVIDENCE: {
      const cx_tx_evidence *x = &a->u.evidence, *y = &b->u.evidence;
      ck_assert_mem_eq(x->accused.b, y->accused.b, 32);
      ck_assert_uint_eq(x->msg_type, y->msg_type);
      ck_assert(x->height == y->height);
      ck_assert_uint_eq(x->round, y->round);
      for (int i = 0; i < 2; i++) {
        ck_assert_uint_eq(x->half[i].pol_round, y->half[i].pol_round);
        ck_assert(hash_eq(&x->half[i].block_hash, &y->half[i].block_hash));
        ck_assert_mem_eq(x->half[i].sig.b, y->half[i].sig.b, 64);
      }
      break;
    }
    case TX_CALL: {
      const cx_tx_call *x = &a->u.call, *y = &b->u.call;
      ck_assert(hash_eq(&x->contract, &y->contract));
      ck_assert(hash_eq(&x->did, &y->did));
      ck_assert(hash_eq(&x->consent, &y->consent));
      ck_assert_uint_eq(x->nargs, y->nargs);
      for (size_t i = 0; i < x->nargs; i++) ck_assert(x->args[i] == y->args[i]);
      ck_assert_uint_eq(x->nparties, y->nparties);
      ck_assert_uint_eq(x->count, y->count);
      ck_assert_uint_eq(x->blob_len, y->blob_len);
      if (x->nparties) {
        ck_assert_mem_eq(x->blobs, y->blobs, x->nparties * x->blob_len);
        ck_assert_mem_eq(x->commit, y->commit, x->nparties * sizeof *x->commit);
      }
      break;
    }
    case TX_CALL_RESULT: {
      const cx_tx_call_result *x = &a->u.result, *y = &b->u.result;
      ck_assert(hash_eq(&x->call, &y->call));
      ck_assert_uint_eq(x->status, y->status);
      ck_assert_uint_eq(x->nin, y->nin);
      for (size_t i = 0; i < x->nin; i++) {
        ck_assert_str_eq(x->in[i].domain, y->in[i].domain);
        ck_assert(hash_eq(&x->in[i].root, &y->in[i].root));
        ck_assert(x->in[i].count == y->in[i].count);
        ck_assert(hash_eq(&x->in[i].leaf, &y->in[i].leaf));
      }
      ck_assert_uint_eq(x->nout, y->nout);
      for (size_t i = 0; i < x->nout; i++) {
        ck_assert_uint_eq(x->out[i].priv, y->out[i].priv);
        if (x->out[i].priv)
          ck_assert_mem_eq(x->out[i].masked, y->out[i].masked, 16);
        else
          ck_assert(x->out[i].value == y->out[i].value);
      }
      ck_assert(hash_eq(&x->transcript, &y->transcript));
      ck_assert_int_eq(x->code, y->code);
      ck_assert_str_eq(x->reason, y->reason);
      /* proof 0 (built in memory) is a QUORUM one */
      ck_assert_uint_eq(x->proof ? x->proof : CX_RESULT_PROOF_QUORUM, y->proof ? y->proof : CX_RESULT_PROOF_QUORUM);
      int frost = x->proof == CX_RESULT_PROOF_FROST || x->proof == CX_RESULT_PROOF_FROST_BATCH;
      if (frost) {
        ck_assert_uint_eq(x->key_epoch, y->key_epoch);
        ck_assert_mem_eq(x->frost.b, y->frost.b, 64);
      }
      if (x->proof == CX_RESULT_PROOF_FROST_BATCH) {
        ck_assert_uint_eq(x->batch_n, y->batch_n);
        ck_assert_uint_eq(x->batch_idx, y->batch_idx);
        ck_assert_uint_eq(x->batch_npath, y->batch_npath);
        for (size_t i = 0; i < x->batch_npath; i++) ck_assert(hash_eq(&x->batch_path[i], &y->batch_path[i]));
      }
      ck_assert_uint_eq(x->nsig, y->nsig);
      for (size_t i = 0; i < x->nsig; i++) {
        ck_assert_uint_eq(x->sigs[i].party, y->sigs[i].party);
        ck_assert_uint_eq(x->sigs[i].blob_len, y->sigs[i].blob_len);
        if (x->sigs[i].blob_len) ck_assert_mem_eq(x->sigs[i].blob, y->sigs[i].blob, x->sigs[i].blob_len);
        if (!frost) ck_assert_mem_eq(x->sigs[i].sig.b, y->sigs[i].sig.b, 64);
      }
      break;
    }
    case TX_KEY_CREATE:
      ck_assert_str_eq(a->u.kcreate.name, b->u.kcreate.name);
      ck_assert_uint_eq(a->u.kcreate.purpose, b->u.kcreate.purpose);
      ck_assert_uint_eq(a->u.kcreate.t, b->u.kcreate.t);
      ck_assert_uint_eq(a->u.kcreate.k, b->u.kcreate.k);
      break;
    case TX_SIGN_REQUEST:
      ck_assert_str_eq(a->u.sreq.key, b->u.sreq.key);
      ck_assert_uint_eq(a->u.sreq.msg_len, b->u.sreq.msg_len);
      ck_assert_mem_eq(a->u.sreq.msg, b->u.sreq.msg, a->u.sreq.msg_len);
      break;
    case TX_SIGN_APPROVE:
      ck_assert(hash_eq(&a->u.sapprove.request, &b->u.sapprove.request));
      break;
    case TX_SIGN_RESULT:
      ck_assert(hash_eq(&a->u.sres.request, &b->u.sres.request));
      ck_assert_mem_eq(a->u.sres.sig.b, b->u.sres.sig.b, 64);
      break;
    case TX_KEY_DEAL: {
      const cx_tx_key_deal *x = &a->u.kdeal, *y = &b->u.kdeal;
      ck_assert_str_eq(x->name, y->name);
      ck_assert_uint_eq(x->epoch, y->epoch);
      ck_assert_uint_eq(x->round1_len, y->round1_len);
      ck_assert_mem_eq(x->round1, y->round1, x->round1_len);
      ck_assert_uint_eq(x->n, y->n);
      for (uint32_t j = 0; j < x->n; j++) {
        ck_assert_uint_eq(x->sealed_present[j], y->sealed_present[j]);
        if (x->sealed_present[j])
          ck_assert_mem_eq(x->sealed + j * CX_KEY_SEALED_LEN, y->sealed + j * CX_KEY_SEALED_LEN, CX_KEY_SEALED_LEN);
      }
      break;
    }
    case TX_KEY_VERDICT: {
      const cx_tx_key_verdict *x = &a->u.kverdict, *y = &b->u.kverdict;
      ck_assert_str_eq(x->name, y->name);
      ck_assert_uint_eq(x->epoch, y->epoch);
      ck_assert_uint_eq(x->k, y->k);
      for (uint32_t i = 0; i < x->k; i++) {
        ck_assert_uint_eq(x->complaint_len[i], y->complaint_len[i]);
        ck_assert_mem_eq(x->complaint[i], y->complaint[i], x->complaint_len[i]);
      }
      break;
    }
    case TX_KEY_ANSWER:
      ck_assert_str_eq(a->u.kanswer.name, b->u.kanswer.name);
      ck_assert_uint_eq(a->u.kanswer.epoch, b->u.kanswer.epoch);
      ck_assert_mem_eq(a->u.kanswer.answer, b->u.kanswer.answer, CX_KEY_ANSWER_LEN);
      break;
    case TX_KEY_ADVANCE:
      ck_assert_str_eq(a->u.kadvance.name, b->u.kadvance.name);
      ck_assert_uint_eq(a->u.kadvance.epoch, b->u.kadvance.epoch);
      ck_assert_uint_eq(a->u.kadvance.phase, b->u.kadvance.phase);
      break;
    case TX_KEY_RESHARE:
      ck_assert_str_eq(a->u.kreshare.name, b->u.kreshare.name);
      ck_assert_uint_eq(a->u.kreshare.epoch, b->u.kreshare.epoch);
      break;
    case TX_VAULT_ANCHOR:
      ck_assert_str_eq(a->u.anchor.domain, b->u.anchor.domain);
      ck_assert(hash_eq(&a->u.anchor.root, &b->u.anchor.root));
      ck_assert(a->u.anchor.count == b->u.anchor.count);
      break;
    case TX_MPC_EVIDENCE: {
      const cx_tx_mpc_evidence *x = &a->u.mev, *y = &b->u.mev;
      ck_assert(hash_eq(&x->call, &y->call));
      ck_assert_uint_eq(x->session, y->session);
      ck_assert_uint_eq(x->ev_type, y->ev_type);
      ck_assert_uint_eq(x->culprit, y->culprit);
      ck_assert(x->item == y->item);
      ck_assert_uint_eq(x->count, y->count);
      for (size_t i = 0; i < x->count; i++) {
        ck_assert_uint_eq(x->len[i], y->len[i]);
        ck_assert_mem_eq(x->msg[i], y->msg[i], x->len[i]);
      }
      ck_assert_uint_eq(x->aux_len, y->aux_len);
      if (x->aux_len) ck_assert_mem_eq(x->aux, y->aux, x->aux_len);
      break;
    }
    default:
      ck_abort_msg("unknown type %u", a->type);
  }
}

START_TEST(test_tx_roundtrip) {
  for (int v = 0; v < V_COUNT; v++) {
    for (int rep = 0; rep < 5; rep++) {
      cx_tx tx, got;
      make_tx(&tx, v);
      uint8_t *buf, *buf2, *pre;
      size_t len, len2, prelen;
      ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
      ck_assert_uint_eq(buf[0], CX_TX_VERSION);
      ck_assert_uint_eq(buf[1], tx.type);
      ck_assert_mem_eq(buf + 2, tx.chain_id.b, 32);
      ck_assert_mem_eq(buf + 34, tx.sender.b, 32);
      ck_assert_mem_eq(buf + len - 64, tx.sig.b, 64);
      size_t off = 12345;
      ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_OK);
      assert_tx_eq(&tx, &got);
      ck_assert_int_eq(tx_encode(&got, 1, &buf2, &len2), CX_OK);
      ck_assert_uint_eq(len, len2);
      ck_assert_mem_eq(buf, buf2, len);
      /* the signed preimage is the encoding without the signature */
      ck_assert_int_eq(tx_encode(&tx, 0, &pre, &prelen), CX_OK);
      ck_assert_uint_eq(prelen + 64, len);
      ck_assert_mem_eq(pre, buf, prelen);
      cx_hash sh, want;
      ck_assert_int_eq(tx_sighash(&tx, &sh), CX_OK);
      hash_tagged(CX_TAG_TX_SIG, pre, prelen, &want);
      ck_assert(hash_eq(&sh, &want));
      /* txid covers the whole encoding */
      cx_hash id;
      uint8_t ref[32];
      tx_id_of_bytes(buf, len, &id);
      ref_tagged("custos/tx", buf, len, ref);
      ck_assert_mem_eq(id.b, ref, 32);
      free(buf);
      free(buf2);
      free(pre);
      tx_clear(&tx);
      tx_clear(&got);
      ck_assert_uint_eq(tx.type, 0);
    }
  }
}
END_TEST

/* The envelope and one body laid out by hand from the format in tx.h. */
START_TEST(test_tx_layout) {
  cx_tx tx;
  make_tx(&tx, V_ATTEST_PLUS);
  tx.nonce = 300;
  cx_enc e;
  enc_init(&e);
  enc_u8(&e, 1);
  enc_u8(&e, TX_ID_ATTEST);
  enc_fixed(&e, tx.chain_id.b, 32);
  enc_fixed(&e, tx.sender.b, 32);
  enc_varint(&e, 300);
  enc_fixed(&e, tx.u.attest.did.b, 32);
  enc_u8(&e, LEVEL_EA5_PLUS);
  enc_fixed(&e, tx.sig.b, 64);
  uint8_t *buf;
  size_t len;
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_uint_eq(len, e.len);
  ck_assert_mem_eq(buf, e.buf, len);
  ck_assert_uint_eq(len, 1 + 1 + 32 + 32 + 2 + 32 + 1 + 64);
  free(buf);
  enc_free(&e);

  /* consent grant with a quota over 32 bits: CX_E_TOO_LONG */
  cx_tx g;
  make_tx(&g, V_GRANT_SUBJECT);
  enc_init(&e);
  enc_u8(&e, 1);
  enc_u8(&e, TX_CONSENT_GRANT);
  enc_fixed(&e, g.chain_id.b, 32);
  enc_fixed(&e, g.sender.b, 32);
  enc_varint(&e, g.nonce);
  enc_fixed(&e, g.u.grant.did.b, 32);
  enc_str(&e, g.u.grant.insurer);
  domain_set_enc(&e, &g.u.grant.domains);
  enc_fixed(&e, g.u.grant.contract.b, 32);
  enc_str(&e, g.u.grant.purpose);
  enc_varint(&e, g.u.grant.expires);
  size_t quota_at = e.len;
  enc_varint(&e, (uint64_t)UINT32_MAX + 1);
  enc_fixed(&e, g.u.grant.evidence.b, 32);
  enc_fixed(&e, g.sig.b, 64);
  cx_tx out;
  size_t off;
  ck_assert_int_eq(tx_decode(e.buf, e.len, &out, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, quota_at);
  enc_free(&e);
}
END_TEST

START_TEST(test_tx_sign_verify) {
  cx_seckey *k = key_generate(), *other = key_generate();
  ck_assert_ptr_nonnull(k);
  for (int v = 0; v < V_COUNT; v++) {
    cx_tx tx;
    make_tx(&tx, v);
    ck_assert_int_eq(tx_sign(&tx, k), CX_OK);
    cx_pubkey pk;
    key_public(k, &pk);
    ck_assert_mem_eq(tx.sender.b, pk.b, 32);
    ck_assert_int_eq(tx_verify_sig(&tx), CX_OK);
    cx_hash sh;
    ck_assert_int_eq(tx_sighash(&tx, &sh), CX_OK);
    ck_assert(sig_verify(&pk, sh.b, 32, &tx.sig));

    /* survives the encoding */
    uint8_t *buf;
    size_t len;
    cx_tx got;
    ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
    ck_assert_int_eq(tx_decode(buf, len, &got, NULL), CX_OK);
    ck_assert_int_eq(tx_verify_sig(&got), CX_OK);
    tx_clear(&got);
    free(buf);

    /* any change to a signed field breaks it */
    tx.nonce ^= 1;
    ck_assert_int_eq(tx_verify_sig(&tx), CX_E_BAD_SIG);
    tx.nonce ^= 1;
    tx.chain_id.b[7] ^= 0x20;
    ck_assert_int_eq(tx_verify_sig(&tx), CX_E_BAD_SIG);
    tx.chain_id.b[7] ^= 0x20;
    tx.sig.b[40] ^= 1;
    ck_assert_int_eq(tx_verify_sig(&tx), CX_E_BAD_SIG);
    tx.sig.b[40] ^= 1;
    ck_assert_int_eq(tx_verify_sig(&tx), CX_OK);
    cx_pubkey saved = tx.sender;
    key_public(other, &tx.sender);
    ck_assert_int_eq(tx_verify_sig(&tx), CX_E_BAD_SIG);
    memset(tx.sender.b, 0xff, 32); /* not a valid key at all */
    ck_assert_int_eq(tx_verify_sig(&tx), CX_E_BAD_SIG);
    tx.sender = saved;
    ck_assert_int_eq(tx_verify_sig(&tx), CX_OK);
    tx_clear(&tx);
  }
  /* a body change */
  cx_tx tx;
  make_tx(&tx, V_GRANT_SUBJECT);
  ck_assert_int_eq(tx_sign(&tx, k), CX_OK);
  tx.u.grant.quota++;
  ck_assert_int_eq(tx_verify_sig(&tx), CX_E_BAD_SIG);
  tx_clear(&tx);
  make_tx(&tx, V_DEPLOY);
  ck_assert_int_eq(tx_sign(&tx, k), CX_OK);
  tx.u.deploy.source[3] ^= 1;
  ck_assert_int_eq(tx_verify_sig(&tx), CX_E_BAD_SIG);
  tx_clear(&tx);
  key_free(k);
  key_free(other);
}
END_TEST

/* Flip every byte of a signed encoding (several masks): the result either
 * fails to decode or decodes canonically and fails signature verification. */
static void flip_all(int variant) {
  cx_seckey *k = key_generate();
  cx_tx tx;
  make_tx(&tx, variant);
  ck_assert_int_eq(tx_sign(&tx, k), CX_OK);
  uint8_t *buf;
  size_t len;
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  const uint8_t masks[] = {0x01, 0x80, 0xff};
  size_t decoded = 0, total = 0;
  for (size_t i = 0; i < len; i++) {
    for (size_t m = 0; m < ARRAY_LEN(masks); m++) {
      buf[i] ^= masks[m];
      cx_tx got;
      size_t off = 0;
      cx_err e = tx_decode(buf, len, &got, &off);
      total++;
      if (e == CX_OK) {
        decoded++;
        uint8_t *re;
        size_t relen;
        ck_assert_int_eq(tx_encode(&got, 1, &re, &relen), CX_OK);
        ck_assert_uint_eq(relen, len);
        ck_assert_mem_eq(re, buf, len);
        free(re);
        ck_assert_msg(tx_verify_sig(&got) == CX_E_BAD_SIG,
                      "variant %d: flip 0x%02x at %zu still verifies", variant, masks[m], i);
        ck_assert_msg(tx_verify_sig_raw(&got, buf, len) == CX_E_BAD_SIG,
                      "variant %d: flip 0x%02x at %zu still verifies (raw)", variant, masks[m], i);
        tx_clear(&got);
      } else {
        ck_assert_uint_le(off, len);
      }
      buf[i] ^= masks[m];
    }
  }
  /* sanity: the fixed-size fields (keys, hashes, sig) decode when flipped */
  ck_assert_uint_gt(decoded, total / 4);
  cx_tx got;
  ck_assert_int_eq(tx_decode(buf, len, &got, NULL), CX_OK);
  ck_assert_int_eq(tx_verify_sig(&got), CX_OK);
  ck_assert_int_eq(tx_verify_sig_raw(&got, buf, len), CX_OK);
  tx_clear(&got);
  free(buf);
  tx_clear(&tx);
  key_free(k);
}

START_TEST(test_tx_flip_grant) { flip_all(V_GRANT_BUREAU); }
END_TEST
START_TEST(test_tx_flip_deploy) { flip_all(V_DEPLOY); }
END_TEST
START_TEST(test_tx_flip_propose) { flip_all(V_PROPOSE_ADD_BUREAU); }
END_TEST
START_TEST(test_tx_flip_attest) { flip_all(V_ATTEST_MINUS); }
END_TEST
START_TEST(test_tx_flip_call) {
  flip_all(V_CALL);
  flip_all(V_CALL_NODEAL);
}
END_TEST
START_TEST(test_tx_flip_result) {
  flip_all(V_RESULT_DONE);
  flip_all(V_RESULT_ABORTED);
  flip_all(V_RESULT_FROST_DONE);
  flip_all(V_RESULT_FROST_ABORTED);
  flip_all(V_RESULT_BATCH_DONE);
  flip_all(V_RESULT_BATCH_ABORTED);
}
END_TEST
START_TEST(test_tx_flip_keys) {
  for (int v = V_KEY_CREATE; v <= V_KEY_ADVANCE; v++) flip_all(v);
  flip_all(V_KEY_RESHARE);
}
END_TEST
START_TEST(test_tx_flip_sign) {
  for (int v = V_SIGN_REQUEST; v <= V_SIGN_RESULT; v++) flip_all(v);
}
END_TEST
START_TEST(test_tx_flip_anchor) { flip_all(V_ANCHOR); }
END_TEST
START_TEST(test_tx_flip_mpc_evidence) {
  flip_all(V_MEV);
  flip_all(V_MEV_CLIENT);
}
END_TEST
START_TEST(test_tx_flip_evidence) {
  flip_all(V_EV_PROPOSAL);
  flip_all(V_EV_PRECOMMIT);
}
END_TEST

START_TEST(test_tx_truncate_append) {
  for (int v = 0; v < V_COUNT; v++) {
    cx_tx tx, got;
    make_tx(&tx, v);
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
    for (size_t l = 0; l < len; l++) {
      size_t off = 99999;
      /* a copy of exactly l bytes so ASan sees any over-read */
      uint8_t *cut = malloc(l ? l : 1);
      memcpy(cut, buf, l);
      cx_err e = tx_decode(cut, l, &got, &off);
      ck_assert_msg(e == CX_E_TRUNCATED, "variant %d cut at %zu/%zu: %s", v, l, len, cx_err_name(e));
      ck_assert_uint_le(off, l);
      ck_assert_uint_eq(got.type, 0); /* cleared on error */
      free(cut);
    }
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    for (int extra = 0; extra < 256; extra += 85) {
      longer[len] = (uint8_t)extra;
      size_t off = 0;
      ck_assert_int_eq(tx_decode(longer, len + 1, &got, &off), CX_E_TRAILING);
      ck_assert_uint_eq(off, len);
    }
    free(longer);

    /* unknown version and type */
    uint8_t saved = buf[0];
    const uint8_t versions[] = {0, 2, 0x81, 0xff};
    for (size_t i = 0; i < ARRAY_LEN(versions); i++) {
      buf[0] = versions[i];
      size_t off = 99;
      ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_E_BAD_VERSION);
      ck_assert_uint_eq(off, 0);
    }
    buf[0] = saved;
    saved = buf[1];
    const uint8_t types[] = {0, 3, 9, 14, 19, 22, 29, 34, 39, 42, 100, 255};
    for (size_t i = 0; i < ARRAY_LEN(types); i++) {
      buf[1] = types[i];
      size_t off = 99;
      ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_E_BAD_ENUM);
      ck_assert_uint_eq(off, 1);
    }
    buf[1] = saved;
    ck_assert_int_eq(tx_decode(buf, len, &got, NULL), CX_OK);
    tx_clear(&got);
    free(buf);
    tx_clear(&tx);
  }
}
END_TEST

START_TEST(test_tx_body_errors) {
  cx_tx tx, got;
  uint8_t *buf;
  size_t len, off;

  /* bad enum values inside bodies */
  make_tx(&tx, V_ATTEST_MINUS);
  tx.nonce = 5; /* one-byte varint: body starts at 67 */
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_uint_eq(buf[67 + 32], LEVEL_EA5_MINUS);
  buf[67 + 32] = 3;
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_E_BAD_ENUM);
  ck_assert_uint_eq(off, 67 + 32);
  buf[67 + 32] = 0;
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_E_BAD_ENUM);
  free(buf);
  tx_clear(&tx);

  make_tx(&tx, V_PROPOSE_REMOVE);
  tx.nonce = 5;
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_uint_eq(buf[67], GOV_REMOVE);
  buf[67] = 4;
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_E_BAD_ENUM);
  ck_assert_uint_eq(off, 67);
  buf[67] = 0;
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_E_BAD_ENUM);
  free(buf);
  tx_clear(&tx);

  /* non-canonical nonce */
  make_tx(&tx, V_REGISTER);
  tx.nonce = 0;
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  uint8_t *nc = malloc(len + 1);
  memcpy(nc, buf, 66);
  nc[66] = 0x80;
  nc[67] = 0x00;
  memcpy(nc + 68, buf + 67, len - 67);
  ck_assert_int_eq(tx_decode(nc, len + 1, &got, &off), CX_E_NONCANONICAL);
  ck_assert_uint_eq(off, 66);
  free(nc);
  free(buf);
  tx_clear(&tx);

  /* a deploy whose source has a control character, or bad UTF-8 */
  make_tx(&tx, V_DEPLOY);
  ck_assert_int_eq(tx_set_source(&tx, "ok\x01", 3), CX_OK);
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_E_BAD_STRING);
  free(buf);
  ck_assert_int_eq(tx_set_source(&tx, "\xc0\x80", 2), CX_OK);
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_E_BAD_STRING);
  free(buf);
  /* a deploy with unsorted domains (written by hand into the struct) */
  ck_assert_int_eq(tx_set_source(&tx, "x", 1), CX_OK);
  strcpy(tx.u.deploy.domains.d[0].name, "tax");
  strcpy(tx.u.deploy.domains.d[1].name, "credit");
  tx.u.deploy.domains.n = 2;
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_E_UNSORTED);
  free(buf);
  /* a bad contract name */
  tx.u.deploy.domains.n = 0;
  strcpy(tx.u.deploy.name, "Credit");
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_E_BAD_STRING);
  free(buf);
  /* a deploy without bytecode */
  strcpy(tx.u.deploy.name, "credit");
  ck_assert_int_eq(tx_set_bytecode(&tx, "", 0), CX_OK);
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_E_LANG_BYTECODE);
  free(buf);
  tx_clear(&tx);

  /* a consent purpose with a newline is not STR_UTF8 */
  make_tx(&tx, V_GRANT_SUBJECT);
  strcpy(tx.u.grant.purpose, "two\nlines");
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_E_BAD_STRING);
  free(buf);
  tx_clear(&tx);

  /* source caps */
  make_tx(&tx, V_DEPLOY);
  size_t big = CX_SOURCE_MAX + 1;
  char *src = malloc(big);
  memset(src, 'a', big);
  ck_assert_int_eq(tx_set_source(&tx, src, big), CX_E_TOO_LONG);
  ck_assert_int_eq(tx_set_source(&tx, src, CX_SOURCE_MAX), CX_OK);
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_OK);
  ck_assert_uint_eq(got.u.deploy.source_len, CX_SOURCE_MAX);
  tx_clear(&got);
  free(buf);
  free(src);
  tx_clear(&tx);

  /* whole-transaction cap */
  uint8_t *huge = calloc(CX_TX_MAX_BYTES + 1, 1);
  off = 77;
  ck_assert_int_eq(tx_decode(huge, CX_TX_MAX_BYTES + 1, &got, &off), CX_E_TX_TOO_BIG);
  ck_assert_uint_eq(off, 0);
  free(huge);
}
END_TEST

/* An evidence transaction encoded by hand from the layout in tx.h, with raw
 * wire values (round and pol_round+1 of each half) so that values the
 * encoder cannot produce can be tried. */
static void ev_hand(cx_enc *e, const cx_tx *tx, uint8_t msg_type, uint64_t round,
                    const uint64_t pol_wire[2], size_t half_at[2]) {
  const cx_tx_evidence *ev = &tx->u.evidence;
  enc_init(e);
  enc_u8(e, 1);
  enc_u8(e, TX_EVIDENCE);
  enc_fixed(e, tx->chain_id.b, 32);
  enc_fixed(e, tx->sender.b, 32);
  enc_varint(e, tx->nonce);
  enc_fixed(e, ev->accused.b, 32);
  enc_u8(e, msg_type);
  enc_varint(e, ev->height);
  enc_varint(e, round);
  for (int i = 0; i < 2; i++) {
    if (half_at) half_at[i] = e->len;
    enc_varint(e, pol_wire[i]);
    enc_fixed(e, ev->half[i].block_hash.b, 32);
    enc_fixed(e, ev->half[i].sig.b, 64);
  }
  enc_fixed(e, tx->sig.b, 64);
  ck_assert_int_eq(enc_finish(e), CX_OK);
}

static uint64_t pol_wire_of(const cx_tx_evidence *ev, int i) {
  return ev->msg_type == CX_CS_PROPOSAL ? (uint32_t)(ev->half[i].pol_round + 1u) : 0;
}

/* Decodes e's bytes; returns the error, the offset in *off. */
static cx_err ev_decode(const cx_enc *e, size_t *off) {
  cx_tx got;
  *off = 99999;
  cx_err err = tx_decode(e->buf, e->len, &got, off);
  tx_clear(&got);
  return err;
}

START_TEST(test_tx_evidence) {
  cx_tx tx, got;
  cx_enc e;
  uint8_t *buf;
  size_t len, off, at[2];

  /* layout, for each message type */
  for (int v = V_EV_PROPOSAL; v <= V_EV_PRECOMMIT; v++) {
    make_tx(&tx, v);
    cx_tx_evidence *ev = &tx.u.evidence;
    uint64_t pw[2] = {pol_wire_of(ev, 0), pol_wire_of(ev, 1)};
    ev_hand(&e, &tx, ev->msg_type, ev->round, pw, at);
    ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
    ck_assert_uint_eq(len, e.len);
    ck_assert_mem_eq(buf, e.buf, len);
    ck_assert_int_eq(tx_evidence_check(ev), CX_OK);
    free(buf);
    enc_free(&e);
    tx_clear(&tx);
  }

  /* msg_type outside 1..3 */
  make_tx(&tx, V_EV_PREVOTE);
  tx.nonce = 5; /* body at 67: accused[32], type at 99 */
  const uint8_t bad_types[] = {0, 4, 0xff};
  for (size_t i = 0; i < ARRAY_LEN(bad_types); i++) {
    uint64_t pw[2] = {0, 0};
    ev_hand(&e, &tx, bad_types[i], tx.u.evidence.round, pw, at);
    ck_assert_int_eq(ev_decode(&e, &off), CX_E_BAD_ENUM);
    ck_assert_uint_eq(off, 99);
    enc_free(&e);
    cx_tx_evidence ev = tx.u.evidence;
    ev.msg_type = bad_types[i];
    ck_assert_int_eq(tx_evidence_check(&ev), CX_E_BAD_ENUM);
  }

  /* round UINT32_MAX is not a consensus round; UINT32_MAX - 1 is */
  tx.u.evidence.height = 1000; /* 2 bytes: round at 102 */
  {
    uint64_t pw[2] = {0, 0};
    ev_hand(&e, &tx, CX_CS_PREVOTE, UINT32_MAX, pw, at);
    ck_assert_int_eq(ev_decode(&e, &off), CX_E_TOO_LONG);
    ck_assert_uint_eq(off, 102);
    enc_free(&e);
    ev_hand(&e, &tx, CX_CS_PREVOTE, (uint64_t)UINT32_MAX + 1, pw, at);
    ck_assert_int_eq(ev_decode(&e, &off), CX_E_TOO_LONG);
    enc_free(&e);
    ev_hand(&e, &tx, CX_CS_PREVOTE, UINT32_MAX - 1, pw, at);
    ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_OK);
    ck_assert_uint_eq(got.u.evidence.round, UINT32_MAX - 1);
    tx_clear(&got);
    enc_free(&e);
    cx_tx_evidence ev = tx.u.evidence;
    ev.round = UINT32_MAX;
    ck_assert_int_eq(tx_evidence_check(&ev), CX_E_TOO_LONG);
  }

  /* votes carry pol_round+1 = 0, in either half */
  tx.u.evidence.round = 2;
  for (int i = 0; i < 2; i++) {
    uint64_t pw[2] = {0, 0};
    pw[i] = 1;
    ev_hand(&e, &tx, CX_CS_PREVOTE, 2, pw, at);
    ck_assert_int_eq(ev_decode(&e, &off), CX_E_NONCANONICAL);
    ck_assert_uint_eq(off, at[i]);
    ck_assert_uint_eq(at[0], 103);
    enc_free(&e);
  }
  /* a vote's pol_round is not part of it: any value encodes as 0 */
  tx.u.evidence.half[0].pol_round = 4;
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_uint_eq(buf[103], 0);
  ck_assert_int_eq(tx_decode(buf, len, &got, NULL), CX_OK);
  ck_assert_uint_eq(got.u.evidence.half[0].pol_round, CX_CS_NIL_ROUND);
  tx_clear(&got);
  free(buf);
  tx_clear(&tx);

  /* a proposal's pol_round+1 is at most UINT32_MAX */
  make_tx(&tx, V_EV_PROPOSAL);
  tx.nonce = 5;
  tx.u.evidence.height = 1000;
  tx.u.evidence.round = 2;
  {
    uint64_t pw[2] = {(uint64_t)UINT32_MAX + 1, 1};
    ev_hand(&e, &tx, CX_CS_PROPOSAL, 2, pw, at);
    ck_assert_int_eq(ev_decode(&e, &off), CX_E_TOO_LONG);
    ck_assert_uint_eq(off, 103);
    enc_free(&e);
  }

  /* same content: the same message signed twice proves nothing */
  cx_tx_evidence *ev = &tx.u.evidence;
  ev->half[0].pol_round = ev->half[1].pol_round = 5; /* 1-byte varint: half B at 200 */
  ev->half[1].block_hash = ev->half[0].block_hash;
  ck_assert_int_eq(tx_evidence_check(ev), CX_E_NOT_CONFLICTING);
  cx_tx_evidence copy = *ev;
  ck_assert_int_eq(tx_evidence_order(&copy), 0);
  ck_assert_mem_eq(&copy.half[0], &ev->half[0], sizeof copy.half[0]); /* unchanged */
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_E_NOT_CONFLICTING);
  ck_assert_uint_eq(off, 200);
  free(buf);
  /* ... also with the very same signature */
  ev->half[1].sig = ev->half[0].sig;
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_E_NOT_CONFLICTING);
  free(buf);
  /* the same block at two pol_rounds is a conflict */
  ev->half[0].pol_round = CX_CS_NIL_ROUND;
  ev->half[1].pol_round = 0;
  ck_assert_int_eq(tx_evidence_order(ev), 1);
  ck_assert_uint_eq(ev->half[0].pol_round, CX_CS_NIL_ROUND); /* wire 0 < 1 */
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_OK);
  assert_tx_eq(&tx, &got);
  tx_clear(&got);
  free(buf);

  /* order: swapped halves are refused where half A starts; tx_evidence_order
   * mends them */
  rand_hash(&ev->half[1].block_hash);
  ck_assert_int_eq(tx_evidence_order(ev), 1);
  cx_cs_signed t = ev->half[0];
  ev->half[0] = ev->half[1];
  ev->half[1] = t;
  ck_assert_int_eq(tx_evidence_check(ev), CX_E_NONCANONICAL);
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_E_NONCANONICAL);
  ck_assert_uint_eq(off, 103);
  free(buf);
  ck_assert_int_eq(tx_evidence_order(ev), 1);
  ck_assert(hash_eq(&ev->half[0].block_hash, &t.block_hash));
  ck_assert_int_eq(tx_evidence_check(ev), CX_OK);

  /* the order is of the encodings, not of the numbers: pol_round 255
   * (wire 256 = 80 02) before pol_round 129 (wire 130 = 82 01) */
  ev->half[0].block_hash = ev->half[1].block_hash;
  ev->half[0].pol_round = 129;
  ev->half[1].pol_round = 255;
  ck_assert_int_eq(tx_evidence_order(ev), 1);
  ck_assert_uint_eq(ev->half[0].pol_round, 255);
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_uint_eq(buf[103], 0x80);
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_OK);
  tx_clear(&got);
  free(buf);

  /* signatures do not decide the order: content A < B with sig A > sig B */
  ev->half[0].pol_round = ev->half[1].pol_round = 3;
  memset(ev->half[0].block_hash.b, 0x11, 32);
  memset(ev->half[1].block_hash.b, 0x22, 32);
  memset(ev->half[0].sig.b, 0xff, 64);
  memset(ev->half[1].sig.b, 0x00, 64);
  ck_assert_int_eq(tx_evidence_check(ev), CX_OK);
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_OK);
  tx_clear(&got);
  free(buf);
  /* a nil vote against a vote for a block: nil (zero) first */
  tx_clear(&tx);
  make_tx(&tx, V_EV_PRECOMMIT);
  ev = &tx.u.evidence;
  memset(ev->half[0].block_hash.b, 0x5a, 32);
  memset(ev->half[1].block_hash.b, 0, 32);
  ck_assert_int_eq(tx_evidence_order(ev), 1);
  ck_assert(hash_is_zero(&ev->half[0].block_hash));
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_OK);
  tx_clear(&got);
  free(buf);
  tx_clear(&tx);
}
END_TEST

/* member_enc then member_dec of m; returns the error and its offset. */
/* A TX_CALL laid out by hand (tx.h): args as raw varints, a dealing of np
 * blobs of bl bytes each claiming `count` values, then `extra` bytes. */
static void call_hand(cx_enc *e, const cx_tx *tx, uint64_t nargs, uint64_t np, uint64_t count, size_t bl,
                      size_t *dealing_at, size_t *blob_at) {
  enc_init(e);
  enc_u8(e, 1);
  enc_u8(e, TX_CALL);
  enc_fixed(e, tx->chain_id.b, 32);
  enc_fixed(e, tx->sender.b, 32);
  enc_varint(e, 5);
  enc_fixed(e, tx->u.call.contract.b, 32);
  enc_fixed(e, tx->u.call.did.b, 32);
  enc_fixed(e, tx->u.call.consent.b, 32);
  enc_varint(e, nargs);
  for (uint64_t i = 0; i < nargs && i < 8; i++) enc_varint(e, i);
  if (dealing_at) *dealing_at = e->len;
  enc_varint(e, np);
  enc_varint(e, count);
  if (blob_at) *blob_at = e->len;
  uint8_t *blob = calloc(1, bl ? bl : 1);
  for (uint64_t i = 0; i < np; i++) enc_bytes(e, blob, bl);
  free(blob);
  uint8_t cm[32] = {7};
  for (uint64_t i = 0; i < np; i++) enc_fixed(e, cm, 32);
  enc_fixed(e, tx->sig.b, 64);
}

START_TEST(test_tx_call_errors) {
  cx_tx tx, got;
  cx_enc e;
  size_t off, at, bat;
  make_tx(&tx, V_CALL_NODEAL);
  size_t bl3 = tx_call_blob_len(3);

  /* the hand layout decodes: 2 args, 2 parties of 3 values */
  call_hand(&e, &tx, 2, 2, 3, bl3, NULL, NULL);
  ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_OK);
  ck_assert_uint_eq(got.u.call.nargs, 2);
  ck_assert(got.u.call.args[1] == -1); /* zigzag 1 */
  ck_assert_uint_eq(got.u.call.nparties, 2);
  ck_assert_uint_eq(got.u.call.blob_len, bl3);
  tx_clear(&got);
  enc_free(&e);

  /* arg count over its cap, before anything is read or allocated */
  call_hand(&e, &tx, CX_CALL_MAX_ARGS + 1, 0, 0, 0, &at, NULL);
  ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_E_TOO_LONG);
  enc_free(&e);
  /* an arg count the input cannot hold */
  call_hand(&e, &tx, CX_CALL_MAX_ARGS, 0, 0, 0, NULL, NULL);
  ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_E_TRUNCATED);
  enc_free(&e);

  /* value count and party count over their caps */
  call_hand(&e, &tx, 0, 1, CX_CALL_MAX_VALUES + 1, 0, &at, NULL);
  ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, at + 1);
  enc_free(&e);
  call_hand(&e, &tx, 0, CX_MAX_VALIDATORS + 1, 1, 0, &at, NULL);
  ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, at);
  enc_free(&e);

  /* count 0 with parties, and parties 0 with a count */
  call_hand(&e, &tx, 0, 2, 0, 0, &at, NULL);
  ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_E_NONCANONICAL);
  ck_assert_uint_eq(off, at + 1);
  enc_free(&e);
  call_hand(&e, &tx, 0, 0, 3, 0, &at, NULL);
  ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_E_NONCANONICAL);
  enc_free(&e);

  /* blob one byte short, one byte long */
  call_hand(&e, &tx, 0, 2, 3, bl3 - 1, NULL, &bat);
  ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_E_TRUNCATED);
  ck_assert_uint_eq(off, bat);
  ck_assert_uint_eq(got.type, 0);
  enc_free(&e);
  call_hand(&e, &tx, 0, 2, 3, bl3 + 1, NULL, &bat);
  ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_E_TRAILING);
  ck_assert_uint_eq(off, bat);
  enc_free(&e);
  /* a blob for another count */
  call_hand(&e, &tx, 0, 2, 4, bl3, NULL, NULL);
  ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_E_TRUNCATED);
  enc_free(&e);

  /* a trailing byte */
  call_hand(&e, &tx, 1, 1, 1, tx_call_blob_len(1), NULL, NULL);
  enc_u8(&e, 0);
  ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_E_TRAILING);
  ck_assert_uint_eq(off, e.len - 1);
  enc_free(&e);

  /* setters refuse what the decoder would */
  cx_hash cm[2];
  uint8_t blob[1];
  ck_assert_int_eq(tx_call_set_dealing(&tx, 0, 3, blob, 0, cm), CX_E_INVALID_ARG);
  ck_assert_int_eq(tx_call_set_dealing(&tx, 2, 0, blob, 0, cm), CX_E_INVALID_ARG);
  ck_assert_int_eq(tx_call_set_dealing(&tx, CX_MAX_VALIDATORS + 1, 1, blob, 0, cm), CX_E_TOO_LONG);
  ck_assert_int_eq(tx_call_set_args(&tx, NULL, CX_CALL_MAX_ARGS + 1), CX_E_TOO_LONG);

  /* the blob length is mpc_client_blob_len's */
  const size_t counts[] = {0, 1, 2, 17, 4095, 4096, 4097};
  for (size_t i = 0; i < ARRAY_LEN(counts); i++)
    ck_assert_uint_eq(tx_call_blob_len(counts[i]), mpc_client_blob_len(counts[i]));
  ck_assert_uint_eq(CX_CALL_MAX_VALUES, MPC_CLIENT_MAX_VALUES);
  tx_clear(&tx);
}
END_TEST

/* context = H_CALL(chain_id || sender || u64be nonce || contract) */
START_TEST(test_tx_call_context) {
  cx_hash chain, contract;
  cx_pubkey sender;
  rand_hash(&chain);
  rand_hash(&contract);
  tu_randbytes(sender.b, 32);
  uint8_t msg[104], want[32], got[32], other[32];
  memcpy(msg, chain.b, 32);
  memcpy(msg + 32, sender.b, 32);
  const uint8_t be[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
  memcpy(msg + 64, be, 8);
  memcpy(msg + 72, contract.b, 32);
  ref_tagged("custos/call", msg, sizeof msg, want);
  tx_call_context(&chain, &sender, 0x0102030405060708ULL, &contract, got);
  ck_assert_mem_eq(got, want, 32);
  tx_call_context(&chain, &sender, 0x0102030405060709ULL, &contract, other);
  ck_assert_mem_ne(got, other, 32);
}
END_TEST

/* ---- mpc_evidence (docs/transactions.md §3.15) ---- */

/* A TX_MPC_EVIDENCE laid out by hand: nonce 5 (the body starts at 67),
 * call[32] = 0x11.., then the fields as given; count messages of mlen
 * bytes each, aux of alen bytes; then the signature. *at gets the offset of
 * each field: [0] session, [1] type, [2] culprit, [3] item, [4] count,
 * [5] first message, [6] aux. */
typedef struct {
  uint8_t session, type, culprit;
  uint64_t item, count;
  size_t nmsg, mlen, alen;
  uint64_t mlen_claimed; /* 0: mlen */
} mev_fields;

static void mev_hand(cx_enc *e, const mev_fields *f, size_t at[7]) {
  uint8_t call[32], sig[64] = {9};
  memset(call, 0x11, 32);
  enc_init(e);
  enc_u8(e, 1);
  enc_u8(e, TX_MPC_EVIDENCE);
  for (int i = 0; i < 2; i++) enc_fixed(e, call, 32); /* chain id, sender: any bytes */
  enc_varint(e, 5);
  enc_fixed(e, call, 32);
  at[0] = e->len;
  enc_u8(e, f->session);
  at[1] = e->len;
  enc_u8(e, f->type);
  at[2] = e->len;
  enc_u8(e, f->culprit);
  at[3] = e->len;
  enc_varint(e, f->item);
  at[4] = e->len;
  enc_varint(e, f->count);
  at[5] = e->len;
  uint8_t *m = calloc(1, f->mlen + 1);
  for (size_t i = 0; i < f->nmsg; i++) {
    if (f->mlen_claimed) {
      enc_varint(e, f->mlen_claimed);
      enc_fixed(e, m, f->mlen);
    } else {
      enc_bytes(e, m, f->mlen);
    }
  }
  free(m);
  at[6] = e->len;
  uint8_t *a = calloc(1, f->alen + 1);
  enc_bytes(e, a, f->alen);
  free(a);
  enc_fixed(e, sig, 64);
}

static cx_err mev_try(const mev_fields *f, size_t at[7], size_t *off) {
  cx_enc e;
  cx_tx got;
  mev_hand(&e, f, at);
  *off = 999999;
  cx_err r = tx_decode(e.buf, e.len, &got, off);
  if (r == CX_OK) {
    ck_assert_uint_eq(got.u.mev.count, f->count);
    tx_clear(&got);
  } else {
    ck_assert_uint_eq(got.type, 0);
  }
  enc_free(&e);
  return r;
}

START_TEST(test_tx_mpc_evidence_errors) {
  size_t at[7], off;
  const mev_fields ok = {.session = 3, .type = MPC_EV_EQUIVOCATION, .culprit = 2, .count = 2, .nmsg = 2,
                         .mlen = CX_MEV_MSG_MIN};
  mev_fields f = ok;
  ck_assert_int_eq(mev_try(&f, at, &off), CX_OK);
  /* the copied constants are the engine's */
  ck_assert_int_eq(CX_MEV_TYPE_MAX, MPC_EV_CLIENT);
  ck_assert_int_eq(CX_MEV_WRONG_SHARE, MPC_EV_WRONG_SHARE);
  ck_assert_int_eq(CX_MEV_CLIENT, MPC_EV_CLIENT);
  ck_assert_int_eq(CX_MEV_MSG_MIN, MPC_MSG_OVERHEAD);
  ck_assert_uint_ge(MPC_MAX_PAYLOAD + MPC_MSG_OVERHEAD, CX_MEV_MSG_MAX);
  /* session kind and type out of their enumerations */
  const uint8_t bad_session[] = {0, 4, 255};
  for (size_t i = 0; i < ARRAY_LEN(bad_session); i++) {
    f = ok;
    f.session = bad_session[i];
    ck_assert_int_eq(mev_try(&f, at, &off), CX_E_BAD_ENUM);
    ck_assert_uint_eq(off, at[0]);
  }
  const uint8_t bad_type[] = {MPC_EV_NONE, MPC_EV_CLIENT + 1, 255};
  for (size_t i = 0; i < ARRAY_LEN(bad_type); i++) {
    f = ok;
    f.type = bad_type[i];
    ck_assert_int_eq(mev_try(&f, at, &off), CX_E_BAD_ENUM);
    ck_assert_uint_eq(off, at[1]);
  }
  /* a culprit no party can be */
  f = ok;
  f.culprit = CX_MAX_VALIDATORS - 1;
  ck_assert_int_eq(mev_try(&f, at, &off), CX_OK);
  f.culprit = CX_MAX_VALIDATORS;
  ck_assert_int_eq(mev_try(&f, at, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, at[2]);
  /* an item only where the type has one */
  for (uint8_t t = 1; t <= MPC_EV_CLIENT; t++) {
    f = ok;
    f.type = t;
    f.item = 7;
    int has = t == MPC_EV_WRONG_SHARE || t == MPC_EV_CLIENT;
    ck_assert_int_eq(mev_try(&f, at, &off), has ? CX_OK : CX_E_NONCANONICAL);
    if (!has) ck_assert_uint_eq(off, at[3]);
  }
  /* count: 0 proves nothing; over its cap; more than the input holds */
  f = ok;
  f.count = f.nmsg = 0;
  ck_assert_int_eq(mev_try(&f, at, &off), CX_E_NONCANONICAL);
  ck_assert_uint_eq(off, at[4]);
  f = ok;
  f.count = CX_MEV_MAX_MSGS + 1;
  ck_assert_int_eq(mev_try(&f, at, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, at[4]);
  f = ok;
  f.count = CX_MEV_MAX_MSGS; /* two messages follow, not 128: refused before allocating */
  ck_assert_int_eq(mev_try(&f, at, &off), CX_E_TRUNCATED);
  ck_assert_uint_eq(off, at[5]);
  f = ok;
  f.count = CX_MEV_MAX_MSGS;
  f.nmsg = CX_MEV_MAX_MSGS;
  ck_assert_int_eq(mev_try(&f, at, &off), CX_OK);
  /* a message shorter than an engine header and signature */
  f = ok;
  f.mlen = CX_MEV_MSG_MIN - 1;
  ck_assert_int_eq(mev_try(&f, at, &off), CX_E_TRUNCATED);
  ck_assert_uint_eq(off, at[5]);
  /* a message length over its cap, refused before it is read */
  f = ok;
  f.mlen_claimed = CX_MEV_MSG_MAX + 1;
  ck_assert_int_eq(mev_try(&f, at, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, at[5]);
  /* aux: only for a client check, and within its cap */
  f = ok;
  f.alen = 1;
  ck_assert_int_eq(mev_try(&f, at, &off), CX_E_NONCANONICAL);
  ck_assert_uint_eq(off, at[6]);
  f.type = MPC_EV_CLIENT;
  f.alen = CX_MEV_AUX_MAX;
  ck_assert_int_eq(mev_try(&f, at, &off), CX_OK);
  f.alen = CX_MEV_AUX_MAX + 1;
  ck_assert_int_eq(mev_try(&f, at, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, at[6]);
  /* a trailing byte after the signature */
  cx_enc e;
  cx_tx got;
  mev_hand(&e, &ok, at);
  enc_u8(&e, 0);
  ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_E_TRAILING);
  ck_assert_uint_eq(off, e.len - 1);
  enc_free(&e);

  /* the setter refuses what the decoder would; a body over the
   * transaction cap cannot be encoded (such evidence cannot go on chain) */
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_MPC_EVIDENCE;
  tx.u.mev.session = CX_MPC_SESSION_PREP;
  tx.u.mev.ev_type = MPC_EV_AUDIT;
  static uint8_t big[9000];
  const uint8_t *msgs[CX_MEV_MAX_MSGS + 1];
  size_t lens[CX_MEV_MAX_MSGS + 1];
  for (size_t i = 0; i < ARRAY_LEN(msgs); i++) {
    msgs[i] = big;
    lens[i] = sizeof big;
  }
  ck_assert_int_eq(tx_mpc_evidence_set(&tx, msgs, lens, 0, NULL, 0), CX_E_INVALID_ARG);
  ck_assert_int_eq(tx_mpc_evidence_set(&tx, msgs, lens, CX_MEV_MAX_MSGS + 1, NULL, 0), CX_E_TOO_LONG);
  ck_assert_int_eq(tx_mpc_evidence_set(&tx, msgs, lens, 1, big, CX_MEV_AUX_MAX + 1), CX_E_TOO_LONG);
  lens[0] = CX_MEV_MSG_MAX + 1;
  uint8_t *huge = calloc(1, CX_MEV_MSG_MAX + 1);
  msgs[0] = huge;
  ck_assert_int_eq(tx_mpc_evidence_set(&tx, msgs, lens, 1, NULL, 0), CX_E_TOO_LONG);
  free(huge);
  msgs[0] = big;
  lens[0] = sizeof big;
  ck_assert_int_eq(tx_mpc_evidence_set(&tx, msgs, lens, 9, NULL, 0), CX_OK);
  uint8_t *buf;
  size_t len;
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK); /* 81,000 bytes of messages: fits */
  free(buf);
  ck_assert_int_eq(tx_mpc_evidence_set(&tx, msgs, lens, 10, NULL, 0), CX_OK); /* replaces */
  ck_assert_uint_eq(tx.u.mev.count, 10);
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_E_TX_TOO_BIG);
  tx_clear(&tx);
}
END_TEST

/* session id = H_MPC_CALL(what || chain_id || call), what per kind */
START_TEST(test_tx_call_session_id) {
  cx_hash chain, call;
  rand_hash(&chain);
  rand_hash(&call);
  static const char *const what[] = {"prep", "bits", "online"};
  uint8_t ids[3][32];
  for (int k = 0; k < 3; k++) {
    uint8_t msg[6 + 64], want[32];
    size_t wl = strlen(what[k]);
    memcpy(msg, what[k], wl);
    memcpy(msg + wl, chain.b, 32);
    memcpy(msg + wl + 32, call.b, 32);
    ref_tagged("custos/mpc-call", msg, wl + 64, want);
    tx_call_session_id(&chain, &call, (uint8_t)(CX_MPC_SESSION_PREP + k), ids[k]);
    ck_assert_mem_eq(ids[k], want, 32);
    for (int j = 0; j < k; j++) ck_assert_mem_ne(ids[j], ids[k], 32);
  }
  call.b[31] ^= 1;
  uint8_t other[32];
  tx_call_session_id(&chain, &call, CX_MPC_SESSION_ONLINE, other);
  ck_assert_mem_ne(other, ids[2], 32);
}
END_TEST

/* ---- vault_anchor (docs/transactions.md §3.14) ---- */

/* A TX_VAULT_ANCHOR laid out by hand: nonce 5, so the body starts at 67;
 * domain, root[32] = 0xab.., count; then the signature. */
static cx_err anchor_hand(const void *domain, size_t dl, int varint_bytes, size_t cut, size_t *off,
                          cx_tx *got) {
  uint8_t root[32], sig[64] = {3};
  cx_enc e;
  memset(root, 0xab, 32);
  enc_init(&e);
  enc_u8(&e, 1);
  enc_u8(&e, TX_VAULT_ANCHOR);
  enc_fixed(&e, sig, 32);
  enc_fixed(&e, sig, 32);
  enc_varint(&e, 5);
  enc_bytes(&e, domain, dl); /* as enc_str, but any bytes */
  enc_fixed(&e, root, 32);
  if (varint_bytes == 1) {
    enc_varint(&e, 1000);
  } else { /* 1000 as a non-minimal varint: 0xe8 0x87 0x00 */
    const uint8_t nm[3] = {0xe8, 0x87, 0x00};
    enc_fixed(&e, nm, 3);
  }
  enc_fixed(&e, sig, 64);
  ck_assert_int_eq(enc_finish(&e), CX_OK);
  cx_err err = tx_decode(e.buf, e.len - cut, got, off);
  enc_free(&e);
  return err;
}

START_TEST(test_tx_anchor_layout) {
  cx_tx got;
  size_t off = 0;
  ck_assert_int_eq(anchor_hand("hrss", 4, 1, 0, &off, &got), CX_OK);
  ck_assert_uint_eq(got.type, TX_VAULT_ANCHOR);
  ck_assert_str_eq(got.u.anchor.domain, "hrss");
  ck_assert_uint_eq(got.u.anchor.root.b[31], 0xab);
  ck_assert(got.u.anchor.count == 1000);
  /* re-encodes to the same bytes */
  uint8_t *buf;
  size_t len;
  ck_assert_int_eq(tx_encode(&got, 1, &buf, &len), CX_OK);
  ck_assert_uint_eq(len, 67 + 5 + 32 + 2 + 64);
  ck_assert_mem_eq(buf + 67, "\x04hrss", 5);
  free(buf);
  tx_clear(&got);
  /* the domain is an identifier of at most 16 bytes */
  ck_assert_int_eq(anchor_hand("Hrss", 4, 1, 0, &off, &got), CX_E_BAD_STRING);
  ck_assert_uint_eq(off, 67);
  ck_assert_int_eq(anchor_hand("hr/ss", 5, 1, 0, &off, &got), CX_E_BAD_STRING);
  ck_assert_int_eq(anchor_hand("", 0, 1, 0, &off, &got), CX_E_BAD_STRING);
  ck_assert_int_eq(anchor_hand("abcdefghijklmnopq", 17, 1, 0, &off, &got), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, 67);
  ck_assert_int_eq(anchor_hand("abcdefghijklmnop", 16, 1, 0, &off, &got), CX_OK);
  tx_clear(&got);
  /* one encoding per count */
  ck_assert_int_eq(anchor_hand("hrss", 4, 3, 0, &off, &got), CX_E_NONCANONICAL);
  ck_assert_uint_eq(off, 67 + 5 + 32);
  /* the root cut short: the signature is read as root, then nothing is left */
  ck_assert_int_eq(anchor_hand("hrss", 4, 1, 64 + 2 + 1, &off, &got), CX_E_TRUNCATED);
  ck_assert_uint_eq(got.type, 0);
}
END_TEST

/* ---- call_result (docs/calls.md §4) ---- */

/* A TX_CALL_RESULT laid out by hand (tx.h), piece by piece, so that each
 * field can be made wrong on its own. Nonce 5: the body starts at 67. */
#define RH_BODY 67
static void rh_head(cx_enc *e, uint8_t status) {
  uint8_t z[32] = {0};
  enc_init(e);
  enc_u8(e, 1);
  enc_u8(e, TX_CALL_RESULT);
  enc_fixed(e, z, 32);
  enc_fixed(e, z, 32);
  enc_varint(e, 5);
  z[0] = 0xca;
  enc_fixed(e, z, 32);
  enc_u8(e, status);
}

static void rh_input(cx_enc *e, const char *domain) {
  uint8_t h[32] = {1};
  enc_str(e, domain);
  enc_fixed(e, h, 32);
  enc_varint(e, 3);
  enc_fixed(e, h, 32);
}

static void rh_pub(cx_enc *e, int64_t v) {
  enc_u8(e, 0);
  enc_varint(e, zigzag_enc(v));
}

static void rh_priv(cx_enc *e, const uint8_t fe16[16]) {
  enc_u8(e, 1);
  enc_fixed(e, fe16, 16);
}

/* DONE fields with inputs (health, hrss) and outputs (7, masked), then the
 * transcript. */
static void rh_done_fields(cx_enc *e, const uint8_t masked[16]) {
  uint8_t t[32] = {9};
  enc_varint(e, 2);
  rh_input(e, "health");
  rh_input(e, "hrss");
  enc_varint(e, 2);
  rh_pub(e, 7);
  rh_priv(e, masked);
  enc_fixed(e, t, 32);
}

/* The QUORUM proof: n signatures of parties[i] with blobs of bl zero bytes,
 * then the tx sig. */
static void rh_sigs(cx_enc *e, const uint8_t *parties, size_t n, size_t bl) {
  uint8_t sig[64] = {5};
  uint8_t *blob = calloc(1, bl ? bl : 1);
  enc_u8(e, CX_RESULT_PROOF_QUORUM);
  enc_varint(e, n);
  for (size_t i = 0; i < n; i++) {
    enc_u8(e, parties[i]);
    enc_bytes(e, blob, bl);
    enc_fixed(e, sig, 64);
  }
  free(blob);
  enc_fixed(e, sig, 64);
}

static const uint8_t RH_P3[3] = {0, 1, 2};
static const uint8_t RH_FE1[16] = {1};

static cx_err rh_decode(cx_enc *e, size_t *off) {
  cx_tx got;
  ck_assert_int_eq(enc_finish(e), CX_OK);
  cx_err err = tx_decode(e->buf, e->len, &got, off);
  if (err == CX_OK) tx_clear(&got);
  else ck_assert_uint_eq(got.type, 0);
  enc_free(e);
  return err;
}

/* Every refusal of the decoder, each at its offset. */
START_TEST(test_tx_result_errors) {
  cx_enc e;
  size_t off, at;
  cx_tx got;

  /* the hand layouts decode */
  rh_head(&e, CX_CALL_DONE);
  rh_done_fields(&e, RH_FE1);
  rh_sigs(&e, RH_P3, 3, 80);
  ck_assert_int_eq(enc_finish(&e), CX_OK);
  ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_OK);
  ck_assert_uint_eq(got.u.result.nin, 2);
  ck_assert_str_eq(got.u.result.in[1].domain, "hrss");
  ck_assert_uint_eq(got.u.result.nout, 2);
  ck_assert(got.u.result.out[0].value == 7);
  ck_assert_uint_eq(got.u.result.out[1].priv, 1);
  ck_assert_uint_eq(got.u.result.nsig, 3);
  ck_assert_uint_eq(got.u.result.sigs[2].blob_len, 80);
  tx_clear(&got);
  enc_free(&e);
  rh_head(&e, CX_CALL_ABORTED);
  enc_varint(&e, zigzag_enc(INT32_MIN));
  enc_str(&e, "timeout");
  rh_sigs(&e, RH_P3, 1, 0);
  ck_assert_int_eq(enc_finish(&e), CX_OK);
  ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_OK);
  ck_assert_int_eq(got.u.result.code, INT32_MIN);
  ck_assert_str_eq(got.u.result.reason, "timeout");
  tx_clear(&got);
  enc_free(&e);

  /* status: only DONE (2) and ABORTED (3) */
  const uint8_t statuses[] = {0, 1, 4, 0xff};
  for (size_t i = 0; i < ARRAY_LEN(statuses); i++) {
    rh_head(&e, statuses[i]);
    rh_done_fields(&e, RH_FE1);
    rh_sigs(&e, RH_P3, 3, 0);
    ck_assert_int_eq(rh_decode(&e, &off), CX_E_BAD_ENUM);
    ck_assert_uint_eq(off, RH_BODY + 32);
  }

  /* inputs: over the cap, unsorted, repeated, not an identifier */
  rh_head(&e, CX_CALL_DONE);
  enc_varint(&e, CX_DOMAINS_MAX + 1);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, RH_BODY + 33);
  const char *const pairs[][2] = {{"hrss", "health"}, {"hrss", "hrss"}};
  for (size_t i = 0; i < ARRAY_LEN(pairs); i++) {
    rh_head(&e, CX_CALL_DONE);
    enc_varint(&e, 2);
    rh_input(&e, pairs[i][0]);
    at = e.len;
    rh_input(&e, pairs[i][1]);
    ck_assert_int_eq(rh_decode(&e, &off), CX_E_UNSORTED);
    ck_assert_uint_eq(off, at);
  }
  rh_head(&e, CX_CALL_DONE);
  enc_varint(&e, 1);
  rh_input(&e, "Health");
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_BAD_STRING);

  /* outputs: over the cap before anything is allocated, more than the
   * input holds, a bad private flag */
  rh_head(&e, CX_CALL_DONE);
  enc_varint(&e, 0);
  at = e.len;
  enc_varint(&e, CX_RESULT_MAX_OUTPUTS + 1);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, at);
  rh_head(&e, CX_CALL_DONE);
  enc_varint(&e, 0);
  enc_varint(&e, CX_RESULT_MAX_OUTPUTS);
  rh_pub(&e, 1);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_TRUNCATED);
  rh_head(&e, CX_CALL_DONE);
  enc_varint(&e, 0);
  enc_varint(&e, 1);
  at = e.len;
  enc_u8(&e, 2);
  enc_varint(&e, 0);
  uint8_t t32[32] = {0};
  enc_fixed(&e, t32, 32);
  rh_sigs(&e, RH_P3, 3, 0);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_BAD_ENUM);
  ck_assert_uint_eq(off, at);

  /* the zigzag code of an ABORTED fits an int32; the reason is UTF-8 text
   * of at most 200 bytes */
  rh_head(&e, CX_CALL_ABORTED);
  at = e.len;
  enc_varint(&e, (uint64_t)UINT32_MAX + 1);
  enc_str(&e, "");
  rh_sigs(&e, RH_P3, 1, 0);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, at);
  char reason[CX_RESULT_REASON_MAX + 2];
  memset(reason, 'a', sizeof reason - 1);
  reason[sizeof reason - 1] = 0;
  rh_head(&e, CX_CALL_ABORTED);
  enc_varint(&e, 4);
  enc_str(&e, reason); /* 201 bytes */
  rh_sigs(&e, RH_P3, 1, 0);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_TOO_LONG);
  reason[CX_RESULT_REASON_MAX] = 0; /* 200: fits */
  rh_head(&e, CX_CALL_ABORTED);
  enc_varint(&e, 4);
  enc_str(&e, reason);
  rh_sigs(&e, RH_P3, 1, 0);
  ck_assert_int_eq(rh_decode(&e, &off), CX_OK);
  rh_head(&e, CX_CALL_ABORTED);
  enc_varint(&e, 4);
  enc_str(&e, "bell\x07");
  rh_sigs(&e, RH_P3, 1, 0);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_BAD_STRING);

  /* signatures: none, over the cap, parties not strictly increasing, a
   * party index no call has, a blob over its cap */
  const struct {
    uint8_t parties[3];
    size_t n;
    size_t bad; /* index of the refused entry */
    cx_err want;
  } sigcases[] = {
      {{1, 1, 2}, 3, 1, CX_E_UNSORTED},
      {{2, 1, 3}, 3, 1, CX_E_UNSORTED},
      {{0, 3, 2}, 3, 2, CX_E_UNSORTED},
      {{0, CX_MAX_VALIDATORS, 0}, 2, 1, CX_E_TOO_LONG},
  };
  for (size_t i = 0; i < ARRAY_LEN(sigcases); i++) {
    rh_head(&e, CX_CALL_DONE);
    rh_done_fields(&e, RH_FE1);
    at = e.len + 2 + sigcases[i].bad * (1 + 1 + 64); /* proof, count, empty blobs */
    rh_sigs(&e, sigcases[i].parties, sigcases[i].n, 0);
    ck_assert_int_eq(rh_decode(&e, &off), sigcases[i].want);
    ck_assert_uint_eq(off, at);
  }
  rh_head(&e, CX_CALL_DONE);
  rh_done_fields(&e, RH_FE1);
  at = e.len + 1;
  rh_sigs(&e, RH_P3, 0, 0);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_NONCANONICAL);
  ck_assert_uint_eq(off, at);
  rh_head(&e, CX_CALL_DONE);
  rh_done_fields(&e, RH_FE1);
  enc_u8(&e, CX_RESULT_PROOF_QUORUM);
  at = e.len;
  enc_varint(&e, CX_MAX_VALIDATORS + 1);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, at);
  rh_head(&e, CX_CALL_DONE);
  rh_done_fields(&e, RH_FE1);
  enc_u8(&e, CX_RESULT_PROOF_QUORUM);
  enc_varint(&e, CX_MAX_VALIDATORS); /* more signatures than the input holds */
  enc_u8(&e, 0);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_TRUNCATED);
  rh_head(&e, CX_CALL_DONE);
  rh_done_fields(&e, RH_FE1);
  at = e.len + 3;
  rh_sigs(&e, RH_P3, 1, CX_RESULT_BLOB_MAX + 1);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, at);
  rh_head(&e, CX_CALL_DONE);
  rh_done_fields(&e, RH_FE1);
  rh_sigs(&e, RH_P3, 1, CX_RESULT_BLOB_MAX); /* at the cap: fits */
  ck_assert_int_eq(rh_decode(&e, &off), CX_OK);

  /* a trailing byte */
  rh_head(&e, CX_CALL_DONE);
  rh_done_fields(&e, RH_FE1);
  rh_sigs(&e, RH_P3, 3, 80);
  enc_u8(&e, 0);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_TRAILING);

  /* the setters refuse what the decoder would */
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_CALL_RESULT;
  ck_assert_int_eq(tx_result_alloc(&tx, CX_RESULT_MAX_OUTPUTS + 1, 1), CX_E_TOO_LONG);
  ck_assert_int_eq(tx_result_alloc(&tx, 1, CX_MAX_VALIDATORS + 1), CX_E_TOO_LONG);
  ck_assert_int_eq(tx_result_alloc(&tx, 2, 2), CX_OK);
  uint8_t blob[4] = {1, 2, 3, 4};
  ck_assert_int_eq(tx_result_set_blob(&tx, 2, blob, 4), CX_E_INVALID_ARG);
  ck_assert_int_eq(tx_result_set_blob(&tx, 1, blob, CX_RESULT_BLOB_MAX + 1), CX_E_TOO_LONG);
  ck_assert_int_eq(tx_result_set_blob(&tx, 1, blob, 4), CX_OK);
  ck_assert_int_eq(tx_result_set_blob(&tx, 1, blob, 3), CX_OK); /* replaces */
  ck_assert_uint_eq(tx.u.result.sigs[1].blob_len, 3);
  ck_assert_int_eq(tx_result_alloc(&tx, 1, 1), CX_OK); /* frees the old ones */
  ck_assert_ptr_null(tx.u.result.sigs[0].blob);
  tx_clear(&tx);
}
END_TEST

/* The masked outputs are canonical field elements: the decoder's check is
 * mpc/field.h's fe_decode, bit for bit. */
START_TEST(test_tx_result_fe) {
  uint8_t pats[10][16];
  memset(pats, 0, sizeof pats);
  memset(pats[1], 0xff, 16); /* 2^128 - 1 */
  memset(pats[2], 0xff, 16); /* p = 2^127 - 1 */
  pats[2][15] = 0x7f;
  memset(pats[3], 0xff, 16); /* p - 1 */
  pats[3][15] = 0x7f;
  pats[3][0] = 0xfe;
  pats[4][15] = 0x80;        /* 2^127 */
  memset(pats[5], 0xff, 16); /* above 2^127, low 127 bits those of p - 1 */
  pats[5][15] = 0xff;
  pats[5][0] = 0xfe;
  memset(pats[6], 0xff, 16); /* p with one low byte changed: below p */
  pats[6][15] = 0x7f;
  pats[6][7] = 0xfe;
  tu_randbytes(pats[7], 16);
  pats[7][15] &= 0x7f;
  tu_randbytes(pats[8], 16);
  pats[8][15] |= 0x80;
  pats[9][0] = 1;
  for (size_t i = 0; i < ARRAY_LEN(pats); i++) {
    cx_enc e;
    size_t off, at;
    fe x;
    int canonical = fe_decode(pats[i], &x) == 0;
    rh_head(&e, CX_CALL_DONE);
    enc_varint(&e, 0);
    enc_varint(&e, 1);
    at = e.len + 1;
    rh_priv(&e, pats[i]);
    uint8_t t[32] = {0};
    enc_fixed(&e, t, 32);
    rh_sigs(&e, RH_P3, 1, 0);
    cx_err err = rh_decode(&e, &off);
    ck_assert_msg(err == (canonical ? CX_OK : CX_E_NONCANONICAL), "pattern %zu: %s", i, cx_err_name(err));
    if (!canonical) ck_assert_uint_eq(off, at);
  }
  /* the patterns cover both answers */
  fe x;
  ck_assert_int_eq(fe_decode(pats[2], &x), -1);
  ck_assert_int_eq(fe_decode(pats[3], &x), 0);
}
END_TEST

/* S = H_RESULT(chain_id | call | contract | consent | did | u8 status | body):
 * recomputed from the encoding's own bytes; every signed field changes it,
 * the reason and the signatures do not. */
static void stmt_of(const cx_tx *tx, const cx_hash *k, const cx_hash *cs, const cx_hash *did, cx_hash *out) {
  tx_result_statement(&tx->chain_id, &tx->u.result, k, cs, did, out);
}

START_TEST(test_tx_result_statement) {
  cx_hash k, cs, did, s0, s1;
  rand_hash(&k);
  rand_hash(&cs);
  rand_hash(&did);
  for (int v = V_RESULT_DONE; v <= V_RESULT_ABORTED; v++) {
    cx_tx tx;
    make_tx(&tx, v);
    tx.nonce = 5; /* the body starts at 67: call[32], status, then the statement's body */
    cx_tx_call_result *r = &tx.u.result;
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
    /* the signatures' part of the encoding (proof byte, count, entries) */
    size_t sigs_len = 2;
    for (size_t i = 0; i < r->nsig; i++) {
      uint8_t vb[CX_VARINT_MAX];
      sigs_len += 1 + varint_put(vb, r->sigs[i].blob_len) + r->sigs[i].blob_len + 64;
    }
    size_t body_at = RH_BODY + 33, body_len = len - 64 - sigs_len - body_at;
    if (v == V_RESULT_ABORTED) /* the code, without the reason */
      body_len -= 1 + strlen(r->reason);
    uint8_t *msg = malloc(5 * 32 + 1 + body_len);
    memcpy(msg, tx.chain_id.b, 32);
    memcpy(msg + 32, r->call.b, 32);
    memcpy(msg + 64, k.b, 32);
    memcpy(msg + 96, cs.b, 32);
    memcpy(msg + 128, did.b, 32);
    msg[160] = r->status;
    memcpy(msg + 161, buf + body_at, body_len);
    uint8_t want[32];
    ref_tagged("custos/result", msg, 161 + body_len, want);
    stmt_of(&tx, &k, &cs, &did, &s0);
    ck_assert_mem_eq(s0.b, want, 32);
    free(msg);
    free(buf);

    /* the message party i signs: H_RESULT_SIG(S || blob_i) */
    cx_hash m0, m1;
    uint8_t sm[32 + 80];
    memcpy(sm, s0.b, 32);
    size_t bl = r->sigs[0].blob_len;
    if (bl) memcpy(sm + 32, r->sigs[0].blob, bl);
    ref_tagged("custos/result-sig", sm, 32 + bl, want);
    tx_result_sig_msg(&s0, r->sigs[0].blob, bl, &m0);
    ck_assert_mem_eq(m0.b, want, 32);
    uint8_t other[80] = {0};
    tx_result_sig_msg(&s0, other, sizeof other, &m1);
    ck_assert(!hash_eq(&m0, &m1));

    /* not signed: the reason, the signatures and their blobs */
    strcpy(r->reason, "another reason");
    r->sigs[1].sig.b[3] ^= 1;
    if (r->sigs[1].blob_len) r->sigs[1].blob[0] ^= 1;
    stmt_of(&tx, &k, &cs, &did, &s1);
    ck_assert(hash_eq(&s0, &s1));

    /* signed: everything else */
#define CHANGES(stmt)                                 \
  do {                                                \
    stmt;                                             \
    stmt_of(&tx, &k, &cs, &did, &s1);                 \
    ck_assert_msg(!hash_eq(&s0, &s1), "%s", #stmt); \
    stmt;                                             \
    stmt_of(&tx, &k, &cs, &did, &s1);                 \
    ck_assert(hash_eq(&s0, &s1));                     \
  } while (0)
    CHANGES(tx.chain_id.b[0] ^= 1);
    CHANGES(r->call.b[31] ^= 1);
    CHANGES(k.b[5] ^= 1);
    CHANGES(cs.b[6] ^= 1);
    CHANGES(did.b[7] ^= 1);
    CHANGES(r->status ^= 1); /* DONE <-> ABORTED */
    if (v == V_RESULT_DONE) {
      CHANGES(r->in[1].domain[0] ^= 1);
      CHANGES(r->in[0].root.b[0] ^= 1);
      CHANGES(r->in[1].count ^= 1);
      CHANGES(r->in[1].leaf.b[9] ^= 1);
      CHANGES(r->nin ^= 1); /* a third (empty) input */
      CHANGES(r->out[0].value ^= 1);
      CHANGES(r->out[4].value ^= (int64_t)1 << 40);
      CHANGES(r->out[1].masked[15] ^= 1);
      CHANGES(r->out[2].priv ^= 1);
      CHANGES(r->nout ^= 1); /* drops the last output */
      CHANGES(r->transcript.b[20] ^= 1);
    } else {
      CHANGES(r->code ^= 1);
      CHANGES(r->code ^= INT32_MIN);
    }
#undef CHANGES
    tx_clear(&tx);
  }
}
END_TEST

/* The FROST proof (docs/calls.md §4): u8 2 | varint key_epoch | sig[64] |
 * varint nsig (0..64) | nsig x (u8 party | bytes blob). Every refusal, each
 * at its offset; the proof byte itself is 1, 2 or 3 (FROST_BATCH). */
static void rh_frost(cx_enc *e, uint64_t epoch, const uint8_t *parties, size_t n, size_t bl) {
  uint8_t sig[64] = {7};
  uint8_t *blob = calloc(1, bl ? bl : 1);
  enc_u8(e, CX_RESULT_PROOF_FROST);
  enc_varint(e, epoch);
  enc_fixed(e, sig, 64);
  enc_varint(e, n);
  for (size_t i = 0; i < n; i++) {
    enc_u8(e, parties[i]);
    enc_bytes(e, blob, bl);
  }
  free(blob);
  enc_fixed(e, sig, 64); /* the tx signature */
}

START_TEST(test_tx_result_frost_errors) {
  cx_enc e;
  size_t off, at;
  cx_tx got;

  /* the hand layout decodes, with blobs or none */
  rh_head(&e, CX_CALL_DONE);
  rh_done_fields(&e, RH_FE1);
  rh_frost(&e, 7, RH_P3, 3, 80);
  ck_assert_int_eq(enc_finish(&e), CX_OK);
  ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_OK);
  ck_assert_uint_eq(got.u.result.proof, CX_RESULT_PROOF_FROST);
  ck_assert_uint_eq(got.u.result.key_epoch, 7);
  ck_assert_uint_eq(got.u.result.frost.b[0], 7);
  ck_assert_uint_eq(got.u.result.nsig, 3);
  ck_assert_uint_eq(got.u.result.sigs[2].party, 2);
  ck_assert_uint_eq(got.u.result.sigs[2].blob_len, 80);
  tx_clear(&got);
  enc_free(&e);
  rh_head(&e, CX_CALL_ABORTED);
  enc_varint(&e, 4);
  enc_str(&e, "timeout");
  rh_frost(&e, UINT32_MAX, RH_P3, 0, 0);
  ck_assert_int_eq(enc_finish(&e), CX_OK);
  ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_OK);
  ck_assert_uint_eq(got.u.result.nsig, 0);
  ck_assert_ptr_null(got.u.result.sigs);
  ck_assert_uint_eq(got.u.result.key_epoch, UINT32_MAX);
  tx_clear(&got);
  enc_free(&e);

  /* the proof byte: 1, 2 or 3 (3 is FROST_BATCH's: test_tx_result_batch_errors) */
  const uint8_t proofs[] = {0, 4, 0xff};
  for (size_t i = 0; i < ARRAY_LEN(proofs); i++) {
    rh_head(&e, CX_CALL_DONE);
    rh_done_fields(&e, RH_FE1);
    at = e.len;
    rh_frost(&e, 1, RH_P3, 1, 0);
    e.buf[at] = proofs[i];
    ck_assert_int_eq(rh_decode(&e, &off), CX_E_BAD_ENUM);
    ck_assert_uint_eq(off, at);
  }
  /* the epoch fits a u32 */
  rh_head(&e, CX_CALL_DONE);
  rh_done_fields(&e, RH_FE1);
  at = e.len + 1;
  rh_frost(&e, (uint64_t)UINT32_MAX + 1, RH_P3, 1, 0);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, at);
  /* blobs: over 64, more than the input holds, parties unsorted or
   * repeated, a party no call has, a blob over its cap */
  rh_head(&e, CX_CALL_DONE);
  rh_done_fields(&e, RH_FE1);
  enc_u8(&e, CX_RESULT_PROOF_FROST);
  enc_varint(&e, 1);
  uint8_t z64[64] = {0};
  enc_fixed(&e, z64, 64);
  at = e.len;
  enc_varint(&e, CX_MAX_VALIDATORS + 1);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, at);
  rh_head(&e, CX_CALL_DONE);
  rh_done_fields(&e, RH_FE1);
  enc_u8(&e, CX_RESULT_PROOF_FROST);
  enc_varint(&e, 1);
  enc_fixed(&e, z64, 64);
  enc_varint(&e, CX_MAX_VALIDATORS);
  enc_u8(&e, 0);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_TRUNCATED);
  const struct {
    uint8_t parties[3];
    size_t n, bad;
    cx_err want;
  } cases[] = {
      {{1, 1, 2}, 3, 1, CX_E_UNSORTED},
      {{0, 3, 2}, 3, 2, CX_E_UNSORTED},
      {{0, CX_MAX_VALIDATORS, 0}, 2, 1, CX_E_TOO_LONG},
  };
  for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
    rh_head(&e, CX_CALL_DONE);
    rh_done_fields(&e, RH_FE1);
    at = e.len + 1 + 1 + 64 + 1 + cases[i].bad * 2; /* proof, epoch, sig, count, (party, empty blob) */
    rh_frost(&e, 1, cases[i].parties, cases[i].n, 0);
    ck_assert_int_eq(rh_decode(&e, &off), cases[i].want);
    ck_assert_uint_eq(off, at);
  }
  rh_head(&e, CX_CALL_DONE);
  rh_done_fields(&e, RH_FE1);
  at = e.len + 1 + 1 + 64 + 1 + 1;
  rh_frost(&e, 1, RH_P3, 1, CX_RESULT_BLOB_MAX + 1);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, at);
  /* cut inside the signature; a trailing byte */
  rh_head(&e, CX_CALL_DONE);
  rh_done_fields(&e, RH_FE1);
  enc_u8(&e, CX_RESULT_PROOF_FROST);
  enc_varint(&e, 1);
  enc_fixed(&e, z64, 30);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_TRUNCATED);
  rh_head(&e, CX_CALL_DONE);
  rh_done_fields(&e, RH_FE1);
  rh_frost(&e, 1, RH_P3, 3, 80);
  enc_u8(&e, 0);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_TRAILING);

  /* a result built in memory with proof 0 encodes as QUORUM */
  cx_tx tx, q;
  make_tx(&tx, V_RESULT_DONE);
  ck_assert_uint_eq(tx.u.result.proof, 0);
  uint8_t *b0, *b1;
  size_t l0, l1;
  ck_assert_int_eq(tx_encode(&tx, 1, &b0, &l0), CX_OK);
  tx.u.result.proof = CX_RESULT_PROOF_QUORUM;
  ck_assert_int_eq(tx_encode(&tx, 1, &b1, &l1), CX_OK);
  ck_assert_uint_eq(l0, l1);
  ck_assert_mem_eq(b0, b1, l0);
  ck_assert_int_eq(tx_decode(b0, l0, &q, NULL), CX_OK);
  ck_assert_uint_eq(q.u.result.proof, CX_RESULT_PROOF_QUORUM);
  tx_clear(&q);
  /* the same result in FROST mode: the signatures are gone, the epoch and
   * one signature come before the blobs */
  tx.u.result.proof = CX_RESULT_PROOF_FROST;
  free(b1);
  ck_assert_int_eq(tx_encode(&tx, 1, &b1, &l1), CX_OK);
  ck_assert_uint_eq(l1, l0 - 3 * 64 + 1 + 64);
  free(b0);
  free(b1);
  tx_clear(&tx);
}
END_TEST

/* The FROST_BATCH proof (tx.h): u8 3 | varint key_epoch (7) | sig[64] |
 * u8 batch_n | u8 batch_idx | u8 npath | nhash x hash[32] (hash i all
 * bytes i + 1) | varint nsig | nsig x (u8 party i | bytes blob of 80), then
 * the tx sig. batch_n sits 66 bytes after the proof byte. */
static void rh_batch(cx_enc *e, uint8_t n, uint8_t idx, uint8_t npath, size_t nhash, size_t nsig) {
  uint8_t sig[64] = {7}, h[32], blob[80] = {0};
  enc_u8(e, CX_RESULT_PROOF_FROST_BATCH);
  enc_varint(e, 7);
  enc_fixed(e, sig, 64);
  enc_u8(e, n);
  enc_u8(e, idx);
  enc_u8(e, npath);
  for (size_t i = 0; i < nhash; i++) {
    memset(h, (int)(i + 1), 32);
    enc_fixed(e, h, 32);
  }
  enc_varint(e, nsig);
  for (size_t i = 0; i < nsig; i++) {
    enc_u8(e, (uint8_t)i);
    enc_bytes(e, blob, sizeof blob);
  }
  enc_fixed(e, sig, 64);
}

/* Every refusal of the FROST_BATCH fields, each with its error at its
 * offset; the shape of the tree is the rule's (bad_signature), so a path
 * that does not fit its leaf still decodes. */
START_TEST(test_tx_result_batch_errors) {
  cx_enc e;
  size_t off, at;
  cx_tx got;

  /* the hand layout decodes: the largest batch's last leaf (the longest path) */
  rh_head(&e, CX_CALL_DONE);
  rh_done_fields(&e, RH_FE1);
  rh_batch(&e, CX_RESULT_BATCH_MAX, CX_RESULT_BATCH_MAX - 1, CX_RESULT_BATCH_DEPTH, CX_RESULT_BATCH_DEPTH, 3);
  ck_assert_int_eq(enc_finish(&e), CX_OK);
  ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_OK);
  const cx_tx_call_result *r = &got.u.result;
  ck_assert_uint_eq(r->proof, CX_RESULT_PROOF_FROST_BATCH);
  ck_assert_uint_eq(r->key_epoch, 7);
  ck_assert_uint_eq(r->frost.b[0], 7);
  ck_assert_uint_eq(r->batch_n, 64);
  ck_assert_uint_eq(r->batch_idx, 63);
  ck_assert_uint_eq(r->batch_npath, 6);
  for (size_t i = 0; i < 6; i++) {
    ck_assert_uint_eq(r->batch_path[i].b[0], i + 1);
    ck_assert_uint_eq(r->batch_path[i].b[31], i + 1);
  }
  ck_assert_uint_eq(r->nsig, 3);
  ck_assert_uint_eq(r->sigs[2].party, 2);
  ck_assert_uint_eq(r->sigs[2].blob_len, 80);
  tx_clear(&got);
  enc_free(&e);
  /* the smallest batch, ABORTED without a blob */
  rh_head(&e, CX_CALL_ABORTED);
  enc_varint(&e, 4);
  enc_str(&e, "timeout");
  rh_batch(&e, 2, 1, 1, 1, 0);
  ck_assert_int_eq(enc_finish(&e), CX_OK);
  ck_assert_int_eq(tx_decode(e.buf, e.len, &got, &off), CX_OK);
  ck_assert_uint_eq(got.u.result.batch_n, 2);
  ck_assert_uint_eq(got.u.result.batch_idx, 1);
  ck_assert_uint_eq(got.u.result.batch_npath, 1);
  ck_assert_uint_eq(got.u.result.nsig, 0);
  tx_clear(&got);
  enc_free(&e);
  /* paths that fit no leaf of their tree: none for 5 leaves, 6 for 2 */
  rh_head(&e, CX_CALL_DONE);
  rh_done_fields(&e, RH_FE1);
  rh_batch(&e, 5, 0, 0, 0, 3);
  ck_assert_int_eq(rh_decode(&e, &off), CX_OK);
  rh_head(&e, CX_CALL_DONE);
  rh_done_fields(&e, RH_FE1);
  rh_batch(&e, 2, 0, 6, 6, 3);
  ck_assert_int_eq(rh_decode(&e, &off), CX_OK);

  /* batch_n: 2..64 */
  const uint8_t ns[] = {0, 1, CX_RESULT_BATCH_MAX + 1, 0xff};
  for (size_t i = 0; i < ARRAY_LEN(ns); i++) {
    rh_head(&e, CX_CALL_DONE);
    rh_done_fields(&e, RH_FE1);
    at = e.len + 66;
    rh_batch(&e, ns[i], 0, 1, 1, 3);
    ck_assert_msg(rh_decode(&e, &off) == CX_E_BAD_ENUM, "batch_n %u", (unsigned)ns[i]);
    ck_assert_uint_eq(off, at);
  }
  /* batch_idx: below batch_n */
  const uint8_t ix[][2] = {{2, 2}, {5, 5}, {5, 6}, {CX_RESULT_BATCH_MAX, CX_RESULT_BATCH_MAX}, {2, 0xff}};
  for (size_t i = 0; i < ARRAY_LEN(ix); i++) {
    rh_head(&e, CX_CALL_DONE);
    rh_done_fields(&e, RH_FE1);
    at = e.len + 67;
    rh_batch(&e, ix[i][0], ix[i][1], 1, 1, 3);
    ck_assert_msg(rh_decode(&e, &off) == CX_E_BAD_ENUM, "batch %u idx %u", (unsigned)ix[i][0], (unsigned)ix[i][1]);
    ck_assert_uint_eq(off, at);
  }
  /* npath: 0..6, refused before any hash is read */
  const uint8_t nps[] = {CX_RESULT_BATCH_DEPTH + 1, 0x80, 0xff};
  for (size_t i = 0; i < ARRAY_LEN(nps); i++) {
    rh_head(&e, CX_CALL_DONE);
    rh_done_fields(&e, RH_FE1);
    at = e.len + 68;
    rh_batch(&e, CX_RESULT_BATCH_MAX, 0, nps[i], CX_RESULT_BATCH_DEPTH + 1, 3);
    ck_assert_msg(rh_decode(&e, &off) == CX_E_BAD_ENUM, "npath %u", (unsigned)nps[i]);
    ck_assert_uint_eq(off, at);
  }
  /* the path cut short: the input ends before its third hash, or inside it */
  for (size_t part = 0; part < 32; part += 31) {
    rh_head(&e, CX_CALL_DONE);
    rh_done_fields(&e, RH_FE1);
    at = e.len + 69 + 2 * 32;
    enc_u8(&e, CX_RESULT_PROOF_FROST_BATCH);
    enc_varint(&e, 7);
    uint8_t z64[64] = {0};
    enc_fixed(&e, z64, 64);
    enc_u8(&e, 8);
    enc_u8(&e, 0);
    enc_u8(&e, 3);
    enc_fixed(&e, z64, 64);
    enc_fixed(&e, z64, part);
    ck_assert_int_eq(rh_decode(&e, &off), CX_E_TRUNCATED);
    ck_assert_uint_eq(off, at);
  }
  /* the blobs follow the path: their count is read after the last hash */
  rh_head(&e, CX_CALL_DONE);
  rh_done_fields(&e, RH_FE1);
  at = e.len + 69 + 3 * 32;
  rh_batch(&e, 8, 0, 3, 3, CX_MAX_VALIDATORS + 1);
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, at);

  /* a result built in memory: the batch fields cost 3 bytes and a hash each */
  cx_tx tx;
  uint8_t *b0, *b1;
  size_t l0, l1;
  make_tx(&tx, V_RESULT_FROST_DONE);
  ck_assert_int_eq(tx_encode(&tx, 1, &b0, &l0), CX_OK);
  tx.u.result.proof = CX_RESULT_PROOF_FROST_BATCH;
  tx.u.result.batch_n = 9;
  tx.u.result.batch_idx = 8;
  tx.u.result.batch_npath = 1;
  rand_hash(&tx.u.result.batch_path[0]);
  ck_assert_int_eq(tx_encode(&tx, 1, &b1, &l1), CX_OK);
  ck_assert_uint_eq(l1, l0 + 3 + 32);
  ck_assert_int_eq(tx_decode(b1, l1, &got, NULL), CX_OK);
  assert_tx_eq(&tx, &got);
  tx_clear(&got);
  free(b0);
  free(b1);
  tx_clear(&tx);
}
END_TEST

/* tx_result_frost_msg = statement || H_RESULT_BLOBS(varint nsig ||
 * nsig x (u8 party || bytes blob)): from the layout, recomputed with plain
 * SHA-256; every blob byte and party changes it, the QUORUM signatures do not. */
START_TEST(test_tx_result_frost_msg) {
  for (int v = V_RESULT_FROST_DONE; v <= V_RESULT_FROST_ABORTED; v++) {
    cx_tx tx;
    cx_hash stmt;
    uint8_t m0[64], m1[64], want[32];
    make_tx(&tx, v);
    cx_tx_call_result *r = &tx.u.result;
    rand_hash(&stmt);
    tx_result_frost_msg(&stmt, r, m0);
    ck_assert_mem_eq(m0, stmt.b, 32);
    cx_enc e;
    enc_init(&e);
    enc_varint(&e, r->nsig);
    for (size_t i = 0; i < r->nsig; i++) {
      enc_u8(&e, r->sigs[i].party);
      enc_bytes(&e, r->sigs[i].blob, r->sigs[i].blob_len);
    }
    ck_assert_int_eq(enc_finish(&e), CX_OK);
    ref_tagged("custos/result-blobs", e.buf, e.len, want);
    enc_free(&e);
    ck_assert_mem_eq(m0 + 32, want, 32);
#define CHANGES(stmt_)                         \
  do {                                         \
    stmt_;                                     \
    tx_result_frost_msg(&stmt, r, m1);         \
    ck_assert(memcmp(m0, m1, 64) != 0);        \
    stmt_;                                     \
    tx_result_frost_msg(&stmt, r, m1);         \
    ck_assert_mem_eq(m0, m1, 64);              \
  } while (0)
    CHANGES(stmt.b[3] ^= 1);
    if (r->nsig) {
      CHANGES(r->sigs[0].party ^= 1);
      CHANGES(r->sigs[2].blob[79] ^= 1);
      /* 80 -> 64 bytes: shorter (^= 1 made it 81 and read past the blob,
       * invisible while SHA-256 was libsodium's uninstrumented code) */
      ck_assert_uint_eq(r->sigs[1].blob_len, 80);
      CHANGES(r->sigs[1].blob_len ^= 16);
      CHANGES(r->nsig ^= 1);             /* the last blob dropped */
    }
#undef CHANGES
    /* not covered: the FROST signature itself, the epoch, a sig field */
    r->frost.b[0] ^= 1;
    r->key_epoch ^= 1;
    if (r->nsig) r->sigs[0].sig.b[0] ^= 1;
    tx_result_frost_msg(&stmt, r, m1);
    ck_assert_mem_eq(m0, m1, 64);
    tx_clear(&tx);
  }
}
END_TEST

/* tx_result_signed_msg: FROST_BATCH results of one batch of 5 (leaves
 * H_RESULT_LEAF(tx_result_frost_msg) of 5 different results, in order) each
 * give the 32-byte H_RESULT_BATCH(root), recomputed here with plain
 * SHA-256; another index, a damaged path, a path of another length or
 * another batch size give another message or none; FROST gives the 64-byte
 * frost message, QUORUM nothing. */
START_TEST(test_tx_result_signed_msg) {
#define NB 5
  cx_tx tx[NB];
  cx_hash stmt[NB], leaves[NB], root, path[MERKLE_MAX_DEPTH];
  uint8_t fm[64], want[32], got[64];
  for (size_t i = 0; i < NB; i++) {
    make_tx(&tx[i], i % 2 ? V_RESULT_FROST_ABORTED : V_RESULT_FROST_DONE);
    rand_hash(&stmt[i]);
    tx_result_frost_msg(&stmt[i], &tx[i].u.result, fm);
    tx_result_batch_leaf(fm, &leaves[i]);
    ref_tagged("custos/result-leaf", fm, 64, want);
    ck_assert_mem_eq(leaves[i].b, want, 32);
    /* FROST: the frost message itself */
    ck_assert_uint_eq(tx_result_signed_msg(&stmt[i], &tx[i].u.result, got), 64);
    ck_assert_mem_eq(got, fm, 64);
  }
  merkle_root(leaves, NB, &root);
  uint8_t nroot[33] = {NB};
  memcpy(nroot + 1, root.b, 32);
  ref_tagged("custos/result-batch", nroot, 33, want);
  tx_result_batch_msg(&root, NB, got);
  ck_assert_mem_eq(got, want, 32);
  for (size_t i = 0; i < NB; i++) {
    cx_tx_call_result *r = &tx[i].u.result;
    size_t len = merkle_path(leaves, NB, i, path);
    ck_assert_uint_le(len, CX_RESULT_BATCH_DEPTH);
    r->proof = CX_RESULT_PROOF_FROST_BATCH;
    r->batch_n = NB;
    r->batch_idx = (uint8_t)i;
    r->batch_npath = (uint8_t)len;
    memcpy(r->batch_path, path, len * sizeof *path);
    memset(got, 0, sizeof got);
    ck_assert_uint_eq(tx_result_signed_msg(&stmt[i], r, got), 32);
    ck_assert_mem_eq(got, want, 32);
    /* another result's statement, at this one's place */
    ck_assert_uint_eq(tx_result_signed_msg(&stmt[(i + 1) % NB], r, got), 32);
    ck_assert(memcmp(got, want, 32) != 0);
    /* another index: another root, or no place for this path */
    for (uint8_t j = 0; j < NB + 2; j++) {
      if (j == i) continue;
      r->batch_idx = j;
      size_t l = tx_result_signed_msg(&stmt[i], r, got);
      ck_assert_msg(l == 0 || (l == 32 && memcmp(got, want, 32) != 0), "leaf %zu at %u: %zu", i, (unsigned)j, l);
      if (j >= NB) ck_assert_uint_eq(l, 0);
    }
    r->batch_idx = (uint8_t)i;
    /* another batch size: none when its tree has no leaf i at this depth.
     * One that has climbs to the same root (leaves 0..3 of 5, 6, 7 or 8
     * climb alike: the root binds the leaf and its path, not batch_n), but
     * the size is signed, so the message differs: (batch_n, batch_idx)
     * cannot be rewritten under the signature. A batch of one is none. */
    for (uint8_t n = 1; n <= 12; n++) {
      r->batch_n = n;
      size_t l = tx_result_signed_msg(&stmt[i], r, got);
      int fits = n >= 2 && i < n && ref_depth(n, i) == len;
      ck_assert_msg(l == (fits ? 32u : 0u), "leaf %zu of %u: %zu", i, (unsigned)n, l);
      if (n != NB && fits) ck_assert_msg(memcmp(got, want, 32) != 0, "leaf %zu of %u signs as of %d", i, (unsigned)n, NB);
    }
    r->batch_n = NB;
    /* a flipped byte in each hash of the path */
    for (size_t k = 0; k < len; k++) {
      r->batch_path[k].b[k * 5] ^= 0x08;
      ck_assert_uint_eq(tx_result_signed_msg(&stmt[i], r, got), 32);
      ck_assert(memcmp(got, want, 32) != 0);
      r->batch_path[k].b[k * 5] ^= 0x08;
    }
    /* a path one shorter or one longer; one over CX_RESULT_BATCH_DEPTH */
    r->batch_npath = (uint8_t)(len - 1);
    ck_assert_uint_eq(tx_result_signed_msg(&stmt[i], r, got), 0);
    rand_hash(&r->batch_path[len]);
    r->batch_npath = (uint8_t)(len + 1);
    ck_assert_uint_eq(tx_result_signed_msg(&stmt[i], r, got), 0);
    r->batch_npath = CX_RESULT_BATCH_DEPTH + 1;
    ck_assert_uint_eq(tx_result_signed_msg(&stmt[i], r, got), 0);
    r->batch_npath = (uint8_t)len;
    ck_assert_uint_eq(tx_result_signed_msg(&stmt[i], r, got), 32);
    ck_assert_mem_eq(got, want, 32);
    /* QUORUM (or 0, built in memory): no key signed anything */
    r->proof = CX_RESULT_PROOF_QUORUM;
    ck_assert_uint_eq(tx_result_signed_msg(&stmt[i], r, got), 0);
    r->proof = 0;
    ck_assert_uint_eq(tx_result_signed_msg(&stmt[i], r, got), 0);
    tx_clear(&tx[i]);
  }
#undef NB
}
END_TEST

/* A key transaction laid out by hand (tx.h, docs/keys.md §3). Nonce 5: the
 * body starts at RH_BODY. */
static void kh_head(cx_enc *e, uint8_t type) {
  uint8_t z[32] = {0};
  enc_init(e);
  enc_u8(e, 1);
  enc_u8(e, type);
  enc_fixed(e, z, 32);
  enc_fixed(e, z, 32);
  enc_varint(e, 5);
}

static cx_err kh_decode(cx_enc *e, size_t *off) {
  uint8_t sig[64] = {3};
  enc_fixed(e, sig, 64);
  return rh_decode(e, off);
}

static void kh_bytes(cx_enc *e, size_t n, uint8_t fill) {
  uint8_t *b = malloc(n ? n : 1);
  memset(b, fill, n ? n : 1);
  enc_bytes(e, b, n);
  free(b);
}

/* Every refusal of the key decoders (60..64), each at its offset, and of
 * the deal setters. */
START_TEST(test_tx_key_errors) {
  cx_enc e;
  size_t off, at;

  /* key_create: name an identifier of 1..16 bytes, purpose 1..3 */
  const struct {
    const char *name;
    uint8_t purpose;
    cx_err want;
    size_t at; /* from the body */
  } cr[] = {
      {"results", 1, CX_OK, 0},
      {"vault-0123456789", 3, CX_OK, 0},
      {"", 3, CX_E_BAD_STRING, 0},
      {"Vault", 3, CX_E_BAD_STRING, 0},
      {"_vault", 3, CX_E_BAD_STRING, 0},
      {"vault/a", 3, CX_E_BAD_STRING, 0},
      {"vault-01234567890", 3, CX_E_TOO_LONG, 0},
      {"vault", 0, CX_E_BAD_ENUM, 6},
      {"vault", 4, CX_E_BAD_ENUM, 6},
  };
  for (size_t i = 0; i < ARRAY_LEN(cr); i++) {
    kh_head(&e, TX_KEY_CREATE);
    enc_str(&e, cr[i].name);
    enc_u8(&e, cr[i].purpose);
    enc_u8(&e, 200); /* any t and k: the vm judges them */
    enc_u8(&e, 255);
    ck_assert_msg(kh_decode(&e, &off) == cr[i].want, "create case %zu", i);
    if (cr[i].want) ck_assert_uint_eq(off, RH_BODY + cr[i].at);
  }
  /* the body ends with k: without it the signature is a byte short; one
   * byte more is trailing */
  kh_head(&e, TX_KEY_CREATE);
  enc_str(&e, "vault");
  enc_u8(&e, 3);
  enc_u8(&e, 2);
  ck_assert_int_eq(kh_decode(&e, &off), CX_E_TRUNCATED);
  kh_head(&e, TX_KEY_CREATE);
  enc_str(&e, "vault");
  enc_u8(&e, 3);
  enc_u8(&e, 2);
  enc_u8(&e, 1);
  enc_u8(&e, 0);
  at = e.len + 64 - 1;
  ck_assert_int_eq(kh_decode(&e, &off), CX_E_TRAILING);
  ck_assert_uint_eq(off, at);

  /* key_deal */
  kh_head(&e, TX_KEY_DEAL); /* epoch over 32 bits */
  enc_str(&e, "k");
  at = e.len;
  enc_varint(&e, (uint64_t)UINT32_MAX + 1);
  ck_assert_int_eq(kh_decode(&e, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, at);
  const size_t r1lens[] = {0, CX_KEY_ROUND1_MAX + 1};
  const cx_err r1want[] = {CX_E_TRUNCATED, CX_E_TOO_LONG};
  for (size_t i = 0; i < 2; i++) {
    kh_head(&e, TX_KEY_DEAL);
    enc_str(&e, "k");
    enc_varint(&e, 0);
    at = e.len;
    kh_bytes(&e, r1lens[i], 1);
    enc_varint(&e, 1);
    kh_bytes(&e, 0, 0);
    ck_assert_int_eq(kh_decode(&e, &off), r1want[i]);
    ck_assert_uint_eq(off, at);
  }
  kh_head(&e, TX_KEY_DEAL); /* round one at the cap, one slot: fits */
  enc_str(&e, "k");
  enc_varint(&e, 0);
  kh_bytes(&e, CX_KEY_ROUND1_MAX, 1);
  enc_varint(&e, 1);
  kh_bytes(&e, 0, 0);
  ck_assert_int_eq(kh_decode(&e, &off), CX_OK);
  const struct {
    uint64_t n;
    cx_err want;
  } ns[] = {{0, CX_E_NONCANONICAL}, {CX_MAX_VALIDATORS + 1, CX_E_TOO_LONG}};
  for (size_t i = 0; i < ARRAY_LEN(ns); i++) {
    kh_head(&e, TX_KEY_DEAL);
    enc_str(&e, "k");
    enc_varint(&e, 0);
    kh_bytes(&e, 10, 1);
    at = e.len;
    enc_varint(&e, ns[i].n);
    ck_assert_int_eq(kh_decode(&e, &off), ns[i].want);
    ck_assert_uint_eq(off, at);
  }
  kh_head(&e, TX_KEY_DEAL); /* more slots than the input holds */
  enc_str(&e, "k");
  enc_varint(&e, 0);
  kh_bytes(&e, 10, 1);
  enc_varint(&e, CX_MAX_VALIDATORS);
  ck_assert_int_eq(kh_decode(&e, &off), CX_E_TRUNCATED);
  const struct {
    size_t len;
    cx_err want;
  } slots[] = {{1, CX_E_TRUNCATED}, {CX_KEY_SEALED_LEN - 1, CX_E_TRUNCATED}, {CX_KEY_SEALED_LEN + 1, CX_E_TOO_LONG},
               {CX_KEY_SEALED_LEN, CX_OK}, {0, CX_OK}};
  for (size_t i = 0; i < ARRAY_LEN(slots); i++) {
    kh_head(&e, TX_KEY_DEAL);
    enc_str(&e, "k");
    enc_varint(&e, 0);
    kh_bytes(&e, 10, 1);
    enc_varint(&e, 2);
    kh_bytes(&e, CX_KEY_SEALED_LEN, 2);
    at = e.len;
    kh_bytes(&e, slots[i].len, 3);
    ck_assert_msg(kh_decode(&e, &off) == slots[i].want, "slot case %zu", i);
    if (slots[i].want) ck_assert_uint_eq(off, at);
  }

  /* key_verdict: at most 64 complaints of 1..38 bytes */
  kh_head(&e, TX_KEY_VERDICT);
  enc_str(&e, "k");
  enc_varint(&e, 0);
  at = e.len;
  enc_varint(&e, CX_MAX_VALIDATORS + 1);
  ck_assert_int_eq(kh_decode(&e, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, at);
  const size_t clens[] = {0, CX_KEY_COMPLAINT_MAX + 1};
  const cx_err cwant[] = {CX_E_TRUNCATED, CX_E_TOO_LONG};
  for (size_t i = 0; i < 2; i++) {
    kh_head(&e, TX_KEY_VERDICT);
    enc_str(&e, "k");
    enc_varint(&e, 0);
    enc_varint(&e, 2);
    kh_bytes(&e, 6, 3);
    at = e.len;
    kh_bytes(&e, clens[i], 3);
    ck_assert_int_eq(kh_decode(&e, &off), cwant[i]);
    ck_assert_uint_eq(off, at);
  }
  kh_head(&e, TX_KEY_VERDICT);
  enc_str(&e, "k");
  enc_varint(&e, 0);
  enc_varint(&e, CX_MAX_VALIDATORS);
  for (int i = 0; i < CX_MAX_VALIDATORS; i++) kh_bytes(&e, CX_KEY_COMPLAINT_MAX, 3);
  ck_assert_int_eq(kh_decode(&e, &off), CX_OK);

  /* key_answer: exactly 37 bytes */
  const size_t alens[] = {0, CX_KEY_ANSWER_LEN - 1, CX_KEY_ANSWER_LEN + 1};
  const cx_err awant[] = {CX_E_TRUNCATED, CX_E_TRUNCATED, CX_E_TOO_LONG};
  for (size_t i = 0; i < ARRAY_LEN(alens); i++) {
    kh_head(&e, TX_KEY_ANSWER);
    enc_str(&e, "k");
    enc_varint(&e, 0);
    at = e.len;
    kh_bytes(&e, alens[i], 4);
    ck_assert_int_eq(kh_decode(&e, &off), awant[i]);
    ck_assert_uint_eq(off, at);
  }

  /* key_advance: phase 1 or 2 */
  const uint8_t phases[] = {0, 3, 0xff};
  for (size_t i = 0; i < ARRAY_LEN(phases); i++) {
    kh_head(&e, TX_KEY_ADVANCE);
    enc_str(&e, "k");
    enc_varint(&e, 9);
    at = e.len;
    enc_u8(&e, phases[i]);
    ck_assert_int_eq(kh_decode(&e, &off), CX_E_BAD_ENUM);
    ck_assert_uint_eq(off, at);
  }
  kh_head(&e, TX_KEY_ADVANCE);
  enc_str(&e, "Results");
  enc_varint(&e, 9);
  enc_u8(&e, 1);
  ck_assert_int_eq(kh_decode(&e, &off), CX_E_BAD_STRING);
  ck_assert_uint_eq(off, RH_BODY);

  /* the setters refuse what the decoder would */
  cx_tx tx;
  uint8_t r1[8] = {1}, sl[CX_KEY_SEALED_LEN] = {2};
  tx_init(&tx);
  tx.type = TX_KEY_DEAL;
  ck_assert_int_eq(tx_key_deal_set_slot(&tx, 0, sl), CX_E_INVALID_ARG); /* no deal yet */
  ck_assert_int_eq(tx_key_deal_set(&tx, r1, 0, 4), CX_E_INVALID_ARG);
  ck_assert_int_eq(tx_key_deal_set(&tx, r1, CX_KEY_ROUND1_MAX + 1, 4), CX_E_TOO_LONG);
  ck_assert_int_eq(tx_key_deal_set(&tx, r1, 8, 0), CX_E_INVALID_ARG);
  ck_assert_int_eq(tx_key_deal_set(&tx, r1, 8, CX_MAX_VALIDATORS + 1), CX_E_TOO_LONG);
  ck_assert_int_eq(tx_key_deal_set(&tx, r1, 8, 4), CX_OK);
  ck_assert_int_eq(tx_key_deal_set_slot(&tx, 4, sl), CX_E_INVALID_ARG);
  ck_assert_int_eq(tx_key_deal_set_slot(&tx, 3, sl), CX_OK);
  ck_assert_uint_eq(tx.u.kdeal.sealed_present[3], 1);
  ck_assert_uint_eq(tx.u.kdeal.sealed_present[2], 0);
  ck_assert_int_eq(tx_key_deal_set(&tx, r1, 8, 2), CX_OK); /* replaces: slots empty again */
  ck_assert_uint_eq(tx.u.kdeal.sealed_present[3], 0);
  ck_assert_uint_eq(tx.u.kdeal.n, 2);
  tx_clear(&tx);
}
END_TEST

/* key_reshare (68, docs/keys.md §10): body str name | varint epoch, byte
 * for byte, and every refusal at its offset. */
START_TEST(test_tx_key_reshare) {
  cx_enc e;
  size_t off, at;
  /* the exact layout: a tx built with the struct encodes as written by hand */
  cx_tx tx, got;
  tx_init(&tx);
  tx.type = TX_KEY_RESHARE;
  strcpy(tx.u.kreshare.name, "results");
  tx.u.kreshare.epoch = 300;
  tx.nonce = 5;
  tx.sig.b[0] = 3;
  uint8_t *buf;
  size_t len;
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  kh_head(&e, TX_KEY_RESHARE);
  enc_str(&e, "results");
  enc_varint(&e, 300);
  uint8_t sig[64] = {3};
  enc_fixed(&e, sig, 64);
  ck_assert_int_eq(enc_finish(&e), CX_OK);
  ck_assert_uint_eq(e.len, len);
  ck_assert_mem_eq(e.buf, buf, len);
  ck_assert_uint_eq(len, RH_BODY + 1 + 7 + 2 + 64);
  enc_free(&e);
  ck_assert_int_eq(tx_decode(buf, len, &got, &off), CX_OK);
  ck_assert_str_eq(got.u.kreshare.name, "results");
  ck_assert_uint_eq(got.u.kreshare.epoch, 300);
  tx_clear(&got);
  free(buf);

  /* the epoch: up to 2^32 - 1 */
  kh_head(&e, TX_KEY_RESHARE);
  enc_str(&e, "k");
  enc_varint(&e, UINT32_MAX);
  ck_assert_int_eq(kh_decode(&e, &off), CX_OK);
  kh_head(&e, TX_KEY_RESHARE);
  enc_str(&e, "k");
  at = e.len;
  enc_varint(&e, (uint64_t)UINT32_MAX + 1);
  ck_assert_int_eq(kh_decode(&e, &off), CX_E_TOO_LONG);
  ck_assert_uint_eq(off, at);
  /* the name: an identifier of 1..16 bytes */
  const struct {
    const char *name;
    cx_err want;
  } nm[] = {{"Results", CX_E_BAD_STRING}, {"", CX_E_BAD_STRING}, {"vault-01234567890", CX_E_TOO_LONG},
            {"vault-0123456789", CX_OK}};
  for (size_t i = 0; i < ARRAY_LEN(nm); i++) {
    kh_head(&e, TX_KEY_RESHARE);
    enc_str(&e, nm[i].name);
    enc_varint(&e, 0);
    ck_assert_msg(kh_decode(&e, &off) == nm[i].want, "name case %zu", i);
    if (nm[i].want) ck_assert_uint_eq(off, RH_BODY);
  }
  /* nothing after the epoch: a phase byte (as in key_advance) is trailing;
   * an epoch cut short is truncated */
  kh_head(&e, TX_KEY_RESHARE);
  enc_str(&e, "k");
  enc_varint(&e, 1);
  enc_u8(&e, 1);
  ck_assert_int_eq(kh_decode(&e, &off), CX_E_TRAILING);
  kh_head(&e, TX_KEY_RESHARE);
  enc_str(&e, "k");
  ck_assert_int_eq(rh_decode(&e, &off), CX_E_TRUNCATED);
}
END_TEST

/* Every refusal of the custody signing decoders (65..67), each at its
 * offset, and of the message setter. */
START_TEST(test_tx_sign_errors) {
  cx_enc e;
  size_t off, at;
  uint8_t h[32] = {7}, sig[64] = {9};

  /* sign_request: key an identifier of 1..16 bytes */
  const struct {
    const char *key;
    cx_err want;
  } names[] = {{"vault", CX_OK},
               {"escrow-012345678", CX_OK},
               {"", CX_E_BAD_STRING},
               {"Vault", CX_E_BAD_STRING},
               {"-vault", CX_E_BAD_STRING},
               {"vault.a", CX_E_BAD_STRING},
               {"escrow-0123456789", CX_E_TOO_LONG}};
  for (size_t i = 0; i < ARRAY_LEN(names); i++) {
    kh_head(&e, TX_SIGN_REQUEST);
    enc_str(&e, names[i].key);
    kh_bytes(&e, 5, 1);
    ck_assert_msg(kh_decode(&e, &off) == names[i].want, "name case %zu", i);
    if (names[i].want) ck_assert_uint_eq(off, RH_BODY);
  }
  /* msg: 1..CX_SIGN_MSG_MAX bytes; empty is truncated, over the cap too_long
   * (at its length, before anything is read) */
  const struct {
    size_t len;
    cx_err want;
  } msgs[] = {{1, CX_OK}, {CX_SIGN_MSG_MAX, CX_OK}, {0, CX_E_TRUNCATED}, {CX_SIGN_MSG_MAX + 1, CX_E_TOO_LONG}};
  for (size_t i = 0; i < ARRAY_LEN(msgs); i++) {
    kh_head(&e, TX_SIGN_REQUEST);
    enc_str(&e, "vault");
    at = e.len;
    kh_bytes(&e, msgs[i].len, 2);
    ck_assert_msg(kh_decode(&e, &off) == msgs[i].want, "msg case %zu", i);
    if (msgs[i].want) ck_assert_uint_eq(off, at);
  }
  kh_head(&e, TX_SIGN_REQUEST); /* a length the input cannot hold */
  enc_str(&e, "vault");
  enc_varint(&e, CX_SIGN_MSG_MAX);
  kh_bytes(&e, 10, 2);
  ck_assert_int_eq(kh_decode(&e, &off), CX_E_TRUNCATED);
  kh_head(&e, TX_SIGN_REQUEST); /* a noncanonical length */
  enc_str(&e, "vault");
  at = e.len;
  enc_u8(&e, 0x85); /* 5 with a trailing zero group */
  enc_u8(&e, 0x00);
  ck_assert_int_eq(kh_decode(&e, &off), CX_E_NONCANONICAL);
  ck_assert_uint_eq(off, at);

  /* sign_approve: request[32]; sign_result: request[32] | sig[64]. A byte
   * more is trailing, a byte less truncated. */
  for (int t = TX_SIGN_APPROVE; t <= TX_SIGN_RESULT; t++) {
    size_t body = t == TX_SIGN_APPROVE ? 32 : 96;
    for (int d = -1; d <= 1; d++) {
      kh_head(&e, (uint8_t)t);
      enc_fixed(&e, h, 32);
      if (t == TX_SIGN_RESULT) enc_fixed(&e, sig, 64);
      if (d < 0) e.len--;
      if (d > 0) enc_u8(&e, 0);
      at = e.len + 64 - 1;
      cx_err got = kh_decode(&e, &off);
      cx_err want = d < 0 ? CX_E_TRUNCATED : d > 0 ? CX_E_TRAILING : CX_OK;
      ck_assert_msg(got == want, "type %d, body %zu%+d: %s", t, body, d, cx_err_name(got));
      if (d > 0) ck_assert_uint_eq(off, at);
    }
  }

  /* the setter refuses what the decoder would */
  cx_tx tx;
  uint8_t m[CX_SIGN_MSG_MAX + 1] = {1};
  tx_init(&tx);
  tx.type = TX_SIGN_REQUEST;
  ck_assert_int_eq(tx_sign_request_set(&tx, m, 0), CX_E_INVALID_ARG);
  ck_assert_int_eq(tx_sign_request_set(&tx, NULL, 4), CX_E_INVALID_ARG);
  ck_assert_int_eq(tx_sign_request_set(&tx, m, CX_SIGN_MSG_MAX + 1), CX_E_TOO_LONG);
  ck_assert_ptr_null(tx.u.sreq.msg);
  ck_assert_int_eq(tx_sign_request_set(&tx, m, 3), CX_OK);
  ck_assert_int_eq(tx_sign_request_set(&tx, m + 1, CX_SIGN_MSG_MAX), CX_OK); /* replaces */
  ck_assert_uint_eq(tx.u.sreq.msg_len, CX_SIGN_MSG_MAX);
  ck_assert_uint_eq(tx.u.sreq.msg[0], 0);
  tx_clear(&tx);
  ck_assert_ptr_null(tx.u.sreq.msg);
}
END_TEST

/* tx_key_context = H_KEY(chain_id || str name || varint epoch || u8 t ||
 * varint n || n x pubkey), from the layout with plain SHA-256; every input
 * changes it. */
START_TEST(test_tx_key_context) {
  cx_hash chain;
  cx_pubkey parties[CX_MAX_VALIDATORS];
  uint8_t c0[32], c1[32], want[32];
  rand_hash(&chain);
  for (int i = 0; i < CX_MAX_VALIDATORS; i++) tu_randbytes(parties[i].b, 32);
  const uint32_t epochs[] = {0, 127, 128, UINT32_MAX};
  const uint32_t ns[] = {2, 4, CX_MAX_VALIDATORS};
  for (size_t a = 0; a < ARRAY_LEN(epochs); a++)
    for (size_t b = 0; b < ARRAY_LEN(ns); b++) {
      const char *name = b % 2 ? "results" : "vault-0123456789";
      uint8_t t = (uint8_t)(ns[b] - 1);
      cx_enc e;
      enc_init(&e);
      enc_fixed(&e, chain.b, 32);
      enc_str(&e, name);
      enc_varint(&e, epochs[a]);
      enc_u8(&e, t);
      enc_varint(&e, ns[b]);
      for (uint32_t i = 0; i < ns[b]; i++) enc_fixed(&e, parties[i].b, 32);
      ck_assert_int_eq(enc_finish(&e), CX_OK);
      ref_tagged("custos/key", e.buf, e.len, want);
      enc_free(&e);
      tx_key_context(&chain, name, epochs[a], t, parties, ns[b], c0);
      ck_assert_mem_eq(c0, want, 32);
      tx_key_context(&chain, name, epochs[a], t, parties, ns[b], c1); /* deterministic */
      ck_assert_mem_eq(c0, c1, 32);
    }
  tx_key_context(&chain, "results", 3, 3, parties, 4, c0);
  tx_key_context(&chain, "result", 3, 3, parties, 4, c1);
  ck_assert(memcmp(c0, c1, 32) != 0);
  tx_key_context(&chain, "results", 4, 3, parties, 4, c1);
  ck_assert(memcmp(c0, c1, 32) != 0);
  tx_key_context(&chain, "results", 3, 2, parties, 4, c1);
  ck_assert(memcmp(c0, c1, 32) != 0);
  tx_key_context(&chain, "results", 3, 3, parties, 5, c1);
  ck_assert(memcmp(c0, c1, 32) != 0);
  tx_key_context(&chain, "results", 3, 3, parties + 1, 4, c1); /* other parties, or another order */
  ck_assert(memcmp(c0, c1, 32) != 0);
  chain.b[0] ^= 1;
  tx_key_context(&chain, "results", 3, 3, parties, 4, c1);
  ck_assert(memcmp(c0, c1, 32) != 0);
  /* a golden value: the same inputs give the same context on every build */
  memset(chain.b, 0x11, 32);
  for (int i = 0; i < 4; i++) memset(parties[i].b, 0x20 + i, 32);
  tx_key_context(&chain, "results", 0, 3, parties, 4, c0);
  char hex[65];
  hex_encode(c0, 32, hex);
  ck_assert_str_eq(hex, KEY_CONTEXT_GOLDEN);
}
END_TEST


static cx_err member_rt(const cx_member *m, size_t *err_off, size_t *addr_at, size_t *dom_at) {
  cx_enc e;
  enc_init(&e);
  enc_str(&e, m->name);
  enc_u8(&e, m->role);
  enc_fixed(&e, m->key.b, 32);
  enc_fixed(&e, m->enc_key, 32);
  enc_bool(&e, m->validator);
  *addr_at = e.len;
  enc_str(&e, m->address);
  *dom_at = e.len;
  domain_set_enc(&e, &m->domains);
  /* same bytes as member_enc */
  cx_enc e2;
  enc_init(&e2);
  member_enc(&e2, m);
  ck_assert_uint_eq(e.len, e2.len);
  ck_assert_mem_eq(e.buf, e2.buf, e.len);
  enc_free(&e2);

  cx_dec d;
  cx_member got;
  dec_init(&d, e.buf, e.len);
  int r = member_dec(&d, &got);
  cx_err err = dec_finish(&d);
  ck_assert_int_eq(r == 0, err == CX_OK);
  if (err == CX_OK) assert_member_eq(m, &got);
  *err_off = d.err_off;
  enc_free(&e);
  return err;
}

START_TEST(test_member_dec) {
  cx_member m;
  size_t off, addr_at, dom_at;

  fill_member(&m, 1);
  ck_assert_int_eq(member_rt(&m, &off, &addr_at, &dom_at), CX_OK);
  fill_member(&m, 0);
  ck_assert_int_eq(member_rt(&m, &off, &addr_at, &dom_at), CX_OK);
  /* a bureau that is not a validator, an insurer that is */
  fill_member(&m, 1);
  m.validator = 0;
  m.address[0] = 0;
  ck_assert_int_eq(member_rt(&m, &off, &addr_at, &dom_at), CX_OK);
  fill_member(&m, 0);
  m.validator = 1;
  strcpy(m.address, "insurer.example:7400");
  ck_assert_int_eq(member_rt(&m, &off, &addr_at, &dom_at), CX_OK);

  /* non-validator with an address */
  fill_member(&m, 0);
  strcpy(m.address, "10.0.0.1:1");
  ck_assert_int_eq(member_rt(&m, &off, &addr_at, &dom_at), CX_E_NONCANONICAL);
  ck_assert_uint_eq(off, addr_at);
  /* validator without one */
  fill_member(&m, 1);
  m.address[0] = 0;
  ck_assert_int_eq(member_rt(&m, &off, &addr_at, &dom_at), CX_E_NONCANONICAL);
  ck_assert_uint_eq(off, addr_at);
  /* non-bureau with domains, for each non-bureau role */
  for (int role = ROLE_INSURER; role <= ROLE_REGULATOR; role++) {
    fill_member(&m, 0);
    m.role = (uint8_t)role;
    ck_assert_int_eq(domain_set_parse("credit", &m.domains), CX_OK);
    ck_assert_int_eq(member_rt(&m, &off, &addr_at, &dom_at), CX_E_NONCANONICAL);
    ck_assert_uint_eq(off, dom_at);
  }
  /* bad role */
  fill_member(&m, 0);
  m.role = 0;
  ck_assert_int_eq(member_rt(&m, &off, &addr_at, &dom_at), CX_E_BAD_ENUM);
  m.role = ROLE_REGULATOR + 1;
  ck_assert_int_eq(member_rt(&m, &off, &addr_at, &dom_at), CX_E_BAD_ENUM);
  /* bad name, bad address */
  fill_member(&m, 0);
  strcpy(m.name, "Insurer");
  ck_assert_int_eq(member_rt(&m, &off, &addr_at, &dom_at), CX_E_BAD_STRING);
  ck_assert_uint_eq(off, 0);
  m.name[0] = 0;
  ck_assert_int_eq(member_rt(&m, &off, &addr_at, &dom_at), CX_E_BAD_STRING);
  fill_member(&m, 1);
  strcpy(m.address, "10.0.0.1 :1");
  ck_assert_int_eq(member_rt(&m, &off, &addr_at, &dom_at), CX_E_BAD_STRING);
  ck_assert_uint_eq(off, addr_at);

  /* validator flag must be a canonical bool */
  fill_member(&m, 1);
  cx_enc e;
  enc_init(&e);
  member_enc(&e, &m);
  size_t vpos = 1 + strlen(m.name) + 1 + 32 + 32;
  ck_assert_uint_eq(e.buf[vpos], 1);
  e.buf[vpos] = 2;
  cx_dec d;
  cx_member got;
  dec_init(&d, e.buf, e.len);
  ck_assert_int_eq(member_dec(&d, &got), -1);
  ck_assert_int_eq(d.err, CX_E_NONCANONICAL);
  ck_assert_uint_eq(d.err_off, vpos);
  enc_free(&e);

  /* the same checks apply inside a member_propose transaction */
  cx_tx tx, gtx;
  make_tx(&tx, V_PROPOSE_ADD_INSURER);
  ck_assert_int_eq(domain_set_parse("credit", &tx.u.propose.member.domains), CX_OK);
  uint8_t *buf;
  size_t len;
  ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
  ck_assert_int_eq(tx_decode(buf, len, &gtx, &off), CX_E_NONCANONICAL);
  free(buf);
  tx_clear(&tx);
}
END_TEST

START_TEST(test_did_derive) {
  uint8_t salt[CX_SALT_MAX + 1];
  tu_randbytes(salt, sizeof salt);
  cx_hash a, b, c;
  ck_assert_int_eq(did_derive(salt, 16, "1234567890123", &a), CX_OK);
  ck_assert_int_eq(did_derive(salt, 16, "1234567890123", &b), CX_OK);
  ck_assert(hash_eq(&a, &b));
  /* salt-sensitive: one bit, one byte more or less */
  salt[3] ^= 1;
  ck_assert_int_eq(did_derive(salt, 16, "1234567890123", &c), CX_OK);
  ck_assert(!hash_eq(&a, &c));
  salt[3] ^= 1;
  ck_assert_int_eq(did_derive(salt, 15, "1234567890123", &c), CX_OK);
  ck_assert(!hash_eq(&a, &c));
  ck_assert_int_eq(did_derive(salt, 17, "1234567890123", &c), CX_OK);
  ck_assert(!hash_eq(&a, &c));
  /* id-sensitive */
  ck_assert_int_eq(did_derive(salt, 16, "1234567890124", &c), CX_OK);
  ck_assert(!hash_eq(&a, &c));
  /* the length prefix separates salt from id: (s||x, y) != (s, x||y) */
  uint8_t s2[3] = {'a', 'b', 'c'};
  cx_hash d1, d2;
  ck_assert_int_eq(did_derive(s2, 3, "de", &d1), CX_OK);
  ck_assert_int_eq(did_derive(s2, 2, "cde", &d2), CX_OK);
  ck_assert(!hash_eq(&d1, &d2));
  /* matches the documented formula H_DID(u8 len || salt || id) */
  uint8_t pre[1 + 16 + 13], want[32];
  pre[0] = 16;
  memcpy(pre + 1, salt, 16);
  memcpy(pre + 17, "1234567890123", 13);
  ref_tagged("custos/did", pre, sizeof pre, want);
  ck_assert_mem_eq(a.b, want, 32);
  /* argument checks */
  ck_assert_int_eq(did_derive(salt, 0, "1", &c), CX_E_INVALID_ARG);
  ck_assert_int_eq(did_derive(salt, CX_SALT_MAX + 1, "1", &c), CX_E_INVALID_ARG);
  ck_assert_int_eq(did_derive(salt, CX_SALT_MAX, "1", &c), CX_OK);
  ck_assert_int_eq(did_derive(salt, 16, "", &c), CX_E_INVALID_ARG);
  ck_assert_int_eq(did_derive(salt, 16, NULL, &c), CX_E_INVALID_ARG);
}
END_TEST

START_TEST(test_names) {
  const int types[] = {TX_MEMBER_PROPOSE,  TX_MEMBER_APPROVE,   TX_ID_REGISTER,
                       TX_ID_ATTEST,       TX_ID_ROTATE,        TX_ID_REVOKE,
                       TX_CONSENT_GRANT,   TX_CONSENT_REVOKE,   TX_CONTRACT_DEPLOY,
                       TX_CONTRACT_APPROVE, TX_CONTRACT_RETIRE, TX_EVIDENCE, TX_CALL,
                       TX_CALL_RESULT, TX_VAULT_ANCHOR, TX_MPC_EVIDENCE, TX_KEY_CREATE,
                       TX_KEY_DEAL, TX_KEY_VERDICT, TX_KEY_ANSWER, TX_KEY_ADVANCE,
                       TX_SIGN_REQUEST, TX_SIGN_APPROVE, TX_SIGN_RESULT};
  for (size_t i = 0; i < ARRAY_LEN(types); i++) {
    const char *n = tx_type_name(types[i]);
    ck_assert_str_ne(n, "unknown");
    ck_assert_int_eq(tx_type_parse(n), types[i]);
    for (size_t j = 0; j < i; j++) ck_assert_str_ne(n, tx_type_name(types[j]));
  }
  ck_assert_str_eq(tx_type_name(TX_MEMBER_PROPOSE), "member_propose");
  ck_assert_str_eq(tx_type_name(TX_CONSENT_GRANT), "consent_grant");
  ck_assert_str_eq(tx_type_name(TX_CONTRACT_RETIRE), "contract_retire");
  ck_assert_str_eq(tx_type_name(TX_EVIDENCE), "evidence");
  ck_assert_int_eq(TX_EVIDENCE, 40);
  ck_assert_str_eq(tx_type_name(TX_CALL), "call");
  ck_assert_int_eq(TX_CALL, 50);
  ck_assert_str_eq(tx_type_name(TX_CALL_RESULT), "call_result");
  ck_assert_int_eq(TX_CALL_RESULT, 51);
  ck_assert_str_eq(tx_type_name(TX_VAULT_ANCHOR), "vault_anchor");
  ck_assert_int_eq(TX_VAULT_ANCHOR, 33);
  ck_assert_str_eq(tx_type_name(TX_MPC_EVIDENCE), "mpc_evidence");
  ck_assert_int_eq(TX_MPC_EVIDENCE, 41);
  const char *const key_names[] = {"key_create", "key_deal", "key_verdict", "key_answer", "key_advance"};
  for (int i = 0; i < 5; i++) {
    ck_assert_str_eq(tx_type_name(TX_KEY_CREATE + i), key_names[i]);
    ck_assert_int_eq(tx_type_parse(key_names[i]), 60 + i);
  }
  const char *const sign_names[] = {"sign_request", "sign_approve", "sign_result"};
  for (int i = 0; i < 3; i++) {
    ck_assert_str_eq(tx_type_name(TX_SIGN_REQUEST + i), sign_names[i]);
    ck_assert_int_eq(tx_type_parse(sign_names[i]), 65 + i);
  }
  ck_assert_str_eq(tx_type_name(TX_KEY_RESHARE), "key_reshare");
  ck_assert_int_eq(tx_type_parse("key_reshare"), 68);
  const int bad_types[] = {-1, 0, 3, 9, 14, 22, 29, 34, 39, 42, 49, 52, 59, 69, 1000};
  for (size_t i = 0; i < ARRAY_LEN(bad_types); i++)
    ck_assert_str_eq(tx_type_name(bad_types[i]), "unknown");
  ck_assert_int_eq(tx_type_parse("unknown"), -1);
  ck_assert_int_eq(tx_type_parse(""), -1);
  ck_assert_int_eq(tx_type_parse(NULL), -1);
  ck_assert_int_eq(tx_type_parse("Member_Propose"), -1);

  const char *roles[] = {"bureau", "insurer", "auditor", "regulator"};
  for (int r = ROLE_BUREAU; r <= ROLE_REGULATOR; r++) {
    ck_assert_str_eq(role_name(r), roles[r - 1]);
    ck_assert_int_eq(role_parse(roles[r - 1]), r);
  }
  ck_assert_str_eq(role_name(0), "unknown");
  ck_assert_str_eq(role_name(5), "unknown");
  ck_assert_int_eq(role_parse("unknown"), -1);
  ck_assert_int_eq(role_parse("Bureau"), -1);
  ck_assert_int_eq(role_parse(NULL), -1);

  ck_assert_str_eq(level_name(LEVEL_EA5_MINUS), "EA5-");
  ck_assert_str_eq(level_name(LEVEL_EA5_PLUS), "EA5+");
  ck_assert_int_eq(level_parse("EA5-"), LEVEL_EA5_MINUS);
  ck_assert_int_eq(level_parse("EA5+"), LEVEL_EA5_PLUS);
  ck_assert_int_eq(level_parse("ea5+"), -1);
  ck_assert_int_eq(level_parse("EA5"), -1);
  ck_assert_str_eq(level_name(0), "unknown");
  ck_assert_str_eq(level_name(3), "unknown");

  const char *acts[] = {"add", "remove", "rekey"};
  for (int a = GOV_ADD; a <= GOV_REKEY; a++) {
    ck_assert_str_eq(gov_action_name(a), acts[a - 1]);
    ck_assert_int_eq(gov_action_parse(acts[a - 1]), a);
  }
  ck_assert_str_eq(gov_action_name(0), "unknown");
  ck_assert_str_eq(gov_action_name(4), "unknown");
  ck_assert_int_eq(gov_action_parse("delete"), -1);
  ck_assert_int_eq(gov_action_parse(NULL), -1);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* blocks and certificates                                                  */
/* ------------------------------------------------------------------------ */

static void make_block(cx_block *b, size_t ntx, cx_seckey *k) {
  block_init(b);
  rand_hash(&b->h.chain_id);
  b->h.height = rand_u64_any_width();
  rand_hash(&b->h.parent);
  b->h.time_ms = 1700000000000ull + tu_rand() % 1000000;
  tu_randbytes(b->h.proposer.b, 32);
  b->h.view = tu_rand() % 5;
  rand_hash(&b->h.receipts_root);
  rand_hash(&b->h.state_root);
  cx_hash ids[V_COUNT * 2];
  ck_assert_uint_le(ntx, ARRAY_LEN(ids));
  for (size_t i = 0; i < ntx; i++) {
    cx_tx tx;
    make_tx(&tx, (int)(i % V_COUNT));
    tx.chain_id = b->h.chain_id;
    ck_assert_int_eq(tx_sign(&tx, k), CX_OK);
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(tx_encode(&tx, 1, &buf, &len), CX_OK);
    tx_id_of_bytes(buf, len, &ids[i]);
    ck_assert_int_eq(block_add_tx(b, buf, len), CX_OK);
    free(buf);
    tx_clear(&tx);
  }
  merkle_root(ids, ntx, &b->h.tx_root);
}

static void assert_header_eq(const cx_block_header *a, const cx_block_header *b) {
  ck_assert(hash_eq(&a->chain_id, &b->chain_id));
  ck_assert(a->height == b->height);
  ck_assert(hash_eq(&a->parent, &b->parent));
  ck_assert(a->time_ms == b->time_ms);
  ck_assert_mem_eq(a->proposer.b, b->proposer.b, 32);
  ck_assert(a->view == b->view);
  ck_assert(hash_eq(&a->tx_root, &b->tx_root));
  ck_assert(hash_eq(&a->receipts_root, &b->receipts_root));
  ck_assert(hash_eq(&a->state_root, &b->state_root));
}

START_TEST(test_block_roundtrip) {
  cx_seckey *k = key_generate();
  const size_t counts[] = {0, 1, 3, 17};
  for (size_t c = 0; c < ARRAY_LEN(counts); c++) {
    cx_block b, got;
    make_block(&b, counts[c], k);
    uint8_t *buf, *buf2;
    size_t len, len2;
    ck_assert_int_eq(block_encode(&b, &buf, &len), CX_OK);
    ck_assert_int_eq(block_decode(buf, len, &got), CX_OK);
    assert_header_eq(&b.h, &got.h);
    ck_assert_uint_eq(got.ntx, b.ntx);
    for (size_t i = 0; i < b.ntx; i++) {
      ck_assert_uint_eq(got.tx_len[i], b.tx_len[i]);
      ck_assert_mem_eq(got.txs[i], b.txs[i], b.tx_len[i]);
      cx_tx tx;
      ck_assert_int_eq(tx_decode(got.txs[i], got.tx_len[i], &tx, NULL), CX_OK);
      ck_assert_int_eq(tx_verify_sig(&tx), CX_OK);
      tx_clear(&tx);
      /* block_tx_at finds the same bytes without decoding the block */
      const uint8_t *t;
      size_t tl;
      ck_assert_int_eq(block_tx_at(buf, len, i, &t, &tl), CX_OK);
      ck_assert_uint_eq(tl, b.tx_len[i]);
      ck_assert_mem_eq(t, b.txs[i], tl);
      if (len > 1) ck_assert_int_ne(block_tx_at(buf, len - 1 - (tl / 2), b.ntx - 1, &t, &tl), CX_OK);
    }
    {
      const uint8_t *t;
      size_t tl;
      ck_assert_int_eq(block_tx_at(buf, len, b.ntx, &t, &tl), CX_E_NOT_FOUND);
    }
    ck_assert_int_eq(block_encode(&got, &buf2, &len2), CX_OK);
    ck_assert_uint_eq(len, len2);
    ck_assert_mem_eq(buf, buf2, len);
    block_clear(&got);

    /* header hash: block_hash, block_peek and H_BLOCK(header bytes) agree */
    cx_hash h1, h2;
    cx_block_header ph;
    block_hash(&b.h, &h1);
    ck_assert_int_eq(block_peek(buf, len, &ph, &h2), CX_OK);
    ck_assert(hash_eq(&h1, &h2));
    assert_header_eq(&b.h, &ph);
    uint8_t *hb;
    size_t hlen;
    block_header_encode(&b.h, &hb, &hlen);
    ck_assert_uint_le(hlen, len);
    ck_assert_mem_eq(hb, buf, hlen); /* the block starts with its header */
    uint8_t ref[32];
    ref_tagged("custos/block", hb, hlen, ref);
    ck_assert_mem_eq(h1.b, ref, 32);
    /* peek needs only the header */
    ck_assert_int_eq(block_peek(buf, hlen, &ph, &h2), CX_OK);
    ck_assert(hash_eq(&h1, &h2));
    ck_assert_int_ne(block_peek(buf, hlen - 1, &ph, &h2), CX_OK);
    /* any header change changes the hash */
    cx_block_header h = b.h;
    h.view++;
    block_hash(&h, &h2);
    ck_assert(!hash_eq(&h1, &h2));
    free(hb);

    /* trailing bytes */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    ck_assert_int_eq(block_decode(longer, len + 1, &got), CX_E_TRAILING);
    ck_assert_uint_eq(got.ntx, 0);
    free(longer);
    /* truncation at every length */
    for (size_t l = 0; l < len; l++) {
      cx_block g2;
      uint8_t *cut = malloc(l ? l : 1);
      memcpy(cut, buf, l);
      ck_assert_int_eq(block_decode(cut, l, &g2), CX_E_TRUNCATED);
      free(cut);
    }
    /* version */
    buf[0] = 2;
    ck_assert_int_eq(block_decode(buf, len, &got), CX_E_BAD_VERSION);
    ck_assert_int_eq(block_peek(buf, len, &ph, &h2), CX_E_BAD_VERSION);
    buf[0] = 1;
    free(buf);
    free(buf2);
    block_clear(&b);
    block_clear(&got);
  }
  key_free(k);
}
END_TEST

START_TEST(test_block_limits) {
  cx_block b, got;
  make_block(&b, 0, NULL);
  uint8_t *hb;
  size_t hlen;
  block_header_encode(&b.h, &hb, &hlen);
  cx_enc e;
  /* more transactions than allowed */
  enc_init(&e);
  enc_fixed(&e, hb, hlen);
  enc_varint(&e, CX_BLOCK_MAX_TXS + 1);
  ck_assert_int_eq(block_decode(e.buf, e.len, &got), CX_E_TOO_LONG);
  enc_free(&e);
  /* a transaction over the per-tx cap: refused before reading it */
  enc_init(&e);
  enc_fixed(&e, hb, hlen);
  enc_varint(&e, 1);
  enc_varint(&e, 128 * 1024 + 1);
  ck_assert_int_eq(block_decode(e.buf, e.len, &got), CX_E_TOO_LONG);
  enc_free(&e);
  /* non-canonical count */
  enc_init(&e);
  enc_fixed(&e, hb, hlen);
  enc_u8(&e, 0x80);
  enc_u8(&e, 0x00);
  ck_assert_int_eq(block_decode(e.buf, e.len, &got), CX_E_NONCANONICAL);
  enc_free(&e);
  /* whole-block cap */
  uint8_t *huge = calloc(CX_BLOCK_MAX_BYTES + 1, 1);
  ck_assert_ptr_nonnull(huge);
  memcpy(huge, hb, hlen);
  ck_assert_int_eq(block_decode(huge, CX_BLOCK_MAX_BYTES + 1, &got), CX_E_TOO_LONG);
  free(huge);
  free(hb);
  block_clear(&b);
}
END_TEST

START_TEST(test_receipt_leaf) {
  cx_hash id, leaf;
  rand_hash(&id);
  const int32_t codes[] = {0, 1, 200, 345, -1, INT32_MIN, INT32_MAX};
  cx_hash seen[ARRAY_LEN(codes)];
  for (size_t i = 0; i < ARRAY_LEN(codes); i++) {
    receipt_leaf(&id, codes[i], &leaf);
    uint8_t pre[36], want[32];
    uint32_t c = (uint32_t)codes[i];
    memcpy(pre, id.b, 32);
    pre[32] = (uint8_t)(c >> 24);
    pre[33] = (uint8_t)(c >> 16);
    pre[34] = (uint8_t)(c >> 8);
    pre[35] = (uint8_t)c;
    ref_tagged("custos/receipt", pre, 36, want);
    ck_assert_mem_eq(leaf.b, want, 32);
    seen[i] = leaf;
    for (size_t j = 0; j < i; j++) ck_assert(!hash_eq(&seen[i], &seen[j]));
  }
}
END_TEST

static void sign_vote(cx_seckey *k, const cx_hash *chain, uint64_t height, uint64_t view,
                      const cx_hash *bh, cx_sig *out) {
  cx_hash m;
  vote_message(chain, height, view, bh, &m);
  ck_assert_int_eq(key_sign32(k, m.b, NULL, out), CX_OK);
}

START_TEST(test_vote_message) {
  cx_hash chain, bh, m;
  rand_hash(&chain);
  rand_hash(&bh);
  vote_message(&chain, 1000, 2, &bh, &m);
  uint8_t pre[32 + 2 + 1 + 32], want[32];
  memcpy(pre, chain.b, 32);
  pre[32] = 0xe8; /* 1000 */
  pre[33] = 0x07;
  pre[34] = 0x02;
  memcpy(pre + 35, bh.b, 32);
  ref_tagged("custos/vote", pre, sizeof pre, want);
  ck_assert_mem_eq(m.b, want, 32);
  cx_hash m2;
  vote_message(&chain, 1000, 3, &bh, &m2);
  ck_assert(!hash_eq(&m, &m2));
  vote_message(&chain, 1001, 2, &bh, &m2);
  ck_assert(!hash_eq(&m, &m2));
}
END_TEST

/* The consensus digests from bft.h's formulas, laid out by hand. */
START_TEST(test_cs_msg_digest) {
  cx_hash chain, bh, zero, vm;
  uint8_t got[32], want[32], pre[32 + 10 + 5 + 5 + 32];
  rand_hash(&chain);
  rand_hash(&bh);
  memset(&zero, 0, sizeof zero);

  /* PROPOSAL h=1000 r=2: pol_round nil is written as 0 (nil + 1 wraps) */
  const struct {
    uint32_t pol;
    uint8_t wire[5];
    size_t n;
  } pols[] = {
      {CX_CS_NIL_ROUND, {0x00}, 1},
      {0, {0x01}, 1},
      {126, {0x7f}, 1},
      {127, {0x80, 0x01}, 2},
      {UINT32_MAX - 1, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5},
  };
  uint8_t seen[ARRAY_LEN(pols)][32];
  for (size_t i = 0; i < ARRAY_LEN(pols); i++) {
    size_t n = 0;
    memcpy(pre, chain.b, 32);
    n = 32;
    pre[n++] = 0xe8; /* 1000 */
    pre[n++] = 0x07;
    pre[n++] = 0x02;
    memcpy(pre + n, pols[i].wire, pols[i].n);
    n += pols[i].n;
    memcpy(pre + n, bh.b, 32);
    n += 32;
    ref_tagged("custos/cs-proposal", pre, n, want);
    cs_msg_digest(&chain, CX_CS_PROPOSAL, 1000, 2, pols[i].pol, &bh, got);
    ck_assert_msg(memcmp(got, want, 32) == 0, "pol_round %u", pols[i].pol);
    memcpy(seen[i], got, 32);
    for (size_t j = 0; j < i; j++) ck_assert(memcmp(seen[i], seen[j], 32) != 0);
  }

  /* PREVOTE h=UINT64_MAX r=300: no pol_round (ignored if given) */
  memcpy(pre, chain.b, 32);
  memset(pre + 32, 0xff, 9);
  pre[41] = 0x01;
  pre[42] = 0xac; /* 300 */
  pre[43] = 0x02;
  memcpy(pre + 44, bh.b, 32);
  ref_tagged("custos/cs-prevote", pre, 76, want);
  cs_msg_digest(&chain, CX_CS_PREVOTE, UINT64_MAX, 300, CX_CS_NIL_ROUND, &bh, got);
  ck_assert_mem_eq(got, want, 32);
  cs_msg_digest(&chain, CX_CS_PREVOTE, UINT64_MAX, 300, 7, &bh, got);
  ck_assert_mem_eq(got, want, 32);
  /* a nil prevote */
  memset(pre + 44, 0, 32);
  ref_tagged("custos/cs-prevote", pre, 76, want);
  cs_msg_digest(&chain, CX_CS_PREVOTE, UINT64_MAX, 300, CX_CS_NIL_ROUND, &zero, got);
  ck_assert_mem_eq(got, want, 32);

  /* PRECOMMIT is the certificate's vote message: H_VOTE, pol_round ignored */
  memcpy(pre, chain.b, 32);
  pre[32] = 0x05;
  pre[33] = 0x00;
  memcpy(pre + 34, bh.b, 32);
  ref_tagged("custos/vote", pre, 66, want);
  cs_msg_digest(&chain, CX_CS_PRECOMMIT, 5, 0, CX_CS_NIL_ROUND, &bh, got);
  ck_assert_mem_eq(got, want, 32);
  cs_msg_digest(&chain, CX_CS_PRECOMMIT, 5, 0, 3, &bh, got);
  ck_assert_mem_eq(got, want, 32);
  vote_message(&chain, 5, 0, &bh, &vm);
  ck_assert_mem_eq(got, vm.b, 32);

  /* the three types never share a digest for the same inputs */
  uint8_t d[3][32];
  for (int t = CX_CS_PROPOSAL; t <= CX_CS_PRECOMMIT; t++)
    cs_msg_digest(&chain, (uint8_t)t, 9, 1, CX_CS_NIL_ROUND, &bh, d[t - 1]);
  ck_assert(memcmp(d[0], d[1], 32) != 0 && memcmp(d[0], d[2], 32) != 0 &&
            memcmp(d[1], d[2], 32) != 0);
  /* and each input counts */
  cx_hash chain2 = chain;
  chain2.b[0] ^= 1;
  cs_msg_digest(&chain2, CX_CS_PREVOTE, 9, 1, CX_CS_NIL_ROUND, &bh, got);
  ck_assert(memcmp(got, d[1], 32) != 0);
  cs_msg_digest(&chain, CX_CS_PREVOTE, 10, 1, CX_CS_NIL_ROUND, &bh, got);
  ck_assert(memcmp(got, d[1], 32) != 0);
  cs_msg_digest(&chain, CX_CS_PREVOTE, 9, 2, CX_CS_NIL_ROUND, &bh, got);
  ck_assert(memcmp(got, d[1], 32) != 0);
}
END_TEST

START_TEST(test_cert_codec) {
  cx_cert c, got;
  memset(&c, 0, sizeof c);
  c.height = 123456789;
  c.view = 3;
  rand_hash(&c.block_hash);
  const uint16_t signers[] = {0, 2, 5, 63};
  c.nvotes = ARRAY_LEN(signers);
  for (size_t i = 0; i < c.nvotes; i++) {
    c.votes[i].signer = signers[i];
    tu_randbytes(c.votes[i].sig.b, 64);
  }
  uint8_t *buf, *buf2;
  size_t len, len2;
  ck_assert_int_eq(cert_encode(&c, &buf, &len), CX_OK);
  ck_assert_int_eq(cert_decode(buf, len, &got), CX_OK);
  ck_assert(got.height == c.height);
  ck_assert(got.view == c.view);
  ck_assert(hash_eq(&got.block_hash, &c.block_hash));
  ck_assert_uint_eq(got.nvotes, c.nvotes);
  for (size_t i = 0; i < c.nvotes; i++) {
    ck_assert_uint_eq(got.votes[i].signer, c.votes[i].signer);
    ck_assert_mem_eq(got.votes[i].sig.b, c.votes[i].sig.b, 64);
  }
  ck_assert_int_eq(cert_encode(&got, &buf2, &len2), CX_OK);
  ck_assert_uint_eq(len, len2);
  ck_assert_mem_eq(buf, buf2, len);
  free(buf2);
  /* trailing, truncation */
  uint8_t *longer = malloc(len + 1);
  memcpy(longer, buf, len);
  longer[len] = 7;
  ck_assert_int_eq(cert_decode(longer, len + 1, &got), CX_E_TRAILING);
  free(longer);
  for (size_t l = 0; l < len; l++) ck_assert_int_eq(cert_decode(buf, l, &got), CX_E_TRUNCATED);
  free(buf);

  /* unsorted and duplicate signers */
  c.votes[1].signer = 0;
  ck_assert_int_eq(cert_encode(&c, &buf, &len), CX_OK);
  ck_assert_int_eq(cert_decode(buf, len, &got), CX_E_UNSORTED);
  free(buf);
  c.votes[1].signer = 6;
  ck_assert_int_eq(cert_encode(&c, &buf, &len), CX_OK);
  ck_assert_int_eq(cert_decode(buf, len, &got), CX_E_UNSORTED);
  free(buf);
  c.votes[1].signer = 2;
  /* signer index out of range, too many votes */
  c.votes[3].signer = CX_MAX_VALIDATORS;
  ck_assert_int_eq(cert_encode(&c, &buf, &len), CX_OK);
  ck_assert_int_eq(cert_decode(buf, len, &got), CX_E_TOO_LONG);
  free(buf);
  c.votes[3].signer = 63;
  cx_enc e;
  enc_init(&e);
  enc_varint(&e, 1);
  enc_varint(&e, 0);
  enc_fixed(&e, c.block_hash.b, 32);
  enc_varint(&e, CX_MAX_VALIDATORS + 1);
  ck_assert_int_eq(cert_decode(e.buf, e.len, &got), CX_E_TOO_LONG);
  enc_free(&e);
  /* empty certificate decodes (cert_verify refuses it) */
  c.nvotes = 0;
  ck_assert_int_eq(cert_encode(&c, &buf, &len), CX_OK);
  ck_assert_int_eq(cert_decode(buf, len, &got), CX_OK);
  ck_assert_uint_eq(got.nvotes, 0);
  free(buf);
}
END_TEST

START_TEST(test_quorum) {
  const unsigned want[] = {0, 1, 2, 3, 3, 4, 5, 5, 6, 7, 7};
  for (unsigned n = 1; n <= 10; n++) {
    ck_assert_uint_eq(quorum_size(n), want[n]);
    ck_assert_uint_eq(quorum_f(n), (n - 1) / 3);
  }
  for (unsigned n = 1; n <= CX_MAX_VALIDATORS; n++) {
    unsigned q = quorum_size(n), f = quorum_f(n);
    ck_assert_uint_ge(n, 3 * f + 1);           /* tolerates f faults */
    ck_assert_uint_le(q, n - f);               /* live with f silent */
    ck_assert_uint_ge(2 * q, n + f + 1);       /* two quorums share an honest node */
  }
  ck_assert_uint_eq(quorum_f(0), 0);
}
END_TEST

START_TEST(test_cert_verify) {
  cx_seckey *k[4];
  cx_pubkey pk[4];
  for (int i = 0; i < 4; i++) {
    k[i] = key_generate();
    key_public(k[i], &pk[i]);
  }
  cx_hash chain, bh, other;
  rand_hash(&chain);
  rand_hash(&bh);
  rand_hash(&other);
  const uint64_t H = 42, V = 1;

  /* n = 1 */
  cx_cert c;
  memset(&c, 0, sizeof c);
  c.height = H;
  c.view = V;
  c.block_hash = bh;
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk, 1), CX_E_BAD_CERT); /* no votes */
  c.nvotes = 1;
  c.votes[0].signer = 0;
  sign_vote(k[0], &chain, H, V, &bh, &c.votes[0].sig);
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk, 1), CX_OK);
  ck_assert_int_eq(cert_verify(&c, &chain, H + 1, &bh, pk, 1), CX_E_BAD_CERT);
  ck_assert_int_eq(cert_verify(&c, &chain, H, &other, pk, 1), CX_E_BAD_CERT);
  ck_assert_int_eq(cert_verify(&c, &other, H, &bh, pk, 1), CX_E_BAD_CERT); /* other chain */
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, &pk[1], 1), CX_E_BAD_CERT); /* other key */
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk, 0), CX_E_BAD_CERT);

  /* n = 4, quorum 3 */
  cx_sig s[4];
  for (int i = 0; i < 4; i++) sign_vote(k[i], &chain, H, V, &bh, &s[i]);
#define SET_VOTES(...)                                                    \
  do {                                                                    \
    const int idx_[] = {__VA_ARGS__};                                     \
    c.nvotes = (uint16_t)ARRAY_LEN(idx_);                                 \
    for (size_t q_ = 0; q_ < ARRAY_LEN(idx_); q_++) {                     \
      c.votes[q_].signer = (uint16_t)idx_[q_];                            \
      c.votes[q_].sig = s[idx_[q_]];                                      \
    }                                                                     \
  } while (0)
  SET_VOTES(0, 1, 2);
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk, 4), CX_OK);
  SET_VOTES(1, 2, 3);
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk, 4), CX_OK);
  SET_VOTES(0, 2, 3);
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk, 4), CX_OK);
  SET_VOTES(0, 1, 2, 3);
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk, 4), CX_OK);
  /* round trip through the codec keeps it valid */
  uint8_t *buf;
  size_t len;
  cx_cert got;
  ck_assert_int_eq(cert_encode(&c, &buf, &len), CX_OK);
  ck_assert_int_eq(cert_decode(buf, len, &got), CX_OK);
  ck_assert_int_eq(cert_verify(&got, &chain, H, &bh, pk, 4), CX_OK);
  free(buf);
  /* 2 of 4 is not a quorum */
  SET_VOTES(0, 1);
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk, 4), CX_E_BAD_CERT);
  SET_VOTES(2, 3);
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk, 4), CX_E_BAD_CERT);
  /* a bad signature among three */
  SET_VOTES(0, 1, 2);
  c.votes[1].sig.b[10] ^= 1;
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk, 4), CX_E_BAD_CERT);
  /* a signature by the wrong validator for its index */
  SET_VOTES(0, 1, 2);
  c.votes[2].sig = s[3];
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk, 4), CX_E_BAD_CERT);
  /* duplicate signer: three votes but only two validators */
  SET_VOTES(0, 1, 1);
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk, 4), CX_E_BAD_CERT);
  SET_VOTES(0, 0, 0);
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk, 4), CX_E_BAD_CERT);
  /* unsorted signers */
  SET_VOTES(1, 0, 2);
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk, 4), CX_E_BAD_CERT);
  SET_VOTES(3, 2, 1);
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk, 4), CX_E_BAD_CERT);
  /* signer index out of range */
  SET_VOTES(0, 1, 2);
  c.votes[2].signer = 4;
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk, 4), CX_E_BAD_CERT);
  /* wrong block hash / height, in the certificate or asked for */
  SET_VOTES(0, 1, 2);
  ck_assert_int_eq(cert_verify(&c, &chain, H, &other, pk, 4), CX_E_BAD_CERT);
  ck_assert_int_eq(cert_verify(&c, &chain, H - 1, &bh, pk, 4), CX_E_BAD_CERT);
  c.block_hash = other;
  ck_assert_int_eq(cert_verify(&c, &chain, H, &other, pk, 4), CX_E_BAD_CERT);
  c.block_hash = bh;
  c.height = H + 1;
  ck_assert_int_eq(cert_verify(&c, &chain, H + 1, &bh, pk, 4), CX_E_BAD_CERT);
  c.height = H;
  /* votes for another view do not count for this one */
  c.view = V + 1;
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk, 4), CX_E_BAD_CERT);
  c.view = V;
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk, 4), CX_OK);
  /* the same three votes are not a quorum of a larger set */
  cx_pubkey pk7[7];
  for (int i = 0; i < 7; i++) pk7[i] = pk[i % 4];
  ck_assert_int_eq(cert_verify(&c, &chain, H, &bh, pk7, 7), CX_E_BAD_CERT);
#undef SET_VOTES
  for (int i = 0; i < 4; i++) key_free(k[i]);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* clock, log                                                               */
/* ------------------------------------------------------------------------ */

START_TEST(test_clock_fake) {
  cx_fake_clock fc;
  clock_fake_init(&fc, 1000);
  cx_clock *c = &fc.base;
  ck_assert_uint_eq(c->now_ms(c), 1000);
  ck_assert_uint_eq(c->mono_ms(c), 1000);
  ck_assert_uint_eq(c->now_ms(c), 1000); /* does not move by itself */
  clock_fake_advance(&fc, 250);
  ck_assert_uint_eq(c->now_ms(c), 1250);
  ck_assert_uint_eq(c->mono_ms(c), 1250);
  clock_fake_advance(&fc, 0);
  ck_assert_uint_eq(c->now_ms(c), 1250);
  clock_fake_advance(&fc, 1ull << 40);
  ck_assert_uint_eq(c->now_ms(c), 1250 + (1ull << 40));

  cx_clock *s = clock_system();
  ck_assert_ptr_eq(s, clock_system());
  uint64_t now = s->now_ms(s);
  ck_assert_uint_gt(now, 1600000000000ull); /* after 2020 */
  uint64_t m1 = s->mono_ms(s);
  usleep(20 * 1000);
  uint64_t m2 = s->mono_ms(s);
  ck_assert_uint_ge(m2, m1 + 10);
}
END_TEST

/* Runs log_msg with stderr redirected to a file; returns what was written. */
static char *capture_log(log_level lvl, const char *module, const char *msg) {
  char *dir = tu_tmpdir("custos-log");
  char path[512];
  snprintf(path, sizeof path, "%s/err.txt", dir);
  fflush(stderr);
  int saved = dup(2);
  FILE *f = fopen(path, "w+");
  ck_assert_ptr_nonnull(f);
  dup2(fileno(f), 2);
  /* log_msg formats into a stack buffer: a write past it lands in the
   * caller's frame, which ASan does not always see. Guard it. */
  volatile char guard[16384];
  for (size_t i = 0; i < sizeof guard; i++) guard[i] = 'g';
  log_msg(lvl, module, "%s", msg);
  size_t bad = sizeof guard;
  for (size_t i = 0; i < sizeof guard; i++)
    if (guard[i] != 'g') {
      bad = i;
      break;
    }
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  ck_assert_msg(bad == sizeof guard, "log_msg wrote past its buffer (guard byte %zu)", bad);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *out = calloc((size_t)n + 1, 1);
  ck_assert_uint_eq(fread(out, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  tu_rmrf(dir);
  free(dir);
  return out;
}

START_TEST(test_log) {
  const char *names[] = {"trace", "debug", "info", "warn", "error", "off"};
  for (int i = LOG_TRACE; i <= LOG_OFF; i++) {
    ck_assert_int_eq(log_level_parse(names[i]), i);
    ck_assert_str_eq(log_level_name((log_level)i), names[i]);
  }
  ck_assert_int_eq(log_level_parse("INFO"), -1);
  ck_assert_int_eq(log_level_parse(NULL), -1);
  log_set_level(LOG_WARN);
  ck_assert_int_eq(log_get_level(), LOG_WARN);

  char *s = capture_log(LOG_INFO, "core", "dropped");
  ck_assert_str_eq(s, "");
  free(s);
  s = capture_log(LOG_ERROR, "core", "hello 42");
  /* 2026-11-21T10:00:00.123Z ERROR [core] hello 42\n */
  ck_assert_uint_eq(strlen(s), 24 + 1 + 5 + 1 + 6 + 1 + 8 + 1);
  ck_assert_int_eq(s[4], '-');
  ck_assert_int_eq(s[10], 'T');
  ck_assert_int_eq(s[19], '.');
  ck_assert_int_eq(s[23], 'Z');
  /* level names: compared without case (log.h shows them upper-case) */
  ck_assert_int_eq(strncasecmp(s + 24, " error [core] hello 42\n", 23), 0);
  free(s);

  /* over-long messages and module names are cut, still one line */
  char big[3000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  s = capture_log(LOG_ERROR, "core", big);
  ck_assert_uint_le(strlen(s), 1023);
  ck_assert_int_eq(s[strlen(s) - 1], '\n');
  ck_assert_ptr_eq(strchr(s, '\n'), s + strlen(s) - 1); /* exactly one line */
  free(s);
  s = capture_log(LOG_ERROR, big, "after a long module name");
  ck_assert_uint_le(strlen(s), 1023);
  ck_assert_uint_gt(strlen(s), 0);
  ck_assert_int_eq(s[strlen(s) - 1], '\n');
  free(s);
  /* LOG_OFF is never printed */
  log_set_level(LOG_TRACE);
  s = capture_log(LOG_OFF, "core", "never");
  ck_assert_str_eq(s, "");
  free(s);
  log_set_level(LOG_INFO);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *core_suite(void) {
  Suite *s = suite_create("core");
  TCase *tc;

  tc = tcase_create("error");
  tcase_add_test(tc, test_error_names_distinct);
  tcase_add_test(tc, test_error_numbers_stable);
  suite_add_tcase(s, tc);

  tc = tcase_create("hash");
  tcase_add_test(tc, test_sha256_known);
  tcase_add_test(tc, test_hash_tags_distinct);
  tcase_add_test(tc, test_hash_tagged_matches_bip340_definition);
  tcase_add_test(tc, test_hash_incremental);
  tcase_add_test(tc, test_hash_eq_zero);
  tcase_add_test(tc, test_hex);
  suite_add_tcase(s, tc);

  tc = tcase_create("keys");
  tcase_add_test(tc, test_bip340_vectors);
  tcase_add_test(tc, test_keys_misc);
  suite_add_tcase(s, tc);

  tc = tcase_create("codec");
  tcase_add_test(tc, test_varint_roundtrip);
  tcase_add_test(tc, test_varint_noncanonical);
  tcase_add_test(tc, test_codec_roundtrip_mixed);
  tcase_add_test(tc, test_codec_errors);
  tcase_add_test(tc, test_codec_strings);
  tcase_add_test(tc, test_domain_set_codec);
  tcase_add_test(tc, test_domain_set_parse);
  suite_add_tcase(s, tc);

  tc = tcase_create("merkle");
  tcase_add_test(tc, test_merkle);
  tcase_add_test(tc, test_merkle_path_too_long);
  tcase_add_test(tc, test_merkle_climb);
  suite_add_tcase(s, tc);

  tc = tcase_create("tx");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_tx_roundtrip);
  tcase_add_test(tc, test_tx_layout);
  tcase_add_test(tc, test_tx_sign_verify);
  tcase_add_test(tc, test_tx_flip_grant);
  tcase_add_test(tc, test_tx_flip_deploy);
  tcase_add_test(tc, test_tx_flip_propose);
  tcase_add_test(tc, test_tx_flip_attest);
  tcase_add_test(tc, test_tx_flip_evidence);
  tcase_add_test(tc, test_tx_flip_call);
  tcase_add_test(tc, test_tx_flip_result);
  tcase_add_test(tc, test_tx_flip_keys);
  tcase_add_test(tc, test_tx_flip_sign);
  tcase_add_test(tc, test_tx_flip_anchor);
  tcase_add_test(tc, test_tx_flip_mpc_evidence);
  tcase_add_test(tc, test_tx_mpc_evidence_errors);
  tcase_add_test(tc, test_tx_call_session_id);
  tcase_add_test(tc, test_tx_anchor_layout);
  tcase_add_test(tc, test_tx_result_errors);
  tcase_add_test(tc, test_tx_result_fe);
  tcase_add_test(tc, test_tx_result_statement);
  tcase_add_test(tc, test_tx_result_frost_errors);
  tcase_add_test(tc, test_tx_result_frost_msg);
  tcase_add_test(tc, test_tx_result_batch_errors);
  tcase_add_test(tc, test_tx_result_signed_msg);
  tcase_add_test(tc, test_tx_key_errors);
  tcase_add_test(tc, test_tx_key_reshare);
  tcase_add_test(tc, test_tx_sign_errors);
  tcase_add_test(tc, test_tx_key_context);
  tcase_add_test(tc, test_tx_call_errors);
  tcase_add_test(tc, test_tx_call_context);
  tcase_add_test(tc, test_tx_truncate_append);
  tcase_add_test(tc, test_tx_body_errors);
  tcase_add_test(tc, test_tx_evidence);
  tcase_add_test(tc, test_member_dec);
  tcase_add_test(tc, test_did_derive);
  tcase_add_test(tc, test_names);
  suite_add_tcase(s, tc);

  tc = tcase_create("block");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_block_roundtrip);
  tcase_add_test(tc, test_block_limits);
  tcase_add_test(tc, test_receipt_leaf);
  tcase_add_test(tc, test_vote_message);
  tcase_add_test(tc, test_cs_msg_digest);
  tcase_add_test(tc, test_cert_codec);
  tcase_add_test(tc, test_quorum);
  tcase_add_test(tc, test_cert_verify);
  suite_add_tcase(s, tc);

  tc = tcase_create("misc");
  tcase_add_test(tc, test_clock_fake);
  tcase_add_test(tc, test_log);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(core_suite());
}
