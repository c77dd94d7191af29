/* fuzz_beacon_msg: the strict decoders of the random beacon's two encodings
 * (mpc/threshold/beacon.h: a share, which members will send each other, and
 * a record, which the chain will store and third parties will check), and
 * the verifiers on whatever decodes.
 *
 * Input: one message; its first byte is the kind, so every input reaches
 * the decoder of that kind (and the other, which must refuse it).
 * Seeds in corpus/fuzz_beacon_msg: a valid share and a valid record (n = 4,
 * t = 3), written by test_beacon's encodings test with
 * CUSTOS_BEACON_CORPUS=<dir>.
 * Checks: no crash or leak (sanitizers); a refusal is a known code with a
 * sentence; an accepted message re-encodes to exactly the input; at most one
 * decoder accepts a given input; the verifiers, run on what decodes against
 * fixed public shares G*1..G*128, return a known code with a sentence (a
 * forged share must not pass: with s_j = j known here, none is expected). */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "beacon.h"
#include "error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static frost_element g_pk[DKG_MAX_PARTIES];
static int g_ready;

static void setup(void) {
  if (g_ready) return;
  if (sodium_init() < 0) abort();
  for (uint16_t j = 1; j <= DKG_MAX_PARTIES; j++) {
    frost_scalar s;
    frost_id_scalar(j, &s);
    if (frost_public_share(&s, &g_pk[j - 1]) != CX_OK) abort();
  }
  g_ready = 1;
}

static void known(cx_err e, const char *err) {
  if (strcmp(cx_err_name(e), "unknown_error") == 0) abort();
  if (e != CX_OK && !err[0]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[300];
  int accepted = 0;
  setup();
  uint8_t *out = malloc(BEACON_RECORD_MAX_LEN);
  beacon_record *rec = malloc(sizeof *rec);
  if (!out || !rec) abort();
  beacon_share sh;
  err[0] = 0;
  cx_err e = beacon_share_decode(data, size, &sh, err, sizeof err);
  known(e, err);
  if (e == CX_OK) {
    accepted++;
    if (beacon_share_encode(&sh, out) != size || memcmp(out, data, size) != 0) abort();
    static const uint8_t coin[] = "fuzz";
    err[0] = 0;
    e = beacon_share_verify(coin, sizeof coin, sh.id,
                            &g_pk[(sh.id - 1) % DKG_MAX_PARTIES], &sh, err, sizeof err);
    known(e, err);
  }
  err[0] = 0;
  e = beacon_record_decode(data, size, rec, err, sizeof err);
  known(e, err);
  if (e == CX_OK) {
    accepted++;
    if (beacon_record_encode(rec, out) != size || memcmp(out, data, size) != 0) abort();
    uint16_t culprit;
    err[0] = 0;
    uint16_t t = rec->nshares < 2 ? 2 : rec->nshares;
    e = beacon_record_verify(rec->coin, rec->coin_len, t, DKG_MAX_PARTIES, g_pk, rec, &culprit, err,
                             sizeof err);
    known(e, err);
  }
  if (accepted > 1) abort();
  free(rec);
  free(out);
  return 0;
}
