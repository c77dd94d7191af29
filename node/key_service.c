/* key_service.c: custosd's part in the consortium keys (docs/keys.md §5)
 * and the random beacon (docs/keys.md §7; issue 8).
 *
 * Keys. The chain is the DKG's broadcast channel: this thread reads each
 * key from committed state and submits this party's next step as a
 * transaction (create, deal, verdict, answers, advance votes). Every DKG
 * secret of this party comes from a seed derived from its member secret key
 * and the key's context, so nothing is stored: a restarted node deals the
 * same polynomial again, answers complaints against it, and recomputes its
 * signing share from the chain when the key is READY. The share lives in
 * sodium_malloc'd memory only, and is checked against the chain's Y_j.
 *
 * Beacon. After every committed height h, a party of the READY `beacon`
 * key sends its coin share for (chain id, h) to the other parties
 * (NET_MSG_KEY); with t verified shares any party combines the value and
 * keeps the record (shares with their DLEQ proofs) for beacon_get. Shares
 * are accepted for heights up to BEACON_AHEAD past this node's tip, so a
 * node a block behind still collects them.
 *
 * Wire (NET_MSG_KEY): u8 version (1) | u8 kind | body
 *   BEACON_SHARE (1): u64be height | u32be epoch | beacon share (beacon.h
 *                     encoding). Every epoch of the beacon key gives the same
 *                     value (resharing keeps the secret: docs/keys.md §10),
 *                     but shares of two epochs do not combine: a height's
 *                     slot collects one epoch's, the newest seen.
 *
 * Threads: the net thread decodes and queues; the consensus thread queues
 * committed heights; this thread does the rest. mu guards the queues, the
 * published beacon ring, the signing shares and the counters. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "beacon.h"
#include "dkg.h"
#include "frost.h"
#include "hash.h"
#include "keyrules.h"
#include "log.h"
#include "net.h"
#include "node_internal.h"
#include "store.h"
#include "tsign.h"
#include "vm.h"

#define KW_VERSION KEY_WIRE_VERSION
#define KEYS_MAX 16             /* keys followed (results, beacon, custody keys) */
#define TICK_MS 500             /* chain inspection period */
#define RETRY_MS 15000          /* a step submitted and not yet on chain is retried after this */
#define PHASE_TIMEOUT_MS 20000  /* docs/keys.md §5: vote to end a phase after this */
#define CREATE_STAGGER_MS 5000  /* rank x this before a validator creates a missing key */
#define INQ_MAX 1024
#define HEIGHTS_MAX 256
#define BEACON_KEEP 1024        /* beacon records kept (a ring by height) */
#define BEACON_AHEAD 16         /* shares accepted for heights up to tip + this */
#define SEED_LABEL "custos/dkg-seed/v1"
#define EARLY_MAX 64            /* beacon shares kept until this node has the key (oldest dropped) */
#define SIGN_MAX 32             /* approved custody requests followed at once */
#define SIGN_STAGGER_MS 3000    /* party of rank r coordinates after r x this */
#define SPEND_MAX 64            /* signing messages kept until their request is followed here */

/* ---- local state --------------------------------------------------------- */

/* What this party did and knows about one key. */
typedef struct {
  int used;
  char name[CX_KEY_NAME_MAX + 1];
  uint32_t epoch;
  uint8_t phase;                /* as last seen */
  uint64_t phase_seen_at;       /* mono ms when that phase was first seen */
  uint64_t deal_at, verdict_at; /* mono ms of our last submission, 0 none */
  uint64_t advance_at[3];       /* per phase */
  uint64_t answered_at[CX_MAX_VALIDATORS]; /* per complainer */
  uint64_t reshare_due, reshare_at;        /* READY, parties not the validators: §10 */
  /* READY and this node a party: */
  int have_share, share_bad;
  uint32_t n, t, me;            /* me: party index */
  frost_scalar *share;          /* sodium_malloc'd */
  frost_element group_pk;
  frost_element pk_shares[CX_MAX_VALIDATORS];
  cx_pubkey parties[CX_MAX_VALIDATORS];
} lkey;

typedef struct {
  uint64_t height;               /* 0: empty */
  uint32_t epoch;                /* the beacon key's epoch of the shares collected */
  int done;
  uint8_t value[BEACON_VALUE_LEN];
  uint8_t *rec;                  /* encoded beacon_record (done) */
  size_t rec_len;
  uint64_t have;                 /* shares held, bitmap over party index */
  beacon_share *shares;          /* n entries while collecting */
} bslot;

typedef struct kmsg {
  struct kmsg *next;
  char from[CX_NAME_MAX + 1];
  key_wire w;      /* its ranges point into data */
  size_t len;
  uint8_t data[];
} kmsg;

/* A custody signing request this party follows (docs/keys.md §9). */
typedef struct {
  int used;
  cx_hash id;
  tsign *ts;
  uint32_t me, n;
  cx_pubkey parties[CX_MAX_VALIDATORS];
  uint64_t seen_at, coord_at, submit_at;
  int coordinating;
} sjob;

struct key_service {
  node *node;
  pthread_t th;
  int running;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stop;
  kmsg *inq, *inq_tail;
  size_t ninq;
  uint64_t heights[HEIGHTS_MAX];
  size_t nheights;
  uint64_t tip;                  /* highest committed height reported */
  node_key_stats pub;
  uint64_t refused;              /* atomic (node_refuse) */
  lkey keys[KEYS_MAX];           /* mu: shares are read by signers */
  bslot *ring;                   /* BEACON_KEEP slots; mu */
  /* thread only */
  uint64_t tick_at;
  uint64_t missing_since[3];     /* per purpose (1, 2): mono ms a key was first seen missing */
  uint64_t create_at[3];
  kmsg *early[EARLY_MAX];        /* beacon shares that came before this node's beacon key */
  size_t nearly;
  sjob sj[SIGN_MAX];             /* custody signing (thread only) */
  kmsg *spend[SPEND_MAX];
  size_t nspend;
};

static uint64_t mono(const key_service *s) { return s->node->clock->mono_ms(s->node->clock); }

static void lkey_wipe(lkey *k) {
  if (k->share) sodium_free(k->share); /* wipes */
  memset(k, 0, sizeof *k);
}

/* The local state of (name, epoch); make: a new one if absent. Epochs of
 * one name live side by side: an old party needs its old share to deal it
 * anew while a resharing runs (docs/keys.md §10); lkey_retire wipes the
 * older ones once a newer epoch has its share. */
static lkey *lkey_find(key_service *s, const char *name, uint32_t epoch, int make) {
  lkey *free_slot = NULL;
  for (size_t i = 0; i < KEYS_MAX; i++) {
    lkey *k = &s->keys[i];
    if (k->used && strcmp(k->name, name) == 0 && k->epoch == epoch) return k;
    if (!k->used && !free_slot) free_slot = k;
  }
  if (!make || !free_slot) return NULL;
  memset(free_slot, 0, sizeof *free_slot);
  free_slot->used = 1;
  snprintf(free_slot->name, sizeof free_slot->name, "%s", name);
  free_slot->epoch = epoch;
  return free_slot;
}

/* A signing session (tsign.h) with this epoch's share; mu held. */
static cx_err lkey_tsign(const lkey *k, const uint8_t sid[32], const uint8_t *msg, size_t len, tsign **out) {
  tsign_config cfg = {.n = (uint16_t)k->n, .t = (uint16_t)k->t, .my_id = (uint16_t)(k->me + 1),
                      .group_pk = k->group_pk, .pk_shares = k->pk_shares, .share = k->share};
  return tsign_new(sid, msg, len, &cfg, out, NULL, 0);
}

/* Wipes every epoch of name below epoch (its share included). */
static void lkey_retire(key_service *s, const char *name, uint32_t epoch) {
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < KEYS_MAX; i++) {
    lkey *k = &s->keys[i];
    if (k->used && strcmp(k->name, name) == 0 && k->epoch < epoch) {
      if (k->have_share)
        LOG_I("keys", "key %s: the share of epoch %u wiped (epoch %u is ready)", name, (unsigned)k->epoch,
              (unsigned)epoch);
      lkey_wipe(k);
    }
  }
  pthread_mutex_unlock(&s->mu);
}

/* ---- the wire ------------------------------------------------------------ */

static cx_err refuse(node_refusal *r, cx_err e, const char *why) {
  if (r) {
    r->what = "key message";
    r->why = why;
  }
  return e;
}

