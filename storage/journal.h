/* journal: an append-only file of records where the last intact record
 * counts, each append durable (fdatasync) before it returns. The node
 * keeps its consensus safety record and its held blocks in one
 * (DATA/safety, node/host.c): one synced append a signature, where a
 * record file plus a synced LevelDB put took two (docs/consensus.md,
 * "Crash safety").
 *
 * File: a 64-byte header  "CXJRNL01" | salt[32] | zeros
 *       records           u32be len | u64be seq | payload[len] | tag[16]
 *       a zero tail       (the file grows in 1 MiB steps of written zeros)
 * tag = BLAKE2b-128 keyed with the salt over len | seq | payload. seq
 * counts up by one from the first record. The salt is drawn per file, so
 * payload bytes that come from others (a block's transactions) can never
 * be read as a record of their own, wherever they lie in the file.
 *
 * Why the zero tail: an append that stays inside the file's size changes
 * no metadata, so its fdatasync writes the record's pages and nothing
 * else (ext4 writes the inode too when the size changes); the zeros are
 * written, not fallocated, because unwritten extents would be converted
 * (a metadata change) at the first write into them.
 *
 * Crashes: a reader trusts every record up to the first one that does not
 * check (bad tag, wrong seq, length past the end, or the zero tail). A
 * crash tears at most the record being appended, whose append had not
 * returned, so it covered nothing. journal_open zeroes a torn tail (and
 * syncs) before the next append goes there, so nothing of it can be read
 * again behind a shorter record.
 * A new file (first append, or journal_restart) is written aside, synced
 * and renamed over PATH (then the directory synced): PATH is always
 * either the old journal or the new one whole, and a journal file always
 * holds one intact record at least.
 *
 * Not thread safe: one owner (the consensus thread). */
#ifndef CUSTOS_JOURNAL_H
#define CUSTOS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define JOURNAL_HEADER_LEN 64
#define JOURNAL_FRAME_OVERHEAD 28 /* len, seq, tag */

typedef struct journal journal;

/* Called for each intact record, oldest first; rec is valid during the call only. */
typedef void (*journal_visit)(void *ctx, uint64_t seq, const uint8_t *rec, size_t len);

/* 1 if img starts with a journal header's magic. */
int journal_is_journal(const uint8_t *img, size_t len);

/* Scans an image of a journal file (no I/O): visit (may be NULL) for each
 * intact record. *nrec = records, *end = offset just past the last one,
 * *tail = 1 if non-zero bytes follow it (a torn append). CX_E_CORRUPT if
 * the image is not a journal (magic) or holds no intact record. */
cx_err journal_scan(const uint8_t *img, size_t len, journal_visit visit, void *ctx, size_t *nrec,
                    size_t *end, int *tail);

/* Opens PATH for appending after scanning it (visit as above; *tail as in
 * journal_scan, may be NULL). A missing PATH gives a journal whose first
 * append creates it. CX_E_BAD_VERSION if PATH is not a journal (an older
 * format: the caller reads it and calls journal_new), CX_E_CORRUPT if it
 * is a damaged one, CX_E_IO on a read error. max_bytes: appends that
 * would take the file past it return CX_E_FULL (>= 1 MiB). */
cx_err journal_open(const char *path, uint64_t max_bytes, journal_visit visit, void *ctx,
                    int *tail, journal **out);
/* A journal whose first append replaces whatever PATH holds. */
cx_err journal_new(const char *path, uint64_t max_bytes, journal **out);

/* 1 until the first append (which starts a new file): the caller makes
 * that record complete on its own. */
int journal_fresh(const journal *j);
uint64_t journal_size(const journal *j); /* bytes in use (header and records) */

/* Appends one record (len >= 1) and syncs it. CX_E_FULL: past max_bytes
 * (nothing written; call journal_restart with a record complete on its
 * own). CX_E_IO: the record may or may not be there; the owner must stop
 * (fatal, as any failed sync). */
cx_err journal_append(journal *j, const uint8_t *rec, size_t len);
/* Replaces the file by a new one holding only this record (atomic, as above). */
cx_err journal_restart(journal *j, const uint8_t *rec, size_t len);

void journal_close(journal *j); /* NULL no-op */

#endif
