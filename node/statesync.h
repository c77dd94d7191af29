/* statesync: state sync (docs/statesync.md) — the NET_MSG_SNAP wire format
 * and the client as a pure state machine. No sockets, clock, store or
 * threads in here: node/statesync_node.c does the I/O, and
 * tests/unit/test_statesync.c drives the client with fake peers.
 *
 * Wire (NET_MSG_SNAP): u8 version (SS_WIRE_VERSION) | u8 kind | body
 *   OFFER_REQ   : (nothing)
 *   OFFER       : bool has | has: varint height | block_hash[32] | state_root[32]
 *   MANIFEST_REQ: varint height
 *   MANIFEST    : varint height | bytes block (<= CX_BLOCK_MAX_BYTES) |
 *                 bytes cert (<= SS_CERT_MAX) | SS_CHUNKS x subtree hash[32]
 *   CHUNK_REQ   : varint height | varint chunk (< SS_CHUNKS) | bool has_after |
 *                 has_after: bytes key (<= STORE_KEY_MAX)
 *   CHUNK       : varint height | varint chunk | bool more |
 *                 varint count (<= SS_PAGE_ENTRIES_MAX) |
 *                 count x (bytes key (<= STORE_KEY_MAX) | bytes value (<= STORE_VALUE_MAX));
 *                 the whole message at most SS_PAGE_MAX bytes
 *   GONE        : varint height (the snapshot asked for is no longer served)
 * Nothing may follow. A snapshot at height H is the committed state after
 * block H in STORE_SNAP_CHUNKS chunks along the bucket tree (storage/store.h);
 * a chunk's entries come in (bucket, key) order over one or more pages. */
#ifndef CUSTOS_STATESYNC_H
#define CUSTOS_STATESYNC_H

#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "codec.h"
#include "error.h"
#include "hash.h"
#include "keys.h"
#include "store.h"
#include "tx.h"

#define SS_WIRE_VERSION 1
enum {
  SS_OFFER_REQ = 1,
  SS_OFFER = 2,
  SS_MANIFEST_REQ = 3,
  SS_MANIFEST = 4,
  SS_CHUNK_REQ = 5,
  SS_CHUNK = 6,
  SS_GONE = 7,
};
#define SS_CHUNKS STORE_SNAP_CHUNKS
#define SS_CERT_MAX (16u << 10)           /* an encoded cx_cert is < 5 KiB */
#define SS_PAGE_MAX (4u << 20)            /* a CHUNK message, bytes */
#define SS_PAGE_HEAD 32                   /* CHUNK header bound: version .. count */
#define SS_PAGE_BUDGET (SS_PAGE_MAX - SS_PAGE_HEAD) /* entry bytes a server puts in a page */
#define SS_PAGE_ENTRIES_MAX (1u << 18)
#define SS_CHUNK_BYTES_MAX (256u << 20)   /* one chunk held by the client */
#define SS_PEERS_MAX CX_MAX_VALIDATORS

/* Why a message was refused (static strings). */
typedef struct {
  const char *what, *why;
} ss_refusal;

/* A decoded message; ranges point into the input. */
typedef struct {
  uint8_t kind;      /* SS_*, 0 when the version or kind did not decode */
  int has;           /* OFFER */
  uint64_t height;   /* all but OFFER_REQ (OFFER: when has) */
  cx_hash block_hash, state_root;  /* OFFER */
  const uint8_t *block, *cert;     /* MANIFEST */
  size_t block_len, cert_len;
  cx_hash subtrees[SS_CHUNKS];     /* MANIFEST */
  uint32_t chunk;                  /* CHUNK_REQ, CHUNK */
  int has_after;                   /* CHUNK_REQ */
  const uint8_t *after;
  size_t after_len;
  int more;                        /* CHUNK */
  uint64_t count;
  const uint8_t *entries;          /* CHUNK: the count entries, checked */
  size_t entries_len;
} ss_wire;

/* Pure decoding of a NET_MSG_SNAP payload (no allocation). Not CX_OK:
 * refused, the reason in *r (may be NULL). */
cx_err ss_decode(const uint8_t *p, size_t len, ss_wire *out, ss_refusal *r);

/* The entries of a decoded CHUNK, in order. */
typedef struct {
  cx_dec d;
  uint64_t left;
} ss_iter;
void ss_iter_init(ss_iter *it, const ss_wire *w);
/* 1 with the next entry (ranges of the input), 0 at the end. */
int ss_iter_next(ss_iter *it, const uint8_t **key, size_t *klen, const uint8_t **val, size_t *vlen);

/* Encoders (check enc_finish). A CHUNK's body is its count entries, each
 * enc_bytes(key) then enc_bytes(value), built by the caller. */
void ss_enc_offer_req(cx_enc *e);
void ss_enc_offer(cx_enc *e, int has, uint64_t height, const cx_hash *block_hash,
                  const cx_hash *state_root);
void ss_enc_manifest_req(cx_enc *e, uint64_t height);
void ss_enc_manifest(cx_enc *e, uint64_t height, const uint8_t *block, size_t blen,
                     const uint8_t *cert, size_t clen, const cx_hash subtrees[SS_CHUNKS]);
void ss_enc_chunk_req(cx_enc *e, uint64_t height, uint32_t chunk, int has_after,
                      const uint8_t *after, size_t after_len);