cx_err key_wire_decode(const uint8_t *p, size_t len, key_wire *out, node_refusal *r) {
  memset(out, 0, sizeof *out);
  if (len < 2) return refuse(r, CX_E_TRUNCATED, "shorter than a message header");
  if (p[0] != KW_VERSION) return refuse(r, CX_E_BAD_VERSION, "unknown version");
  if (p[1] != KEY_BEACON_SHARE && p[1] != KEY_TSIGN) return refuse(r, CX_E_BAD_ENUM, "unknown kind");
  out->kind = p[1];
  if (out->kind == KEY_TSIGN) {
    if (len < 2 + 32 + KEY_TSIGN_MIN) return refuse(r, CX_E_TRUNCATED, "signing message shorter than its header");
    if (len > 2 + 32 + KEY_TSIGN_MAX) return refuse(r, CX_E_TOO_LONG, "signing message too long");
    memcpy(out->request.b, p + 2, 32);
    out->ts = p + 34;
    out->ts_len = len - 34;
    return CX_OK;
  }
  if (len < 2 + 8 + 4) return refuse(r, CX_E_TRUNCATED, "beacon share without its height and epoch");
  out->height = get_be64(p + 2);
  out->epoch = get_be32(p + 10);
  if (out->height == 0) return refuse(r, CX_E_INVALID_ARG, "beacon share for height 0");
  if (beacon_share_decode(p + 14, len - 14, &out->share, NULL, 0) != CX_OK)
    return refuse(r, CX_E_NONCANONICAL, "malformed beacon share");
  return CX_OK;
}

/* ---- the net and consensus threads ---------------------------------------- */

static void on_key(void *ctx, const char *from, unsigned type, const uint8_t *p, size_t len) {
  key_service *s = ctx;
  (void)type;
  node_refusal r;
  kmsg *m = malloc(sizeof *m + len);
  if (!m) return;
  memcpy(m->data, p, len);
  m->len = len;
  if (key_wire_decode(m->data, len, &m->w, &r) != CX_OK) {
    free(m);
    node_refuse(s->node, &s->refused, r.what, from, r.why);
    return;
  }
  m->next = NULL;
  snprintf(m->from, sizeof m->from, "%s", from);
  pthread_mutex_lock(&s->mu);
  int full = s->ninq >= INQ_MAX;
  if (!full) {
    if (s->inq_tail) s->inq_tail->next = m;
    else s->inq = m;
    s->inq_tail = m;
    s->ninq++;
    pthread_cond_signal(&s->cv);
  }
  pthread_mutex_unlock(&s->mu);
  if (full) {
    free(m);
    node_refuse(s->node, &s->refused, "key message", from, "key queue full");
  }
}

