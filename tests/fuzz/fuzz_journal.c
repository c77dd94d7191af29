/* fuzz_journal: what the node reads from DATA/safety at start-up (and
 * `custos restore` from a backup) — journal_scan (storage/journal.c) over
 * a journal image and node_safety_parse (node/node.c), which reads the
 * journal's DATA/safety records and the older forms (two slots, 48-byte
 * legacy record, bare bft_safety record).
 *
 * Input: the bytes of a DATA/safety file, whole (the zero tail may be cut).
 * Checks: no crash or leak (sanitizers); each record journal_scan visits
 * has length >= 1, lies inside the image past the header, follows the one
 * before it (frame after frame, seq up by one) and the count matches
 * *nrec; an accepted image has 64 <= *end <= size, *end just past the
 * last record visited, and *tail set exactly when non-zero bytes follow.
 * node_safety_parse: a journal it accepts is one journal_scan accepts, and
 * a held part it hands back lies within the input's size. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bft.h"
#include "error.h"
#include "journal.h"
#include "node_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  const uint8_t *img;
  size_t size;
  size_t n;
  size_t next; /* offset where the next frame must start */
  uint64_t seq;
} walk;

static void on_rec(void *ctx, uint64_t seq, const uint8_t *rec, size_t len) {
  walk *w = ctx;
  if (len < 1) abort();
  if (rec < w->img + JOURNAL_HEADER_LEN || rec > w->img + w->size) abort();
  size_t off = (size_t)(rec - w->img);
  if (len > w->size - off || w->size - off - len < 16) abort(); /* payload and tag inside */
  if (off != w->next + 12) abort();                               /* frame after frame */
  if (w->n ? seq != w->seq + 1 : seq == 0) abort();
  w->seq = seq;
  w->next = off + len + 16;
  w->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  if (!ready) {
    if (sodium_init() < 0) abort();
    ready = 1;
  }
  walk w = {data, size, 0, JOURNAL_HEADER_LEN, 0};
  size_t nrec = 0, end = 0;
  int tail = -1;
  cx_err je = journal_scan(data, size, on_rec, &w, &nrec, &end, &tail);
  if (je == CX_OK) {
    if (end < JOURNAL_HEADER_LEN || end > size) abort();
    if (nrec == 0 || nrec != w.n || end != w.next) abort();
    int nz = 0;
    for (size_t i = end; i < size && !nz; i++) nz = data[i] != 0;
    if (tail != nz) abort();
  } else if (je != CX_E_CORRUPT) {
    abort();
  }

  bft_safety s;
  int torn = -1;
  uint8_t *held = NULL;
  size_t held_len = 0;
  cx_err se = node_safety_parse(data, size, &s, &torn, &held, &held_len);
  if (se == CX_OK) {
    if (journal_is_journal(data, size)) {
      if (je != CX_OK || torn != tail) abort();
      if (held && held_len > size) abort();
    } else if (held) {
      abort(); /* the older forms carry no held part */
    }
  } else if (held) {
    abort();
  }
  free(held);
  return 0;
}
