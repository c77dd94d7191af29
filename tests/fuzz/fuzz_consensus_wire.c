/* fuzz_consensus_wire: host_wire_decode, the parser of every NET_MSG_CONSENSUS
 * payload a member sends (node/host.c; layout in node/node_internal.h:
 * u8 version | varint len | bft_msg encoding | for a PROPOSAL the block).
 *
 * Input: the payload as received. Seeds in corpus/fuzz_consensus_wire are
 * real envelopes: proposals carrying the blocks of corpus/fuzz_block_decode,
 * prevotes and precommits for a block and for nil (signatures are not
 * checked by this decoder).
 * Checks: no crash or leak (sanitizers); a refusal names what and why; an
 * accepted payload is canonical (version, length, re-encoded message and
 * block rebuild exactly the input), its message fields are in range, a
 * proposal's block range lies inside the input within CX_BLOCK_MAX_BYTES,
 * block_peek accepts it and its hash is the announced one; a vote carries
 * no block. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bft.h"
#include "block.h"
#include "codec.h"
#include "error.h"
#include "node_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bft_msg m;
  const uint8_t *blk = (const uint8_t *)1;
  size_t bl = 1;
  node_refusal r = {NULL, NULL};
  cx_err e = host_wire_decode(data, size, &m, &blk, &bl, &r);
  if (e != CX_OK) {
    if (!r.what || !r.why) abort();
    if (strcmp(cx_err_name(e), "unknown_error") == 0) abort();
    return 0;
  }
  if (m.type < BFT_PROPOSAL || m.type > BFT_PRECOMMIT) abort();
  if (m.type != BFT_PROPOSAL && m.pol_round != BFT_NIL_ROUND) abort();

  if (m.type == BFT_PROPOSAL) {
    if (!blk || bl == 0 || bl > CX_BLOCK_MAX_BYTES) abort();
    if (blk < data || blk + bl != data + size) abort(); /* the rest of the payload */
    cx_block_header h;
    cx_hash bh;
    if (block_peek(blk, bl, &h, &bh) != CX_OK) abort();
    if (!hash_eq(&bh, &m.block_hash)) abort();
  } else if (blk != NULL || bl != 0) {
    abort();
  }

  /* canonical: the envelope rebuilt from what was decoded is the input */
  uint8_t mb[BFT_MSG_MAX];
  size_t ml = bft_msg_encode(&m, mb);
  cx_enc enc;
  enc_init(&enc);
  enc_u8(&enc, CS_WIRE_VERSION);
  enc_varint(&enc, ml);
  enc_fixed(&enc, mb, ml);
  if (bl) enc_fixed(&enc, blk, bl);
  if (enc_finish(&enc) != CX_OK) abort();
  if (enc.len != size || memcmp(enc.buf, data, size) != 0) abort();
  enc_free(&enc);
  return 0;
}