void key_service_on_commit(node *n, uint64_t height) {
  key_service *s = n->keysvc;
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  if (height > s->tip) s->tip = height;
  if (s->nheights < HEIGHTS_MAX) s->heights[s->nheights++] = height;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

void node_key_status(node *n, node_key_stats *out) {
  memset(out, 0, sizeof *out);
  key_service *s = n->keysvc;
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  *out = s->pub;
  pthread_mutex_unlock(&s->mu);
}

/* ---- helpers -------------------------------------------------------------- */

static void set_error(key_service *s, const char *msg) {
  pthread_mutex_lock(&s->mu);
  snprintf(s->pub.last_error, sizeof s->pub.last_error, "%.*s", (int)sizeof s->pub.last_error - 1, msg);
  pthread_mutex_unlock(&s->mu);
  LOG_W("keys", "%s", msg);
}

/* The DKG seed of this party for a key run (docs/keys.md §5):
 * BLAKE2b-keyed(member secret key, SEED_LABEL || context). */
static cx_err dkg_seed(const node *n, const uint8_t context[32], uint8_t seed[32]) {
  uint8_t msg[sizeof SEED_LABEL - 1 + 32];
  uint8_t *sec = sodium_malloc(32);
  if (!sec) return CX_E_NOMEM;
  memcpy(msg, SEED_LABEL, sizeof SEED_LABEL - 1);
  memcpy(msg + sizeof SEED_LABEL - 1, context, 32);
  key_secret_bytes(n->keys.sign, sec);
  crypto_generichash(seed, 32, msg, sizeof msg, sec, 32);
  sodium_free(sec);
  return CX_OK;
}

/* This party's DKG session for key k, made again from the seed: round one
 * made, so its coefficients exist. */
static cx_err dkg_open(const node *n, const vm_key *k, uint32_t me, dkg **out) {
  uint8_t *seed = sodium_malloc(32);
  if (!seed) return CX_E_NOMEM;
  cx_err e = dkg_seed(n, k->context, seed);
  if (!e) e = dkg_new((uint16_t)k->n, k->t, (uint16_t)(me + 1), k->context, seed, out, NULL, 0);
  sodium_free(seed);
  /* A party whose deal is not on chain is no dealer: its round one must stay
   * out of the session, or dkg_finish counts it in QUAL (step_deal makes it). */
  if (e || !(k->dealt >> me & 1)) return e;
  dkg_round1_msg r1;
  if ((e = dkg_round1(*out, &r1))) {
    dkg_free(*out);
    *out = NULL;
  }
  return e;
}

static void submit(key_service *s, cx_tx *tx, const char *what, const char *name) {
  cx_hash txid;
  char detail[128] = "";
  tx->chain_id = s->node->chain_id;
  cx_err e = node_submit_own(s->node, tx, &txid, detail, sizeof detail);
  if (e) {
    char msg[256];
    snprintf(msg, sizeof msg, "key %s: %s not admitted: %s %s", name, what, cx_err_name(e), detail);
    set_error(s, msg);
  } else {
    LOG_I("keys", "key %s: %s submitted", name, what);
    pthread_mutex_lock(&s->mu);
    s->pub.submitted++;
    pthread_mutex_unlock(&s->mu);
  }
}

/* ---- the DKG steps (docs/keys.md §5) -------------------------------------- */

#if CUSTOS_TESTING
/* Test builds only (tests/integration/test_keys_cheat.sh): a cheating
 * dealer. CUSTOS_TEST_DKG_CHEAT=bad_share seals f(j) + 1 instead of f(j)
 * to one party j, the next index after this one's, in every deal;
 * bad_share_noanswer does the same and never answers a complaint, so the
 * phase's end disqualifies this dealer (docs/keys.md §4). */
static int dkg_cheat_mode(void) {
  static int mode = -1; /* 0 none, 1 bad_share, 2 bad_share_noanswer */
  if (mode < 0) {
    const char *v = getenv("CUSTOS_TEST_DKG_CHEAT");
    mode = !v ? 0 : strcmp(v, "bad_share") == 0 ? 1 : strcmp(v, "bad_share_noanswer") == 0 ? 2 : 0;
    if (v && !mode)
      LOG_W("keys", "CUSTOS_TEST_DKG_CHEAT=%s: unknown kind (bad_share, bad_share_noanswer): not cheating", v);
  }
  return mode;
}

/* In step_deal: spoils party j's share when j is the victim. */
static void dkg_cheat_share(const vm_key *k, uint32_t me, uint32_t j, dkg_share *sh) {
  static const uint8_t one[32] = {1};
  if (!dkg_cheat_mode() || j != (me + 1) % k->n) return;
  crypto_core_ristretto255_scalar_add(sh->value.b, sh->value.b, one); /* reduced mod L */
  LOG_W("keys", "key %s: TEST CHEAT: a wrong share sealed to party %u", k->name, (unsigned)j);
}

/* In step_answers: 1 when the complaint by complainer is to be left unanswered. */
static int dkg_cheat_noanswer(const vm_key *k, uint32_t complainer) {
  if (dkg_cheat_mode() != 2) return 0;
  LOG_W("keys", "key %s: TEST CHEAT: the complaint by party %u left unanswered", k->name, (unsigned)complainer);
  return 1;
}
#endif

/* The key_deal of key k: round one r1 and the shares sealed to the parties'
 * enc keys, every slot but skip's (the dealer's own in a DKG; UINT32_MAX in
 * a resharing, where every new party gets one: docs/keys.md §10). */
static cx_err deal_tx(const vm_key *k, const dkg_round1_msg *r1, const dkg_share *shares, uint32_t skip,
                      cx_tx *tx) {
  uint8_t *r1buf = malloc(DKG_ROUND1_MAX_LEN), *plain = sodium_malloc(DKG_SHARE_LEN);
  cx_err e = r1buf && plain ? CX_OK : CX_E_NOMEM;
  tx->type = TX_KEY_DEAL;
  snprintf(tx->u.kdeal.name, sizeof tx->u.kdeal.name, "%s", k->name);
  tx->u.kdeal.epoch = k->epoch;
  if (!e) e = tx_key_deal_set(tx, r1buf, dkg_round1_encode(r1, r1buf), k->n);
  for (uint32_t j = 0; j < k->n && !e; j++) {
    if (j == skip) continue;
    uint8_t sealed[CX_KEY_SEALED_LEN];
    dkg_share_encode(&shares[j], plain);
    if (crypto_box_seal(sealed, plain, DKG_SHARE_LEN, k->enc[j]) != 0) e = CX_E_CRYPTO;
    if (!e) e = tx_key_deal_set_slot(tx, j, sealed);
  }
  free(r1buf);
  if (plain) sodium_free(plain);
  return e;
}

static void step_deal(key_service *s, const vm_key *k, lkey *lk, uint32_t me) {
  dkg *d = NULL;
  dkg_share *shares = sodium_malloc(k->n * sizeof *shares);
  dkg_round1_msg r1;
  cx_tx tx;
  tx_init(&tx);
  cx_err e = shares ? dkg_open(s->node, k, me, &d) : CX_E_NOMEM;
  if (!e) e = dkg_round1(d, &r1);
  if (!e) e = dkg_round2(d, shares, NULL, 0);
#if CUSTOS_TESTING
  for (uint32_t j = 0; j < k->n && !e; j++)
    if (j != me) dkg_cheat_share(k, me, j, &shares[j]);
#endif
  if (!e) e = deal_tx(k, &r1, shares, me, &tx);
  if (!e) {
    submit(s, &tx, "deal", k->name);
  } else {
    char msg[200];
    snprintf(msg, sizeof msg, "key %s: cannot make this party's deal: %s", k->name, cx_err_name(e));
    set_error(s, msg);
  }
  lk->deal_at = mono(s);
  tx_clear(&tx);
  dkg_free(d);
  if (shares) sodium_free(shares);
}

/* Opens this party's sealed share of dealer i: CX_OK with *sh, or an error
 * when the box does not open or the share does not decode for (i, me). */
static cx_err open_share(const node *n, const vm_key *k, uint32_t i, uint32_t me, dkg_share *sh) {
  const uint8_t *box = k->sealed[i] + (size_t)me * CX_KEY_SEALED_LEN;
  uint8_t *plain = sodium_malloc(DKG_SHARE_LEN);
  if (!plain) return CX_E_NOMEM;
  cx_err e = CX_OK;
  if (crypto_box_seal_open(plain, box, CX_KEY_SEALED_LEN, n->keys.enc_public, n->keys.enc_secret) != 0)
    e = CX_E_CRYPTO;
  if (!e) e = dkg_share_decode(plain, DKG_SHARE_LEN, sh, NULL, 0);
  if (!e && (sh->dealer != i + 1 || sh->recipient != me + 1)) e = CX_E_INVALID_ARG;
  sodium_free(plain);
  return e;
}

/* Feeds every deal on chain to d: round ones, then this party's shares.
 * complaints (may be NULL) receives the complaints this party must make. */
static cx_err feed_deals(const node *n, const vm_key *k, uint32_t me, dkg *d, dkg_complaint *complaints,
                         uint32_t *nc) {
  if (nc) *nc = 0;
  dkg_share *sh = sodium_malloc(sizeof *sh);
  if (!sh) return CX_E_NOMEM;
  cx_err e = CX_OK;
  for (uint32_t i = 0; i < k->n && !e; i++) {
    if (!(k->dealt >> i & 1) || i == me) continue;
    dkg_round1_msg r1;
    if (dkg_round1_decode(k->round1[i], k->round1_len[i], &r1, NULL, 0) != CX_OK ||
        dkg_recv_round1(d, &r1, NULL, 0) != CX_OK)
      continue; /* the vm checked it: cannot happen */
    dkg_complaint c;
    int complained = 0;
    if (open_share(n, k, i, me, sh) != CX_OK) {
      if (dkg_complain(d, (uint16_t)(i + 1), &c, NULL, 0) == CX_OK) complained = 1;
    } else {
      (void)dkg_recv_share(d, sh, &c, &complained, NULL, 0);
    }
    if (complained && complaints) complaints[(*nc)++] = c;
  }
  sodium_free(sh);
  return e;
}

static void step_verdict(key_service *s, const vm_key *k, lkey *lk, uint32_t me) {
  node *n = s->node;
  dkg *d = NULL;
  dkg_complaint *cs = calloc(CX_MAX_VALIDATORS, sizeof *cs);
  uint32_t nc = 0;
  cx_tx tx;
  tx_init(&tx);
  cx_err e = cs ? dkg_open(n, k, me, &d) : CX_E_NOMEM;
  if (!e) e = feed_deals(n, k, me, d, cs, &nc);
  if (!e) {
    tx.type = TX_KEY_VERDICT;
    cx_tx_key_verdict *v = &tx.u.kverdict;
    snprintf(v->name, sizeof v->name, "%s", k->name);
    v->epoch = k->epoch;
    v->k = nc;
    for (uint32_t i = 0; i < nc; i++) {
      v->complaint_len[i] = (uint8_t)dkg_complaint_encode(&cs[i], v->complaint[i]);
      LOG_W("keys", "key %s: complaint against party %u (%s)", k->name, (unsigned)cs[i].dealer - 1,
            cs[i].reason == DKG_COMPLAINT_BAD_SHARE ? "bad share" : "no share");
    }
    submit(s, &tx, nc ? "verdict with complaints" : "verdict", k->name);
  } else {
    char msg[200];
    snprintf(msg, sizeof msg, "key %s: cannot check the deals: %s", k->name, cx_err_name(e));
    set_error(s, msg);
  }
  lk->verdict_at = mono(s);
  if (cs) {
    sodium_memzero(cs, CX_MAX_VALIDATORS * sizeof *cs); /* disclosed shares: public soon, still */
    free(cs);
  }
  tx_clear(&tx);
  dkg_free(d);
}

/* Answers every pending complaint against this party. */
static void step_answers(key_service *s, const vm_key *k, lkey *lk, uint32_t me) {
  dkg *d = NULL;
  for (size_t c = 0; c < k->ncomplaints; c++) {
    const vm_key_complaint *kc = &k->complaints[c];
    if (kc->dealer != me || kc->state != 0) continue;
    if (lk->answered_at[kc->complainer] && mono(s) < lk->answered_at[kc->complainer] + RETRY_MS) continue;
#if CUSTOS_TESTING
    if (dkg_cheat_noanswer(k, kc->complainer)) {
      lk->answered_at[kc->complainer] = mono(s); /* the warning again after RETRY_MS, not every tick */
      continue;
    }
#endif
    if (!d && dkg_open(s->node, k, me, &d) != CX_OK) return;
    dkg_complaint cp;
    dkg_answer a;
    cx_tx tx;
    tx_init(&tx);
    if (dkg_complaint_decode(kc->complaint, kc->complaint_len, &cp, NULL, 0) == CX_OK &&
        dkg_answer_make(d, &cp, &a, NULL, 0) == CX_OK) {
      tx.type = TX_KEY_ANSWER;
      snprintf(tx.u.kanswer.name, sizeof tx.u.kanswer.name, "%s", k->name);
      tx.u.kanswer.epoch = k->epoch;
      dkg_answer_encode(&a, tx.u.kanswer.answer);
      submit(s, &tx, "answer to a complaint", k->name);
    }
    lk->answered_at[kc->complainer] = mono(s);
    tx_clear(&tx);
  }
  dkg_free(d);
}

static void step_advance(key_service *s, const vm_key *k, lkey *lk, uint32_t me) {
  uint8_t ph = k->phase;
  if (k->votes >> me & 1) return;
  if (mono(s) < lk->phase_seen_at + PHASE_TIMEOUT_MS) return;
  if (lk->advance_at[ph] && mono(s) < lk->advance_at[ph] + RETRY_MS) return;
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_KEY_ADVANCE;
  snprintf(tx.u.kadvance.name, sizeof tx.u.kadvance.name, "%s", k->name);
  tx.u.kadvance.epoch = k->epoch;
  tx.u.kadvance.phase = ph;
  submit(s, &tx, ph == VM_KEY_DEALING ? "vote to end dealing" : "vote to end verifying", k->name);
  lk->advance_at[ph] = mono(s);
  tx_clear(&tx);
}

/* A checked signing share (sodium_malloc'd; taken) becomes this party's
 * share of key k's epoch; older epochs' shares are wiped. */
static void keep_share(key_service *s, const vm_key *k, lkey *lk, uint32_t me, frost_scalar *sh) {
  pthread_mutex_lock(&s->mu);
  lk->share = sh;
  lk->n = k->n;
  lk->t = k->t;
  lk->me = me;
  memcpy(lk->group_pk.b, k->group_pk, 32);
  for (uint32_t j = 0; j < k->n; j++) memcpy(lk->pk_shares[j].b, k->pk_shares[j], 32);
  memcpy(lk->parties, k->parties, k->n * sizeof *k->parties);
  lk->have_share = 1;
  pthread_mutex_unlock(&s->mu);
  char hex[65];
  hex_encode(k->group_pk, 32, hex);
  LOG_I("keys", "key %s (epoch %u) ready: group key %.16s, this party's share checked", k->name,
        (unsigned)k->epoch, hex);
  lkey_retire(s, k->name, k->epoch);
}

/* READY: this party's signing share, from the chain and its seed. The
 * library's finish must agree with the chain on QUAL and on Y_me; if not,
 * the share is not used. */
static void step_share(key_service *s, const vm_key *k, lkey *lk, uint32_t me) {
  node *n = s->node;
  dkg *d = NULL;
  frost_scalar *sh = sodium_malloc(sizeof *sh);
  dkg_result *res = calloc(1, sizeof *res);
  char why[160] = "";
  cx_err e = sh && res ? dkg_open(n, k, me, &d) : CX_E_NOMEM;
  if (!e) e = feed_deals(n, k, me, d, NULL, NULL);
  for (size_t c = 0; c < k->ncomplaints && !e; c++) {
    const vm_key_complaint *kc = &k->complaints[c];
    dkg_complaint cp;
    if (dkg_complaint_decode(kc->complaint, kc->complaint_len, &cp, NULL, 0) != CX_OK) continue;
    (void)dkg_recv_complaint(d, &cp, NULL, 0);
    if (kc->state != 0) {
      dkg_answer a;
      if (dkg_answer_decode(kc->answer, CX_KEY_ANSWER_LEN, &a, NULL, 0) == CX_OK) (void)dkg_recv_answer(d, &a, NULL, 0);
    }
  }
  if (!e) e = dkg_finish(d, res, sh, why, sizeof why);
  uint64_t qual = 0;
  if (!e)
    for (uint16_t i = 0; i < res->nqual; i++) qual |= 1ull << (res->qual[i] - 1);
  frost_element y;
  if (!e && (qual != k->qual || memcmp(res->group_pk.b, k->group_pk, 32) != 0)) {
    e = CX_E_MPC_INCONSISTENT;
    snprintf(why, sizeof why, "this party's view of QUAL or the group key differs from the chain's");
  }
  if (!e && (frost_public_share(sh, &y) != CX_OK || memcmp(y.b, k->pk_shares[me], 32) != 0)) {
    e = CX_E_MPC_INCONSISTENT;
    snprintf(why, sizeof why, "this party's share does not match its verification share on chain");
  }
  if (e) {
    char msg[256];
    snprintf(msg, sizeof msg, "key %s: no signing share for this party: %s%s%s", k->name, cx_err_name(e),
             why[0] ? ": " : "", why);
    set_error(s, msg);
    lk->share_bad = 1;
    if (sh) sodium_free(sh);
  } else {
    keep_share(s, k, lk, me, sh);
  }
  free(res);
  dkg_free(d);
}

static void step_share_reshare(key_service *s, const vm_key *k, lkey *lk, uint32_t me);

/* This party's share of a READY epoch: a DKG's or a resharing's. */
static void compute_share(key_service *s, const vm_key *k, lkey *lk, uint32_t me) {
  if (k->reshare)
    step_share_reshare(s, k, lk, me);
  else
    step_share(s, k, lk, me);
}

/* ---- resharing (docs/keys.md §10) ------------------------------------------ */

/* This party's old share of reshare-mode key k (epoch k->from_epoch), from
 * the local state or, after a restart, recomputed from that epoch's record.
 * NULL when this node has none. */
static lkey *old_share(key_service *s, const vm_key *k) {
  lkey *lo = lkey_find(s, k->name, k->from_epoch, 0);
  if (lo && lo->have_share) return lo;
  vm_key *old = calloc(1, sizeof *old);
  if (!old) return NULL;
  vm_key_init(old);
  if (vm_key_get_epoch(&s->node->ro, k->name, k->from_epoch, old) == CX_OK && old->phase == VM_KEY_READY) {
    int me = vm_key_party(old, &s->node->keys.pub);
    lo = me < 0 ? NULL : lkey_find(s, k->name, k->from_epoch, 1);
    if (lo && !lo->have_share && !lo->share_bad) compute_share(s, old, lo, (uint32_t)me);
  }
  vm_key_clear(old);
  free(old);
  return lo && lo->have_share ? lo : NULL;
}

/* An old party deals its share anew (docs/keys.md §10), its polynomial
 * drawn from §5's seed over the new epoch's context. */
static void step_reshare_deal(key_service *s, const vm_key *k, lkey *lk, uint32_t old_me) {
  lkey *lo = old_share(s, k);
  lk->deal_at = mono(s);
  if (!lo) {
    char msg[160];
    snprintf(msg, sizeof msg, "key %s: no share of epoch %u here: cannot deal it anew", k->name,
             (unsigned)k->from_epoch);
    set_error(s, msg);
    return;
  }
  uint8_t *seed = sodium_malloc(32);
  dkg_share *shares = sodium_malloc(k->n * sizeof *shares);
  dkg_round1_msg *r1 = malloc(sizeof *r1);
  cx_tx tx;
  tx_init(&tx);
  char why[160] = "";
  cx_err e = seed && shares && r1 ? dkg_seed(s->node, k->context, seed) : CX_E_NOMEM;
  if (!e)
    e = dkg_reshare_deal(k->context, (uint16_t)k->n, k->t, (uint16_t)(old_me + 1), lo->share, seed, r1, shares, why,
                         sizeof why);
  if (!e) e = deal_tx(k, r1, shares, UINT32_MAX, &tx); /* every new party, this member too (§10) */
  if (!e) {
    submit(s, &tx, "reshare deal", k->name);
  } else {
    char msg[300];
    snprintf(msg, sizeof msg, "key %s: cannot make this party's reshare deal: %s %s", k->name, cx_err_name(e), why);
    set_error(s, msg);
  }
  tx_clear(&tx);
  if (seed) sodium_free(seed);
  if (shares) sodium_free(shares);
  free(r1);
}

/* Old dealer i's share g_i(me) for new party me, opened and checked:
 * CX_OK, or an error when the box does not open, the share does not
 * decode for (i, me), or it fails the dealer's commitments (*bad = 1). */
static cx_err reshare_open(const node *n, const vm_key *k, uint32_t i, uint32_t me, dkg_share *sh, int *bad) {
  *bad = 0;
  dkg_round1_msg *r1 = malloc(sizeof *r1);
  uint8_t *plain = sodium_malloc(DKG_SHARE_LEN);
  cx_err e = r1 && plain ? CX_OK : CX_E_NOMEM;
  if (!e && dkg_round1_decode(k->round1[i], k->round1_len[i], r1, NULL, 0) != CX_OK) e = CX_E_CORRUPT;
  if (!e && crypto_box_seal_open(plain, k->sealed[i] + (size_t)me * CX_KEY_SEALED_LEN, CX_KEY_SEALED_LEN,
                                 n->keys.enc_public, n->keys.enc_secret) != 0)
    e = CX_E_CRYPTO;
  if (!e) e = dkg_reshare_share_decode(plain, DKG_SHARE_LEN, sh, NULL, 0);
  if (!e && (sh->dealer != i + 1 || sh->recipient != me + 1)) e = CX_E_INVALID_ARG;
  if (!e && dkg_reshare_share_check((uint16_t)(me + 1), sh, r1) != CX_OK) {
    e = CX_E_MPC_CHECK_FAILED;
    *bad = 1;
  }
  if (plain) sodium_free(plain);
  free(r1);
  return e;
}

static void step_reshare_verdict(key_service *s, const vm_key *k, lkey *lk, uint32_t me) {
  dkg_share *sh = sodium_malloc(sizeof *sh);
  cx_tx tx;
  tx_init(&tx);
  lk->verdict_at = mono(s);
  if (!sh) return;
  tx.type = TX_KEY_VERDICT;
  cx_tx_key_verdict *v = &tx.u.kverdict;
  snprintf(v->name, sizeof v->name, "%s", k->name);
  v->epoch = k->epoch;
  for (uint32_t i = 0; i < k->n_old && i < CX_MAX_VALIDATORS; i++) {
    if (!(k->dealt >> i & 1)) continue;
    int bad = 0;
    if (reshare_open(s->node, k, i, me, sh, &bad) == CX_OK) continue;
    dkg_complaint c = {.dealer = (uint16_t)(i + 1), .complainer = (uint16_t)(me + 1)};
    c.reason = bad ? DKG_COMPLAINT_BAD_SHARE : DKG_COMPLAINT_NO_SHARE;
    if (bad) c.share = sh->value;
    v->complaint_len[v->k] = (uint8_t)dkg_complaint_encode(&c, v->complaint[v->k]);
    v->k++;
    sodium_memzero(&c, sizeof c);
    LOG_W("keys", "key %s: reshare complaint against old party %u (%s)", k->name, (unsigned)i,
          bad ? "bad share" : "no share");
  }
  submit(s, &tx, v->k ? "reshare verdict with complaints" : "reshare verdict", k->name);
  sodium_memzero(v->complaint, sizeof v->complaint);
  tx_clear(&tx);
  sodium_free(sh);
}

/* Answers every pending complaint against this old dealer, re-deriving its
 * polynomial from the seed. */
static void step_reshare_answers(key_service *s, const vm_key *k, lkey *lk, uint32_t old_me) {
  lkey *lo = NULL;
  uint8_t *seed = NULL;
  for (size_t c = 0; c < k->ncomplaints; c++) {
    const vm_key_complaint *kc = &k->complaints[c];
    if (kc->dealer != old_me || kc->state != 0) continue;
    if (lk->answered_at[kc->complainer] && mono(s) < lk->answered_at[kc->complainer] + RETRY_MS) continue;
    lk->answered_at[kc->complainer] = mono(s);
    if (!lo && !(lo = old_share(s, k))) return;
    if (!seed && (!(seed = sodium_malloc(32)) || dkg_seed(s->node, k->context, seed) != CX_OK)) break;
    dkg_complaint cp;
    dkg_answer a;
    cx_tx tx;
    tx_init(&tx);
    if (dkg_reshare_complaint_decode(kc->complaint, kc->complaint_len, &cp, NULL, 0) == CX_OK &&
        dkg_reshare_answer(k->context, (uint16_t)k->n, k->t, (uint16_t)(old_me + 1), lo->share, seed, &cp, &a) ==
            CX_OK) {
      tx.type = TX_KEY_ANSWER;
      snprintf(tx.u.kanswer.name, sizeof tx.u.kanswer.name, "%s", k->name);
      tx.u.kanswer.epoch = k->epoch;
      dkg_answer_encode(&a, tx.u.kanswer.answer);
      submit(s, &tx, "answer to a reshare complaint", k->name);
    }
    tx_clear(&tx);
  }
  if (seed) sodium_free(seed);
}

/* READY in reshare mode: s'_me = Σ_{i∈S} λ_i g_i(me), from the sealed
 * shares or the public answers to this party's complaints; checked against
 * Y'_me on chain. */
static void step_share_reshare(key_service *s, const vm_key *k, lkey *lk, uint32_t me) {
  frost_scalar *vals = sodium_malloc(CX_MAX_VALIDATORS * sizeof *vals), *sh = sodium_malloc(sizeof *sh);
  dkg_share *one = sodium_malloc(sizeof *one);
  char why[160] = "";
  cx_err e = vals && sh && one ? CX_OK : CX_E_NOMEM;
  for (uint8_t x = 0; x < k->n_s && !e; x++) {
    uint32_t i = (uint32_t)k->s_ids[x] - 1;
    int bad = 0;
    if (reshare_open(s->node, k, i, me, one, &bad) == CX_OK) {
      vals[x] = one->value;
      continue;
    }
    e = CX_E_MPC_INCONSISTENT; /* unless an answer revealed it */
    snprintf(why, sizeof why, "no valid share from old party %u", (unsigned)i);
    for (size_t c = 0; c < k->ncomplaints; c++) {
      const vm_key_complaint *kc = &k->complaints[c];
      dkg_answer a;
      if (kc->dealer == i && kc->complainer == me && kc->state == 1 &&
          dkg_reshare_answer_decode(kc->answer, CX_KEY_ANSWER_LEN, &a, NULL, 0) == CX_OK) {
        vals[x] = a.share;
        e = CX_OK;
        break;
      }
    }
  }
  if (!e) e = dkg_reshare_combine(k->n_s, k->s_ids, vals, sh);
  frost_element y;
  if (!e && (frost_public_share(sh, &y) != CX_OK || memcmp(y.b, k->pk_shares[me], 32) != 0)) {
    e = CX_E_MPC_INCONSISTENT;
    snprintf(why, sizeof why, "this party's new share does not match its verification share on chain");
  }
  if (e) {
    char msg[256];
    snprintf(msg, sizeof msg, "key %s: no signing share at epoch %u: %s%s%s", k->name, (unsigned)k->epoch,
             cx_err_name(e), why[0] ? ": " : "", why);
    set_error(s, msg);
    lk->share_bad = 1;
    if (sh) sodium_free(sh);
  } else {
    keep_share(s, k, lk, me, sh);
  }
  if (vals) sodium_free(vals);
  if (one) sodium_free(one);
}

/* A READY key of epoch e whose parties are no longer the validators is
 * reshared (docs/keys.md §10): the lowest-ranked validator submits
 * key_reshare, the others after CREATE_STAGGER_MS x rank. */
static void ensure_reshare(key_service *s, const vm_key *k, const cx_member *vals, size_t nval, int rank,
                           lkey *lk) {
  int same = k->n == nval;
  for (size_t i = 0; same && i < nval; i++) same = memcmp(k->parties[i].b, vals[i].key.b, 32) == 0;
  uint64_t now = mono(s);
  if (same || rank < 0 || nval < 2) {
    lk->reshare_due = 0;
    return;
  }
  if (!lk->reshare_due) lk->reshare_due = now + (uint64_t)rank * CREATE_STAGGER_MS;
  if (now < lk->reshare_due || (lk->reshare_at && now < lk->reshare_at + RETRY_MS)) return;
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_KEY_RESHARE;
  snprintf(tx.u.kreshare.name, sizeof tx.u.kreshare.name, "%s", k->name);
  tx.u.kreshare.epoch = k->epoch;
  submit(s, &tx, "resharing to the validators now", k->name);
  lk->reshare_at = now;
  tx_clear(&tx);
}

static void beacon_on_height(key_service *s, uint64_t h);
static void beacon_replay_early(key_service *s);
static void sign_tick(key_service *s);
static int sign_on_msg(key_service *s, kmsg *m);

/* This party's next step for key k (its latest epoch), as a DKG party,
 * or in a resharing as an old party (deals, answers) and/or a new one
 * (verdicts, votes, the new share). vals/rank: the validators now and this
 * node's place among them (-1: none). */
static void follow_key(key_service *s, const vm_key *k, const cx_member *vals, size_t nval, int rank) {
  const cx_pubkey *pub = &s->node->keys.pub;
  int me = vm_key_party(k, pub), old_me = k->reshare ? vm_key_old_party(k, pub) : -1;
  if (me < 0 && old_me < 0) {
    /* no party of the latest epoch (left the consortium): older shares go */
    if (k->phase == VM_KEY_READY) lkey_retire(s, k->name, k->epoch);
    return;
  }
  lkey *lk = lkey_find(s, k->name, k->epoch, 1);
  if (!lk) return;
  uint64_t now = mono(s);
  if (lk->phase != k->phase) {
    lk->phase = k->phase;
    lk->phase_seen_at = now;
  }
  uint32_t m = (uint32_t)me;
  int retry_deal = !lk->deal_at || now >= lk->deal_at + RETRY_MS;
  switch (k->phase) {
  case VM_KEY_DEALING:
    if (k->reshare) {
      if (old_me >= 0 && (k->old_members >> old_me & 1) && !(k->dealt >> old_me & 1) && retry_deal)
        step_reshare_deal(s, k, lk, (uint32_t)old_me);
    } else if (me >= 0 && !(k->dealt >> m & 1) && retry_deal) {
      step_deal(s, k, lk, m);
    }
    if (me >= 0) step_advance(s, k, lk, m);
    break;
  case VM_KEY_VERIFYING:
    if (me >= 0 && !(k->verdict >> m & 1) && (!lk->verdict_at || now >= lk->verdict_at + RETRY_MS)) {
      if (k->reshare)
        step_reshare_verdict(s, k, lk, m);
      else
        step_verdict(s, k, lk, m);
    }
    if (k->reshare && old_me >= 0)
      step_reshare_answers(s, k, lk, (uint32_t)old_me);
    else if (!k->reshare)
      step_answers(s, k, lk, m);
    if (me >= 0) step_advance(s, k, lk, m);
    break;
  case VM_KEY_READY:
    if (me < 0) { /* an old party only: its part is over */
      lkey_retire(s, k->name, k->epoch);
      break;
    }
    if (!lk->have_share && !lk->share_bad) {
      compute_share(s, k, lk, m);
      /* the tip was committed before the share existed: its beacon now */
      if (lk->have_share && strcmp(k->name, "beacon") == 0) {
        pthread_mutex_lock(&s->mu);
        uint64_t tip = s->tip;
        pthread_mutex_unlock(&s->mu);
        if (tip) beacon_on_height(s, tip);
        beacon_replay_early(s);
      }
    }
    ensure_reshare(s, k, vals, nval, rank, lk);
    break;
  default:
    break;
  }
}

/* The lowest-ranked validator creates the results and beacon keys when
 * they are missing or FAILED; the others after CREATE_STAGGER_MS x rank. */
static void ensure_keys(key_service *s, size_t nval, int rank) {
  node *n = s->node;
  if (nval < 2 || rank < 0) return;
  uint32_t f = (uint32_t)(nval - 1) / 3;
  static const char *names[3] = {NULL, "results", "beacon"};
  vm_key *k = malloc(sizeof *k);
  if (!k) return;
  for (uint8_t p = CX_KEY_PURPOSE_RESULTS; p <= CX_KEY_PURPOSE_BEACON; p++) {
    vm_key_init(k);
    cx_err e = vm_key_get(&n->ro, names[p], k);
    int missing = e == CX_E_NOT_FOUND || (!e && k->phase == VM_KEY_FAILED);
    vm_key_clear(k);
    uint64_t now = mono(s);
    if (!missing) {
      s->missing_since[p] = 0;
      continue;
    }
    if (!s->missing_since[p]) s->missing_since[p] = now;
    if (now < s->missing_since[p] + (uint64_t)rank * CREATE_STAGGER_MS) continue;
    if (s->create_at[p] && now < s->create_at[p] + RETRY_MS) continue;
    cx_tx tx;
    tx_init(&tx);
    tx.type = TX_KEY_CREATE;
    snprintf(tx.u.kcreate.name, sizeof tx.u.kcreate.name, "%s", names[p]);
    tx.u.kcreate.purpose = p;
    uint32_t t = p == CX_KEY_PURPOSE_RESULTS ? (uint32_t)nval - f : f + 1;
    tx.u.kcreate.t = (uint8_t)(t < 2 ? 2 : t);
    submit(s, &tx, "creation", names[p]);
    s->create_at[p] = now;
    tx_clear(&tx);
  }
  free(k);
}

/* A node replaying history (block sync: a joining member's node, a
 * restarted one far behind) must not act on the DKG phases it passes
 * through: the others settled them long ago, and what it would submit
 * (deals, verdicts, votes) would be refused on chain, or worse, hold its
 * next nonce. A peer two heights ahead means we are replaying. */
static int replaying(node *n) {
  pthread_mutex_lock(&n->smu);
  uint64_t best = n->best_peer_height;
  pthread_mutex_unlock(&n->smu);
  return best > store_height(n->st) + 2;
}

static void keys_tick(key_service *s) {
  uint64_t now = mono(s);
  if (now < s->tick_at + TICK_MS) return;
  s->tick_at = now;
  node *n = s->node;
  if (replaying(n)) return;
  char (*names)[CX_KEY_NAME_MAX + 1] = calloc(KEYS_MAX, sizeof *names);
  size_t nk = 0;
  vm_key *k = malloc(sizeof *k);
  cx_member *vals = calloc(CX_MAX_VALIDATORS, sizeof *vals);
  size_t nval = 0;
  int rank = -1; /* this node's place among the validators (one read a tick) */
  if (vals && vm_validators(&n->ro, vals, CX_MAX_VALIDATORS, &nval) == CX_OK)
    for (size_t i = 0; i < nval; i++)
      if (memcmp(vals[i].key.b, n->keys.pub.b, 32) == 0) rank = (int)i;
  ensure_keys(s, nval, rank);
  if (names && k && vals && vm_key_names(&n->ro, names, KEYS_MAX, &nk) == CX_OK) {
    for (size_t i = 0; i < nk && i < KEYS_MAX; i++) {
      vm_key_init(k);
      if (vm_key_get(&n->ro, names[i], k) == CX_OK) follow_key(s, k, vals, nval, rank);
      vm_key_clear(k);
    }
  }
  free(vals);
  free(k);
  free(names);
  sign_tick(s);
}

/* ---- custody signing (docs/keys.md §9) ------------------------------------ */

/* Sends what a signing job's session has queued: to one party, or to every
 * other party of the key. */
static void sign_pump(key_service *s, sjob *j) {
  node *n = s->node;
  tsign_tick(j->ts, mono(s));
  tsign_out *o = malloc(sizeof *o);
  uint8_t *buf = malloc(2 + 32 + TSIGN_MSG_MAX_LEN);
  if (!o || !buf) {
    free(o);
    free(buf);
    return;
  }
  while (tsign_poll(j->ts, o)) {
    buf[0] = KW_VERSION;
    buf[1] = KEY_TSIGN;
    memcpy(buf + 2, j->id.b, 32);
    memcpy(buf + 34, o->buf, o->len);
    for (uint32_t p = 0; p < j->n; p++) {
      if (p == j->me || (o->to != TSIGN_TO_ALL && o->to != p + 1)) continue;
      cx_member m;
      if (vm_member_by_key(&n->ro, &j->parties[p], &m) != CX_OK) continue;
      cx_err e = net_send(n->net, m.name, NET_MSG_KEY, buf, 34 + o->len);
      if (e) LOG_D("keys", "signing message to %s dropped: %s", m.name, cx_err_name(e));
    }
  }
  free(o);
  free(buf);
}

static int sign_party_of(const key_service *s, const sjob *j, const char *name) {
  cx_member m;
  if (vm_member_get(&s->node->ro, name, &m) != CX_OK) return -1;
  for (uint32_t p = 0; p < j->n; p++)
    if (memcmp(j->parties[p].b, m.key.b, 32) == 0) return (int)p;
  return -1;
}

static void sign_deliver(key_service *s, sjob *j, const kmsg *m) {
  int from = sign_party_of(s, j, m->from);
  char why[160];
  if (from < 0) {
    node_refuse(s->node, &s->refused, "signing message", m->from, "not a party of the key");
    return;
  }
  cx_err e = tsign_recv(j->ts, (uint16_t)(from + 1), m->w.ts, m->w.ts_len, mono(s), why, sizeof why);
  /* late commitments or shares (the signers were chosen, or the signature
   * is made) are normal, not refusals */
  if (e && e != CX_E_MPC_ROUND && !(e == CX_E_MPC_STATE && tsign_status_get(j->ts) != TSIGN_RUNNING))
    node_refuse(s->node, &s->refused, "signing message", m->from, why);
  sign_pump(s, j);
}

/* Returns 1 when m was kept (no job for its request yet). */
static int sign_on_msg(key_service *s, kmsg *m) {
  for (size_t i = 0; i < SIGN_MAX; i++)
    if (s->sj[i].used && hash_eq(&s->sj[i].id, &m->w.request)) {
      sign_deliver(s, &s->sj[i], m);
      return 0;
    }
  if (s->nspend == SPEND_MAX) {
    free(s->spend[0]);
    memmove(s->spend, s->spend + 1, --s->nspend * sizeof *s->spend);
  }
  s->spend[s->nspend++] = m;
  return 1;
}

/* Opens a job for an APPROVED request of a custody key this party holds a
 * share of, at the request's epoch. The message is the chain's: nothing
 * else can be signed. */
static void sign_open(key_service *s, sjob *j, const cx_hash *id) {
  vm_sign_request *rq = malloc(sizeof *rq);
  if (!rq) return;
  if (vm_sign_request_get(&s->node->ro, id, rq) != CX_OK || rq->status != SIGN_APPROVED) {
    free(rq);
    return;
  }
  uint8_t sid[32];
  crypto_generichash_state h;
  static const char label[] = "custos/sign";
  crypto_generichash_init(&h, NULL, 0, 32);
  crypto_generichash_update(&h, (const uint8_t *)label, sizeof label - 1);
  crypto_generichash_update(&h, id->b, 32);
  crypto_generichash_update(&h, rq->msg, rq->msg_len);
  crypto_generichash_final(&h, sid, 32);
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < KEYS_MAX; i++) {
    lkey *k = &s->keys[i];
    if (!k->used || !k->have_share || strcmp(k->name, rq->key) != 0 || k->epoch != rq->epoch) continue;
    if (lkey_tsign(k, sid, rq->msg, rq->msg_len, &j->ts) == CX_OK) {
      j->used = 1;
      j->id = *id;
      j->me = k->me;
      j->n = k->n;
      memcpy(j->parties, k->parties, k->n * sizeof *k->parties);
      j->seen_at = mono(s);
      j->coordinating = 0;
      j->coord_at = j->submit_at = 0;
    }
    break;
  }
  pthread_mutex_unlock(&s->mu);
  free(rq);
  if (!j->used) return;
  size_t w = 0;
  for (size_t i = 0; i < s->nspend; i++) {
    kmsg *m = s->spend[i];
    if (hash_eq(&m->w.request, id)) {
      sign_deliver(s, j, m);
      free(m);
    } else {
      s->spend[w++] = m;
    }
  }
  s->nspend = w;
}

