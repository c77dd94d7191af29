/* fuzz_tx_decode: tx_decode, the parser of every transaction that arrives
 * from a client or a peer.
 *
 * Input: the bytes of one encoded transaction. Seeds in corpus/fuzz_tx_decode
 * are valid signed encodings of each transaction type, and one unsigned
 * benchmark command (command: 34 bytes, no preimage or signature).
 * Checks: no crash or leak (sanitizers); a refused input reports a named
 * error at an offset inside the input and leaves the tx cleared; an accepted
 * input is canonical (re-encoding gives exactly the input bytes, and the
 * signed preimage is the input without its last 64 bytes); signature
 * verification of an accepted input runs and answers OK or BAD_SIG. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cx_tx tx;
  size_t off = SIZE_MAX;
  cx_err e = tx_decode(data, size, &tx, &off);
  if (e != CX_OK) {
    if (off > size) abort();
    if (strcmp(cx_err_name(e), "unknown_error") == 0) abort();
    if (tx.type != 0) abort(); /* cleared on error */
    return 0;
  }

  uint8_t *out;
  size_t n;
  if (tx_encode(&tx, 1, &out, &n) != CX_OK) abort();
  if (n != size || memcmp(out, data, size) != 0) abort(); /* canonical round trip */
  free(out);
  if (tx.type == TX_COMMAND) { /* 34 bytes, nothing signed (docs/transactions.md "Commands") */
    if (size != CX_COMMAND_BYTES || tx_verify_sig_raw(&tx, data, size) != CX_E_BAD_SIG) abort();
    tx_clear(&tx);
    return 0;
  }
  if (tx_encode(&tx, 0, &out, &n) != CX_OK) abort();
  if (n + 64 != size || memcmp(out, data, n) != 0) abort();
  free(out);

  if (strcmp(tx_type_name(tx.type), "unknown") == 0) abort();
  cx_err v = tx_verify_sig(&tx);
  if (v != CX_OK && v != CX_E_BAD_SIG) abort();
  if (tx_verify_sig_raw(&tx, data, size) != v) abort(); /* the raw-bytes path agrees */
  tx_clear(&tx);
  return 0;
}
