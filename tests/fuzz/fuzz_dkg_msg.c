/* fuzz_dkg_msg: the strict decoders of the DKG's four messages
 * (mpc/threshold/dkg.h: round 1, share, complaint, answer), which will
 * parse what other members send.
 *
 * Input: one message; its first byte is the kind, so every input reaches
 * the decoder of that kind (and the other three, which must refuse it).
 * Seeds in corpus/fuzz_dkg_msg: one valid message of each kind, made by
 * test_dkg's seeded run (see tests/unit/test_dkg.c).
 * Checks: no crash or leak (sanitizers); a refusal is a known code with a
 * sentence; an accepted message re-encodes to exactly the input; at most
 * one decoder accepts a given input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkg.h"
#include "error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t g_out[DKG_ROUND1_LEN(DKG_MAX_PARTIES) + DKG_COMPLAINT_MAX_LEN + 64];

static void refused_ok(cx_err e, const char *err) {
  if (strcmp(cx_err_name(e), "unknown_error") == 0 || !err[0]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[200];
  int accepted = 0;
  size_t n;
  dkg_round1_msg *r1 = malloc(sizeof *r1);
  if (!r1) return 0;
  err[0] = 0;
  cx_err e = dkg_round1_decode(data, size, r1, err, sizeof err);
  if (e == CX_OK) {
    accepted++;
    n = dkg_round1_encode(r1, g_out);
    if (n != size || memcmp(g_out, data, size) != 0) abort();
  } else {
    refused_ok(e, err);
  }
  free(r1);
  dkg_share s;
  err[0] = 0;
  if ((e = dkg_share_decode(data, size, &s, err, sizeof err)) == CX_OK) {
    accepted++;
    n = dkg_share_encode(&s, g_out);
    if (n != size || memcmp(g_out, data, size) != 0) abort();
  } else {
    refused_ok(e, err);
  }
  dkg_complaint c;
  err[0] = 0;
  if ((e = dkg_complaint_decode(data, size, &c, err, sizeof err)) == CX_OK) {
    accepted++;
    n = dkg_complaint_encode(&c, g_out);
    if (n != size || memcmp(g_out, data, size) != 0) abort();
  } else {
    refused_ok(e, err);
  }
  dkg_answer a;
  err[0] = 0;
  if ((e = dkg_answer_decode(data, size, &a, err, sizeof err)) == CX_OK) {
    accepted++;
    n = dkg_answer_encode(&a, g_out);
    if (n != size || memcmp(g_out, data, size) != 0) abort();
  } else {
    refused_ok(e, err);
  }
  if (accepted > 1) abort();
  return 0;
}