static void sign_submit(key_service *s, sjob *j) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_SIGN_RESULT;
  tx.u.sres.request = j->id;
  if (tsign_signature(j->ts, tx.u.sres.sig.b) == CX_OK) {
    char hex[65];
    submit(s, &tx, "custody signature", hash_hex(&j->id, hex));
  }
  tx_clear(&tx);
}

/* Every tick: follow the APPROVED requests; the party of rank r
 * coordinates after r x SIGN_STAGGER_MS (if the request is still not
 * signed), submits the signature when its session is DONE, and tries a
 * new attempt after a failure. */
static void sign_tick(key_service *s) {
  cx_hash *ids = calloc(SIGN_MAX, sizeof *ids);
  size_t np = 0;
  if (!ids) return;
  cx_err e = vm_sign_pending(&s->node->ro, ids, SIGN_MAX, &np);
  if (e && e != CX_E_FULL) np = 0;
  if (np > SIGN_MAX) np = SIGN_MAX;
  for (size_t i = 0; i < SIGN_MAX; i++) { /* signed or closed: done */
    sjob *j = &s->sj[i];
    if (!j->used) continue;
    int pending = 0;
    for (size_t k = 0; k < np && !pending; k++) pending = hash_eq(&ids[k], &j->id);
    if (!pending) {
      tsign_free(j->ts);
      memset(j, 0, sizeof *j);
    }
  }
  for (size_t k = 0; k < np; k++) {
    int have = 0;
    sjob *fr = NULL;
    for (size_t i = 0; i < SIGN_MAX; i++) {
      if (s->sj[i].used && hash_eq(&s->sj[i].id, &ids[k])) have = 1;
      if (!s->sj[i].used && !fr) fr = &s->sj[i];
    }
    if (!have && fr) sign_open(s, fr, &ids[k]);
  }
  free(ids);
  uint64_t now = mono(s);
  for (size_t i = 0; i < SIGN_MAX; i++) {
    sjob *j = &s->sj[i];
    if (!j->used) continue;
    if (!j->coordinating && now >= j->seen_at + (uint64_t)j->me * SIGN_STAGGER_MS) {
      if (tsign_coordinate(j->ts, 0, now, NULL, 0) == CX_OK) j->coordinating = 1;
      j->coord_at = now;
    }
    sign_pump(s, j);
    if (!j->coordinating) continue;
    tsign_status st = tsign_status_get(j->ts);
    if (st == TSIGN_DONE && (!j->submit_at || now >= j->submit_at + RETRY_MS)) {
      sign_submit(s, j);
      j->submit_at = now;
    } else if (st == TSIGN_FAILED && now >= j->coord_at + RETRY_MS) {
      char hex[65];
      LOG_W("keys", "custody request %.16s: signing failed (%s); trying again", hash_hex(&j->id, hex),
            tsign_reason(j->ts));
      (void)tsign_coordinate(j->ts, (uint16_t)(tsign_attempt(j->ts) + 1), now, NULL, 0);
      j->coord_at = now;
    }
  }
}