void ss_enc_chunk(cx_enc *e, uint64_t height, uint32_t chunk, int more, uint64_t count,
                  const uint8_t *body, size_t body_len);
void ss_enc_gone(cx_enc *e, uint64_t height);

/* ---- the client ----
 * Events in (start, a peer's message, the time, the validator set read
 * from the installed state, the result of the install), actions out (send
 * to a peer, refuse a peer's input, begin / write / finish / abort the
 * install, done, fall back to block sync). Times are monotonic ms given by
 * the caller. Every event call may queue actions: drain them with ss_next
 * after each one, in order. An action stays valid until the next event
 * call (its buffers belong to the client). */
typedef struct {
  cx_hash chain_id;
  const cx_pubkey *trusted; /* T: the genesis validators, in signer order */
  size_t ntrusted;          /* 1..CX_MAX_VALIDATORS */
  uint64_t min_height;      /* offers below it are not taken */
  uint64_t offer_wait_ms;   /* how long to wait for offers */
  uint64_t req_timeout_ms;  /* a manifest or chunk request not answered: next peer */
  unsigned inflight;        /* chunk requests in flight (>= 1) */
  unsigned max_restarts;    /* new offer rounds after a snapshot went away */
} ss_config;

typedef enum {
  SS_ACT_SEND = 1,   /* msg (len) to peer */
  SS_ACT_REFUSE,     /* peer's input refused (why): log and count; the peer is banned */
  SS_ACT_BEGIN,      /* store_install_begin(height) */
  SS_ACT_WRITE,      /* store_install_chunk(chunk, ents, n) */
  SS_ACT_VALIDATORS, /* read the validator set from the installed state: ss_on_validators */
  SS_ACT_FINISH,     /* store_install_finish(height, block ...): ss_on_finished */
  SS_ACT_ABORT,      /* store_install_abort */
  SS_ACT_DONE,       /* installed at height: reload, then block sync from there */
  SS_ACT_FALLBACK,   /* no usable snapshot (why): block sync from the height-0 state */
} ss_act_type;

typedef struct {
  ss_act_type type;
  char peer[CX_NAME_MAX + 1]; /* SEND, REFUSE */
  uint8_t *msg;               /* SEND */
  size_t len;
  char why[240];              /* REFUSE, FALLBACK */
  uint64_t height;            /* BEGIN, FINISH, DONE */
  uint32_t chunk;             /* WRITE */
  store_kv *ents;
  size_t n;
  const uint8_t *block, *cert; /* FINISH */
  size_t block_len, cert_len;
  cx_hash block_hash, parent, root;
} ss_action;

typedef struct ss_client ss_client;
ss_client *ss_new(const ss_config *cfg); /* NULL on out of memory or a bad config */
void ss_free(ss_client *c);              /* NULL is a no-op */

/* Asks each peer (member names) for an offer. No peer: FALLBACK. */
void ss_start(ss_client *c, const char *const *peers, size_t npeers, uint64_t now);
/* A NET_MSG_SNAP payload from peer (request kinds and unknown peers are
 * ignored; the serving side answers requests). */
void ss_on_msg(ss_client *c, const char *peer, const uint8_t *p, size_t len, uint64_t now);
/* The time passes: offer wait, request timeouts. */
void ss_tick(ss_client *c, uint64_t now);
/* After SS_ACT_VALIDATORS: the set in force after the installed state
 * (e: reading it failed). */
void ss_on_validators(ss_client *c, const cx_pubkey *keys, size_t n, cx_err e, uint64_t now);
/* After SS_ACT_FINISH: the store's answer (why: its sentence). */
void ss_on_finished(ss_client *c, cx_err e, const char *why);
/* A local failure (a chunk write failed ...): ABORT and FALLBACK. */
void ss_fail(ss_client *c, const char *why);
/* The next queued action: 1 and *out filled (pointers owned by the client). */
int ss_next(ss_client *c, ss_action *out);

typedef enum {
  SS_PH_IDLE = 0,
  SS_PH_OFFERS,   /* waiting for offers */
  SS_PH_MANIFEST, /* fetching and checking the manifest */
  SS_PH_CHUNKS,   /* fetching chunks */
  SS_PH_VERIFY,   /* checking the certificate against the installed state */
  SS_PH_FINISH,   /* committing the install */
  SS_PH_DONE,
  SS_PH_FALLBACK,
} ss_phase;
const char *ss_phase_name(ss_phase p); /* "offers", ... */

typedef struct {
  ss_phase phase;
  uint64_t height;        /* the snapshot being fetched (0 before a manifest) */
  unsigned chunks_done;   /* of SS_CHUNKS */
  uint64_t chunks_fetched; /* chunks that matched the manifest */
  uint64_t refused;        /* peer inputs refused */
  unsigned restarts;
} ss_progress;
void ss_progress_get(const ss_client *c, ss_progress *out);

/* The trust rule (docs/statesync.md, "Trust"): the number of distinct keys
 * of trusted that signed cert (for block_hash) on chain_id. */
unsigned ss_trusted_signers(const cx_hash *chain_id, const cx_cert *cert, const cx_hash *block_hash,
                            const cx_pubkey *trusted, size_t ntrusted);

#endif
