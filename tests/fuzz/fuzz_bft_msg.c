/* fuzz_bft_msg: the consensus parsers a peer or the disk can feed —
 * bft_msg_decode (every consensus message on the member network) and
 * bft_safety_decode (DATA/safety at start-up).
 *
 * Input: byte 0 selects the parser (low bit 0: message, 1: safety record),
 * the rest is the encoding.
 * Checks: no crash or leak (sanitizers); an accepted message is canonical
 * (re-encoding gives exactly the input) and its fields are in range (type
 * 1..3, a vote's pol_round nil); an accepted safety record re-encodes to the
 * same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bft.h"
#include "error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const uint8_t *p = data + 1;
  size_t n = size - 1;
  if ((data[0] & 1) == 0) {
    bft_msg m;
    if (bft_msg_decode(p, n, &m) != CX_OK) return 0;
    if (m.type < BFT_PROPOSAL || m.type > BFT_PRECOMMIT) abort();
    if (m.type != BFT_PROPOSAL && m.pol_round != BFT_NIL_ROUND) abort();
    uint8_t out[BFT_MSG_MAX];
    size_t len = bft_msg_encode(&m, out);
    if (len != n || memcmp(out, p, n) != 0) abort(); /* not canonical */
  } else {
    bft_safety s;
    if (bft_safety_decode(p, n, &s) != CX_OK) return 0;
    uint8_t out[BFT_SAFETY_LEN];
    bft_safety_encode(&s, out);
    if (n != BFT_SAFETY_LEN || memcmp(out, p, n) != 0) abort();
  }
  return 0;
}