/* ---- the beacon (docs/keys.md §7) ----------------------------------------- */

/* The beacon key's latest epoch with this party's share. */
static lkey *beacon_key(key_service *s) {
  lkey *best = NULL;
  for (size_t i = 0; i < KEYS_MAX; i++)
    if (s->keys[i].used && s->keys[i].have_share && strcmp(s->keys[i].name, "beacon") == 0 &&
        (!best || s->keys[i].epoch > best->epoch))
      best = &s->keys[i];
  return best;
}

/* The ring slot of height h, reset if it held another height. mu held. */
static bslot *slot_of(key_service *s, uint64_t h, uint32_t epoch, uint32_t n) {
  bslot *b = &s->ring[h % BEACON_KEEP];
  if (b->height != h || (!b->done && b->epoch < epoch)) { /* a newer epoch's shares replace older ones */
    free(b->rec);
    free(b->shares);
    memset(b, 0, sizeof *b);
    b->height = h;
    b->epoch = epoch;
  }
  if (!b->done && b->epoch != epoch) return NULL; /* an older epoch's share: the slot has moved on */
  if (!b->done && !b->shares && !(b->shares = calloc(n, sizeof *b->shares))) return NULL;
  return b;
}

/* Adds a verified share; combines at t. mu held. Every share here was
 * checked once already (beacon_on_msg verifies a received share's proof;
 * our own we made), so the combine is the plain one over the first t, in id
 * order: checking them again cost four DLEQ verifications a height at n = 4,
 * and the record built here is what third parties verify (beacon_get). */
