/* fuzz_block_decode: block_decode / block_peek and cert_decode / cert_verify,
 * the parsers of what peers send during sync and consensus.
 *
 * Input: byte 0 selects the parser (low bit 0: block, 1: commit certificate),
 * the rest is the encoding. Seeds in corpus/fuzz_block_decode start with 0x00
 * (blocks) or 0x01 (certificates; some carry votes that really verify against
 * the fixed validator set below: chain id all zero, secret keys 0x01.., 0x02..,
 * 0x03.., 0x04.. repeated 32 times).
 * Checks: no crash or leak (sanitizers); an accepted input is canonical
 * (re-encoding gives exactly the input bytes); block_peek accepts every block
 * that block_decode accepts and its hash is block_hash of the decoded header;
 * a decoded certificate has strictly ascending signers in range; cert_verify
 * answers OK or BAD_CERT. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "error.h"
#include "keys.h"
#include "tx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NVAL 4

static cx_pubkey g_vals[NVAL];
static int g_vals_ready;

static void validators_init(void) {
  if (g_vals_ready) return;
  for (int i = 0; i < NVAL; i++) {
    uint8_t sk[32];
    cx_seckey *k = NULL;
    memset(sk, i + 1, sizeof sk);
    if (key_from_bytes(sk, &k) != CX_OK) abort();
    key_public(k, &g_vals[i]);
    key_free(k);
  }
  g_vals_ready = 1;
}

static void fuzz_block(const uint8_t *p, size_t n) {
  cx_block_header ph;
  cx_hash peek_hash;
  cx_err pe = block_peek(p, n, &ph, &peek_hash);

  cx_block b;
  cx_err e = block_decode(p, n, &b);
  if (e != CX_OK) {
    if (strcmp(cx_err_name(e), "unknown_error") == 0) abort();
    if (b.ntx != 0 || b.txs != NULL || b.tx_len != NULL) abort(); /* cleared */
    return;
  }
  if (pe != CX_OK) abort();
  cx_hash h;
  block_hash(&b.h, &h);
  if (!hash_eq(&h, &peek_hash)) abort();

  uint8_t *out;
  size_t len;
  if (block_encode(&b, &out, &len) != CX_OK) abort();
  if (len != n || memcmp(out, p, n) != 0) abort(); /* canonical round trip */
  free(out);

  /* the transactions inside are parsed by the executor next */
  for (size_t i = 0; i < b.ntx; i++) {
    cx_tx tx;
    if (tx_decode(b.txs[i], b.tx_len[i], &tx, NULL) == CX_OK) tx_clear(&tx);
  }
  block_clear(&b);
}

static void fuzz_cert(const uint8_t *p, size_t n) {
  cx_cert c;
  cx_err e = cert_decode(p, n, &c);
  if (e != CX_OK) {
    if (strcmp(cx_err_name(e), "unknown_error") == 0) abort();
    return;
  }
  if (c.nvotes > CX_MAX_VALIDATORS) abort();
  for (size_t i = 0; i < c.nvotes; i++) {
    if (c.votes[i].signer >= CX_MAX_VALIDATORS) abort();
    if (i > 0 && c.votes[i].signer <= c.votes[i - 1].signer) abort();
  }

  uint8_t *out;
  size_t len;
  if (cert_encode(&c, &out, &len) != CX_OK) abort();
  if (len != n || memcmp(out, p, n) != 0) abort(); /* canonical round trip */
  free(out);

  validators_init();
  cx_hash chain;
  memset(&chain, 0, sizeof chain);
  cx_err v = cert_verify(&c, &chain, c.height, &c.block_hash, g_vals, NVAL);
  if (v != CX_OK && v != CX_E_BAD_CERT) abort();
  /* fewer than a quorum of votes can never be enough */
  if (v == CX_OK && c.nvotes < quorum_size(NVAL)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  if (data[0] & 1)
    fuzz_cert(data + 1, size - 1);
  else
    fuzz_block(data + 1, size - 1);
  return 0;
}