static void beacon_add(key_service *s, const lkey *bk, uint64_t h, uint32_t from, const beacon_share *sh) {
  bslot *b = slot_of(s, h, bk->epoch, bk->n);
  if (!b || b->done || (b->have >> from & 1)) return;
  b->shares[from] = *sh;
  b->have |= 1ull << from;
  if ((uint32_t)__builtin_popcountll(b->have) < bk->t) return;
  beacon_record *rec = calloc(1, sizeof *rec);
  if (!rec) return;
  beacon_coin_name(s->node->chain_id.b, h, rec->coin);
  rec->coin_len = BEACON_COIN_HEIGHT_LEN;
  for (uint32_t j = 0; j < bk->n && rec->nshares < bk->t; j++) /* ascending ids j + 1 */
    if (b->have >> j & 1) rec->shares[rec->nshares++] = b->shares[j];
  if (beacon_combine(rec->coin, rec->coin_len, (uint16_t)bk->t, rec->shares, rec->nshares,
                     rec->value, NULL, NULL, 0) == CX_OK) {
    memcpy(b->value, rec->value, sizeof b->value);
    size_t len = BEACON_RECORD_LEN(rec->coin_len, rec->nshares);
    if ((b->rec = malloc(len))) {
      b->rec_len = beacon_record_encode(rec, b->rec);
      b->done = 1;
      free(b->shares);
      b->shares = NULL;
      s->pub.beacons++;
      s->pub.beacon_height = h > s->pub.beacon_height ? h : s->pub.beacon_height;
    }
  }
  free(rec);
}

/* Makes this party's share of height h under beacon key epoch bk, adds it
 * and sends it to the epoch's other parties. mu held on entry; released. */
static void beacon_share_out(key_service *s, lkey *bk, uint64_t h) {
  node *n = s->node;
  uint8_t coin[BEACON_COIN_HEIGHT_LEN];
  beacon_coin_name(n->chain_id.b, h, coin);
  beacon_share sh;
  cx_err e = beacon_share_make(coin, sizeof coin, (uint16_t)(bk->me + 1), bk->share, &sh, NULL, 0);
  cx_pubkey parties[CX_MAX_VALIDATORS];
  uint32_t np = bk->n, me = bk->me, epoch = bk->epoch;
  memcpy(parties, bk->parties, np * sizeof *parties);
  if (!e) beacon_add(s, bk, h, me, &sh);
  pthread_mutex_unlock(&s->mu);
  if (e) return;
  uint8_t msg[2 + 8 + 4 + BEACON_SHARE_LEN];
  msg[0] = KW_VERSION;
  msg[1] = KEY_BEACON_SHARE;
  put_be64(msg + 2, h);
  put_be32(msg + 10, epoch);
  beacon_share_encode(&sh, msg + 14);
  for (uint32_t j = 0; j < np; j++) {
    if (j == me) continue;
    cx_member m;
    if (vm_member_by_key(&n->ro, &parties[j], &m) != CX_OK) continue;
    cx_err se = net_send(n->net, m.name, NET_MSG_KEY, msg, sizeof msg);
    if (se) LOG_D("keys", "beacon share for %llu to %s dropped: %s", (unsigned long long)h, m.name, cx_err_name(se));
  }
}

static void beacon_on_height(key_service *s, uint64_t h) {
  pthread_mutex_lock(&s->mu);
  lkey *bk = beacon_key(s);
  if (!bk) {
    pthread_mutex_unlock(&s->mu);
    return;
  }
  beacon_share_out(s, bk, h);
}

/* The beacon key's epoch with this party's share, or NULL. mu held. */
static lkey *beacon_epoch(key_service *s, uint32_t epoch) {
  for (size_t i = 0; i < KEYS_MAX; i++)
    if (s->keys[i].used && s->keys[i].have_share && s->keys[i].epoch == epoch &&
        strcmp(s->keys[i].name, "beacon") == 0)
      return &s->keys[i];
  return NULL;
}

/* Returns 1 when m was kept for later (this node has no beacon key yet:
 * the others may finish the DKG a moment sooner and send their shares of
 * the tip before this node can check them). */
static int beacon_on_msg(key_service *s, kmsg *m) {
  node *n = s->node;
  cx_member mem;
  if (vm_member_get(&n->ro, m->from, &mem) != CX_OK) return 0;
  pthread_mutex_lock(&s->mu);
  lkey *top = beacon_key(s), *bk = beacon_epoch(s, m->w.epoch);
  if (!bk && top && m->w.epoch < top->epoch) { /* an old epoch's, wiped here: the value comes anyway */
    pthread_mutex_unlock(&s->mu);
    return 0;
  }
  if (!bk) { /* a key or an epoch this node has not reached yet */
    if (s->nearly == EARLY_MAX) {
      free(s->early[0]);
      memmove(s->early, s->early + 1, --s->nearly * sizeof *s->early);
    }
    s->early[s->nearly++] = m;
    pthread_mutex_unlock(&s->mu);
    return 1;
  }
  const char *why = NULL;
  int from = -1;
  if (bk)
    for (uint32_t j = 0; j < bk->n; j++)
      if (memcmp(bk->parties[j].b, mem.key.b, 32) == 0) from = (int)j;
  uint64_t h = m->w.height;
  if (from < 0) why = "not a party of the beacon key";
  else if (m->w.share.id != from + 1) why = "share under another party's identifier";
  else if (h > s->tip + BEACON_AHEAD || h + BEACON_KEEP <= s->tip) why = "height outside the beacon window";
  const bslot *done = &s->ring[h % BEACON_KEEP];
  if (!why && done->height == h && done->done) { /* value known: the share is not needed */
    pthread_mutex_unlock(&s->mu);
    return 0;
  }
  if (!why) {
    uint8_t coin[BEACON_COIN_HEIGHT_LEN];
    beacon_coin_name(n->chain_id.b, h, coin);
    if (beacon_share_verify(coin, sizeof coin, (uint16_t)(from + 1), &bk->pk_shares[from], &m->w.share, NULL, 0) != CX_OK)
      why = "beacon share proof fails";
  }
  if (!why) {
    const bslot *b = &s->ring[h % BEACON_KEEP];
    int moved = b->height == h && !b->done && b->epoch < bk->epoch && b->have; /* older shares held */
    beacon_add(s, bk, h, (uint32_t)from, &m->w.share);
    if (moved && !(s->ring[h % BEACON_KEEP].have >> bk->me & 1)) {
      beacon_share_out(s, bk, h); /* this party's share under the newer epoch too; releases mu */
      return 0;
    }
  }
  pthread_mutex_unlock(&s->mu);
  if (why) node_refuse(n, &s->refused, "beacon share", m->from, why);
  return 0;
}

/* The shares kept by beacon_on_msg, now that the key is here. */
static void beacon_replay_early(key_service *s) {
  pthread_mutex_lock(&s->mu);
  size_t k = s->nearly;
  kmsg *list[EARLY_MAX];
  memcpy(list, s->early, k * sizeof *list);
  s->nearly = 0;
  pthread_mutex_unlock(&s->mu);
  for (size_t i = 0; i < k; i++)
    if (!beacon_on_msg(s, list[i])) free(list[i]);
}

cx_err key_service_beacon(node *n, uint64_t height, uint8_t value[BEACON_VALUE_LEN], uint8_t **rec, size_t *len) {
  key_service *s = n->keysvc;
  if (!s) return CX_E_NOT_FOUND;
  cx_err e = CX_E_NOT_FOUND;
  pthread_mutex_lock(&s->mu);
  const bslot *b = &s->ring[height % BEACON_KEEP];
  if (height && b->height == height && b->done) {
    e = CX_OK;
    memcpy(value, b->value, BEACON_VALUE_LEN);
    if (rec) {
      *rec = malloc(b->rec_len);
      if (!*rec) e = CX_E_NOMEM;
      else {
        memcpy(*rec, b->rec, b->rec_len);
        *len = b->rec_len;
      }
    }
  }
  pthread_mutex_unlock(&s->mu);
  return e;
}

cx_err key_service_tsign(node *n, const char *name, const cx_pubkey *parties, uint32_t np, const uint8_t sid[32],
                         const uint8_t *msg, size_t len, tsign **out, uint32_t *epoch, uint32_t *me) {
  key_service *s = n->keysvc;
  if (!s) return CX_E_KEY_NOT_READY;
  cx_err e = CX_E_KEY_NOT_READY;
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < KEYS_MAX; i++) {
    lkey *k = &s->keys[i];
    if (!k->used || !k->have_share || strcmp(k->name, name) != 0) continue;
    if (k->n != np || memcmp(k->parties, parties, np * sizeof *parties) != 0) continue; /* another epoch's */
    e = lkey_tsign(k, sid, msg, len, out);
    if (!e) {
      *epoch = k->epoch;
      *me = k->me;
    }
    break;
  }
  pthread_mutex_unlock(&s->mu);
  return e;
}

int key_audit_sampled(const uint8_t beacon[32], const cx_hash *call) {
  static const char label[] = "custos/audit";
  uint8_t m[sizeof label - 1 + 64], h[32];
  memcpy(m, label, sizeof label - 1);
  memcpy(m + sizeof label - 1, beacon, 32);
  memcpy(m + sizeof label - 1 + 32, call->b, 32);
  crypto_generichash(h, sizeof h, m, sizeof m, NULL, 0);
  return ((unsigned)h[0] << 8 | h[1]) < KEY_AUDIT_BELOW;
}

/* ---- the thread ----------------------------------------------------------- */

static void *svc_main(void *arg) {
  log_thread_name("cx-keys");
  key_service *s = arg;
  for (;;) {
    pthread_mutex_lock(&s->mu);
    if (!s->stop && !s->inq && !s->nheights) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 100 * 1000000L;
      ts.tv_sec += ts.tv_nsec / 1000000000L;
      ts.tv_nsec %= 1000000000L;
      pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    int stop = s->stop;
    kmsg *in = s->inq;
    s->inq = s->inq_tail = NULL;
    s->ninq = 0;
    uint64_t hs[HEIGHTS_MAX];
    size_t nh = s->nheights;
    memcpy(hs, s->heights, nh * sizeof *hs);
    s->nheights = 0;
    s->pub.refused = __atomic_load_n(&s->refused, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&s->mu);
    if (stop) {
      while (in) {
        kmsg *m = in;
        in = in->next;
        free(m);
      }
      break;
    }
    for (size_t i = 0; i < nh; i++) beacon_on_height(s, hs[i]);
    if (nh) s->tick_at = 0; /* a commit may have moved a key or a request on: look now, not at the next tick */
    while (in) {
      kmsg *m = in;
      in = in->next;
      if (m->w.kind == KEY_TSIGN ? !sign_on_msg(s, m) : !beacon_on_msg(s, m)) free(m);
    }
    keys_tick(s);
  }
  return NULL;
}

cx_err key_service_start(node *n, char *err, size_t errlen) {
  if (!n->net || !n->cfg.keys_enabled) return CX_OK;
  key_service *s = calloc(1, sizeof *s);
  if (!s) return CX_E_NOMEM;
  s->node = n;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  s->tip = store_height(n->st);
  n->keysvc = s;
  if (!(s->ring = calloc(BEACON_KEEP, sizeof *s->ring))) {
    snprintf(err, errlen, "keys: out of memory");
    key_service_free(n);
    return CX_E_NOMEM;
  }
  net_on(n->net, NET_MSG_KEY, on_key, s);
  if (pthread_create(&s->th, NULL, svc_main, s) != 0) {
    snprintf(err, errlen, "keys: cannot start the service thread");
    return CX_E_INTERNAL; /* node_close frees it */
  }
  s->running = 1;
  return CX_OK;
}

void key_service_stop(node *n) {
  key_service *s = n->keysvc;
  if (!s || !s->running) return;
  pthread_mutex_lock(&s->mu);
  s->stop = 1;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->th, NULL);
  s->running = 0;
}

void key_service_free(node *n) {
  key_service *s = n->keysvc;
  if (!s) return;
  key_service_stop(n);
  for (size_t i = 0; i < KEYS_MAX; i++) lkey_wipe(&s->keys[i]);
  if (s->ring)
    for (size_t i = 0; i < BEACON_KEEP; i++) {
      free(s->ring[i].rec);
      free(s->ring[i].shares);
    }
  free(s->ring);
  while (s->inq) {
    kmsg *m = s->inq;
    s->inq = m->next;
    free(m);
  }
  for (size_t i = 0; i < s->nearly; i++) free(s->early[i]);
  for (size_t i = 0; i < s->nspend; i++) free(s->spend[i]);
  for (size_t i = 0; i < SIGN_MAX; i++) tsign_free(s->sj[i].ts); /* wipes the share copy and nonces */
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  free(s);
  n->keysvc = NULL;
}
