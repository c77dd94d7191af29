/* bench_keys: the compute of the consortium keys (docs/keys.md; issue 8),
 * in process, pure state machines, for n = 4 and n = 7 parties. Every figure
 * is set against a BIP340 baseline measured side by side in the same run,
 * and printed as a ratio (the machine is shared: an absolute time alone
 * means little).
 *
 *   bench_keys [RUNS]     RUNS DKG runs per key (default 7, at least 5);
 *                         5 x RUNS samples of the smaller figures
 *
 * Times are CPU time of this (single) thread, CLOCK_THREAD_CPUTIME_ID:
 * another process's load does not count in them.
 *
 * 1. DKG compute (docs/keys.md §3-§5), for the results key (t = n - f) and
 *    the beacon key (t = max(2, f + 1)): every party's dkg.h state machine
 *    (dkg_new, round1, round2, recv_round1, recv_share, finish and the check
 *    G * s_j = Y_j that node/key_service.c makes), the deal and verdict
 *    bodies built and encoded as real cx_tx, the shares sealed with
 *    crypto_box_seal to each party's enc key and opened by it, and the
 *    chain's replay of the key's transactions (tx_decode, then the key
 *    record loaded, vm_key_create / vm_key_apply, stored: what rules_keys.c
 *    does), which every node runs once. Per party = (all parties' own work) /
 *    n + one replay. Signing the transactions is not counted (any
 *    transaction pays it). Baseline: sig_verify of every key transaction's
 *    signature (what each node spends on their signatures alone). An honest
 *    run: 2n + 1 transactions (create, n deals, n verdicts), no complaint.
 *    The node opens its DKG session again from its seed for the verdict and
 *    for its share (key_service.c's dkg_open); here each party keeps one
 *    session, so the node's own-DKG part is up to twice this.
 * 2. FROST signing: a tsign.h session among the n parties of the results
 *    key (shares from 1.), all messages delivered at once in process, from
 *    tsign_coordinate to DONE (all n parties' compute, one after the other:
 *    no network time). Baseline: the quorum mode it replaces (docs/calls.md
 *    §4): 2f + 1 BIP340 signatures made and verified. Verify side: one
 *    frost_verify against 2f + 1 sig_verify (what an auditor pays).
 * 3. Beacon per height (docs/keys.md §7) with the beacon key: t
 *    beacon_share_make, t beacon_share_verify, beacon_combine_checked.
 *    Baseline: one sig_verify.
 * Bytes on the wire (machine-independent): the key transactions' encodings
 * per DKG, the tsign messages per signing session (one to every other party
 * counted n - 1 times), the beacon shares per height. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "beacon.h"
#include "dkg.h"
#include "frost.h"
#include "keyrules.h"
#include "keys.h"
#include "tsign.h"
#include "tx.h"

#define MAXN 7
#define MAXTX (2 * MAXN + 1)
#define VERIFY_BATCH 16 /* sig_verify calls per beacon sample, for a steadier baseline */
#define AUDIT_BATCH 32  /* frost_verify / 2f+1 sig_verify rounds per verify-side sample */
/* node/key_service.c's beacon message: u8 version || u8 kind || be64 height || share. */
#define BEACON_MSG_LEN (2u + 8u + BEACON_SHARE_LEN)

#define CHECK(x)                                                           \
  do {                                                                     \
    if (!(x)) {                                                            \
      fprintf(stderr, "bench_keys: %s failed at line %d\n", #x, __LINE__); \
      exit(1);                                                             \
    }                                                                      \
  } while (0)

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v). */
static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- the parties ---- */

typedef struct {
  uint32_t n, f;
  cx_hash chain;
  cx_seckey *sk[MAXN];
  cx_pubkey pk[MAXN];
  uint8_t enc_pk[MAXN][32];
  uint8_t *enc_sk; /* sodium_malloc'd, MAXN x 32 */
  cx_member vals[MAXN];
  uint64_t nonce[MAXN];
  uint64_t height;
} world;

static void world_init(world *w, uint32_t n) {
  memset(w, 0, sizeof *w);
  w->n = n;
  w->f = (n - 1) / 3;
  randombytes_buf(w->chain.b, sizeof w->chain.b);
  CHECK((w->enc_sk = sodium_malloc(MAXN * 32)) != NULL);
  for (uint32_t i = 0; i < n; i++) {
    CHECK((w->sk[i] = key_generate()) != NULL);
    key_public(w->sk[i], &w->pk[i]);
    CHECK(crypto_box_keypair(w->enc_pk[i], w->enc_sk + 32 * i) == 0);
    cx_member *m = &w->vals[i];
    snprintf(m->name, sizeof m->name, "validator-%u", (unsigned)i);
    m->role = ROLE_BUREAU;
    m->key = w->pk[i];
    memcpy(m->enc_key, w->enc_pk[i], 32);
    m->validator = 1;
    snprintf(m->address, sizeof m->address, "127.0.0.1:%u", 7000u + i);
  }
  w->height = 1;
}

static void world_free(world *w) {
  for (uint32_t i = 0; i < w->n; i++) key_free(w->sk[i]);
  sodium_free(w->enc_sk);
}

/* A key as the parties hold it after the DKG. */
typedef struct {
  uint16_t n, t;
  frost_element gpk;
  frost_element pk[MAXN];
  frost_scalar *share; /* sodium_malloc'd, MAXN */
} keyset;

/* One DKG run's figures (seconds). */
typedef struct {
  double party;  /* all parties' own DKG work and tx bodies, summed */
  double seal;   /* all crypto_box_seal and crypto_box_seal_open */
  double replay; /* the chain's replay, once (one node) */
  double verify; /* baseline: sig_verify of every key tx, once (one node) */
  size_t ntx, wire;
} dkg_fig;

/* The chain: the key record as stored, and as last loaded. */
typedef struct {
  uint8_t *rec;
  size_t rlen;
  vm_key *k;
  uint8_t *raw[MAXTX];
  size_t rawlen[MAXTX];
  cx_hash sighash[MAXTX];
  cx_sig sig[MAXTX];
  uint32_t sender[MAXTX];
  size_t ntx;
} chain;

/* The sender's signature (not timed) and the encoding (timed as the
 * sender's work). */
static void finish_tx(world *w, chain *c, cx_tx *tx, uint32_t sender, dkg_fig *fig) {
  tx->chain_id = w->chain;
  tx->nonce = w->nonce[sender]++;
  CHECK(tx_sign(tx, w->sk[sender]) == CX_OK);
  CHECK(tx_sighash(tx, &c->sighash[c->ntx]) == CX_OK);
  c->sig[c->ntx] = tx->sig;
  double t0 = cpu_s();
  CHECK(tx_encode(tx, 1, &c->raw[c->ntx], &c->rawlen[c->ntx]) == CX_OK);
  fig->party += cpu_s() - t0;
  c->sender[c->ntx] = sender;
  fig->wire += c->rawlen[c->ntx];
  c->ntx++;
  tx_clear(tx);
}

/* The chain executes the last transaction: decode, load the key record,
 * the rule, store it (vm/rules_keys.c). The create has no record to load. */
static void replay_last(world *w, chain *c, dkg_fig *fig) {
  size_t i = c->ntx - 1;
  cx_tx tx;
  cx_err rej = CX_E_INTERNAL;
  double t0 = cpu_s();
  CHECK(tx_decode(c->raw[i], c->rawlen[i], &tx, NULL) == CX_OK);
  vm_key_clear(c->k);
  if (tx.type == TX_KEY_CREATE) {
    CHECK(vm_key_create(&w->chain, &tx.u.kcreate, w->vals, w->n, w->n, 1, 1, NULL, w->height, c->k, &rej) ==
          CX_OK);
  } else {
    CHECK(vm_key_decode(c->rec, c->rlen, c->k) == CX_OK);
    CHECK(vm_key_apply(c->k, &tx, w->height, &rej) == CX_OK);
  }
  free(c->rec);
  CHECK(vm_key_encode(c->k, &c->rec, &c->rlen) == CX_OK);
  tx_clear(&tx);
  fig->replay += cpu_s() - t0;
  CHECK(rej == CX_OK);
  w->height++;
}

/* Party i's deal: round one, its shares sealed to the others' enc keys. */
static void deal(world *w, chain *c, dkg *d, uint32_t i, dkg_share *sh, uint8_t *plain, dkg_fig *fig) {
  uint32_t n = w->n;
  uint8_t sealed[MAXN][CX_KEY_SEALED_LEN];
  dkg_round1_msg r1;
  uint8_t r1buf[DKG_ROUND1_MAX_LEN];
  cx_tx tx;
  double t0 = cpu_s();
  tx_init(&tx);
  tx.type = TX_KEY_DEAL;
  snprintf(tx.u.kdeal.name, sizeof tx.u.kdeal.name, "%s", c->k->name);
  tx.u.kdeal.epoch = c->k->epoch;
  CHECK(dkg_round1(d, &r1) == CX_OK);
  size_t len = dkg_round1_encode(&r1, r1buf);
  CHECK(dkg_round2(d, sh, NULL, 0) == CX_OK);
  for (uint32_t j = 0; j < n; j++)
    if (j != i) dkg_share_encode(&sh[j], plain + (size_t)j * DKG_SHARE_LEN);
  CHECK(tx_key_deal_set(&tx, r1buf, len, n) == CX_OK);
  double t1 = cpu_s();
  fig->party += t1 - t0;
  for (uint32_t j = 0; j < n; j++)
    if (j != i)
      CHECK(crypto_box_seal(sealed[j], plain + (size_t)j * DKG_SHARE_LEN, DKG_SHARE_LEN, c->k->enc[j]) == 0);
  double t2 = cpu_s();
  fig->seal += t2 - t1;
  for (uint32_t j = 0; j < n; j++)
    if (j != i) CHECK(tx_key_deal_set_slot(&tx, j, sealed[j]) == CX_OK);
  fig->party += cpu_s() - t2;
  sodium_memzero(plain, (size_t)n * DKG_SHARE_LEN);
  sodium_memzero(sh, (size_t)n * sizeof *sh);
  finish_tx(w, c, &tx, i, fig);
}

/* Party j reads the deals on chain: every round one, its own boxes opened
 * and checked; an honest run has no complaint, so the verdict is empty. */
static void verdict(world *w, chain *c, dkg *d, uint32_t j, dkg_share *sh, uint8_t *plain, dkg_fig *fig) {
  uint32_t n = w->n;
  const vm_key *k = c->k;
  double t0 = cpu_s();
  for (uint32_t i = 0; i < n; i++)
    if (i != j)
      CHECK(crypto_box_seal_open(plain + (size_t)i * DKG_SHARE_LEN, k->sealed[i] + (size_t)j * CX_KEY_SEALED_LEN,
                                 CX_KEY_SEALED_LEN, w->enc_pk[j], w->enc_sk + 32 * j) == 0);
  double t1 = cpu_s();
  fig->seal += t1 - t0;
  cx_tx tx;
  tx_init(&tx);
  for (uint32_t i = 0; i < n; i++) {
    if (i == j) continue;
    dkg_round1_msg r1;
    dkg_complaint cp;
    int complained = 0;
    CHECK(dkg_round1_decode(k->round1[i], k->round1_len[i], &r1, NULL, 0) == CX_OK);
    CHECK(dkg_recv_round1(d, &r1, NULL, 0) == CX_OK);
    CHECK(dkg_share_decode(plain + (size_t)i * DKG_SHARE_LEN, DKG_SHARE_LEN, sh, NULL, 0) == CX_OK);
    CHECK(dkg_recv_share(d, sh, &cp, &complained, NULL, 0) == CX_OK && !complained);
  }
  tx.type = TX_KEY_VERDICT;
  snprintf(tx.u.kverdict.name, sizeof tx.u.kverdict.name, "%s", k->name);
  tx.u.kverdict.epoch = k->epoch;
  tx.u.kverdict.k = 0;
  fig->party += cpu_s() - t1;
  sodium_memzero(plain, (size_t)n * DKG_SHARE_LEN);
  sodium_memzero(sh, sizeof *sh);
  finish_tx(w, c, &tx, j, fig);
}

/* One whole DKG of key `name` among the world's parties; ks (may be NULL)
 * receives the key. */
static void dkg_run(world *w, const char *name, uint8_t purpose, uint16_t t, dkg_fig *fig, keyset *ks) {
  uint32_t n = w->n;
  chain c;
  dkg *d[MAXN] = {0};
  memset(&c, 0, sizeof c);
  memset(fig, 0, sizeof *fig);
  CHECK((c.k = malloc(sizeof *c.k)) != NULL);
  vm_key_init(c.k);
  dkg_share *sh = sodium_allocarray(MAXN, sizeof *sh);
  uint8_t *plain = sodium_malloc(MAXN * DKG_SHARE_LEN);
  frost_scalar *share = sodium_allocarray(MAXN, sizeof *share);
  dkg_result *res = malloc(sizeof *res);
  CHECK(sh && plain && share && res);

  /* key_create by the first validator (node/key_service.c's ensure_keys) */
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_KEY_CREATE;
  snprintf(tx.u.kcreate.name, sizeof tx.u.kcreate.name, "%s", name);
  tx.u.kcreate.purpose = purpose;
  tx.u.kcreate.t = (uint8_t)t;
  finish_tx(w, &c, &tx, 0, fig);
  replay_last(w, &c, fig);
  CHECK(c.k->phase == VM_KEY_DEALING && c.k->n == n);

  double t0 = cpu_s();
  for (uint32_t i = 0; i < n; i++)
    CHECK(dkg_new((uint16_t)n, t, (uint16_t)(i + 1), c.k->context, NULL, &d[i], NULL, 0) == CX_OK);
  fig->party += cpu_s() - t0;
  for (uint32_t i = 0; i < n; i++) {
    deal(w, &c, d[i], i, sh, plain, fig);
    replay_last(w, &c, fig);
  }
  CHECK(c.k->phase == VM_KEY_VERIFYING);
  for (uint32_t j = 0; j < n; j++) {
    verdict(w, &c, d[j], j, sh, plain, fig);
    replay_last(w, &c, fig);
  }
  CHECK(c.k->phase == VM_KEY_READY);

  /* every party's signing share, checked against the chain's Y_j */
  t0 = cpu_s();
  for (uint32_t j = 0; j < n; j++) {
    frost_element y;
    CHECK(dkg_finish(d[j], res, &share[j], NULL, 0) == CX_OK);
    CHECK(frost_public_share(&share[j], &y) == CX_OK && memcmp(y.b, c.k->pk_shares[j], 32) == 0);
    CHECK(memcmp(res->group_pk.b, c.k->group_pk, 32) == 0 && res->nqual == n);
  }
  fig->party += cpu_s() - t0;

  /* baseline: each key transaction's signature, verified once */
  t0 = cpu_s();
  for (size_t x = 0; x < c.ntx; x++) CHECK(sig_verify(&w->pk[c.sender[x]], c.sighash[x].b, 32, &c.sig[x]));
  fig->verify = cpu_s() - t0;
  fig->ntx = c.ntx;

  if (ks) {
    ks->n = (uint16_t)n;
    ks->t = t;
    memcpy(ks->gpk.b, c.k->group_pk, 32);
    for (uint32_t j = 0; j < n; j++) memcpy(ks->pk[j].b, c.k->pk_shares[j], 32);
    memcpy(ks->share, share, n * sizeof *share);
  }
  for (uint32_t i = 0; i < n; i++) dkg_free(d[i]);
  for (size_t x = 0; x < c.ntx; x++) free(c.raw[x]);
  free(c.rec);
  vm_key_clear(c.k);
  free(c.k);
  free(res);
  sodium_free(share);
  sodium_free(plain);
  sodium_free(sh);
}

/* ---- FROST signing over an in-memory network ---- */

typedef struct {
  uint16_t n;
  tsign *p[MAXN + 1]; /* by identifier */
  size_t bytes, msgs, late;
} tnet;

/* Hands one outgoing message to its recipient, or to every other party. */
static void deliver(tnet *net, uint16_t from, const tsign_out *o, uint64_t now) {
  for (uint16_t to = 1; to <= net->n; to++) {
    if (to == from || (o->to != TSIGN_TO_ALL && o->to != to)) continue;
    char err[200];
    cx_err e = tsign_recv(net->p[to], from, o->buf, o->len, now, err, sizeof err);
    net->bytes += o->len;
    net->msgs++;
    /* A commitment that comes after the coordinator chose its t signers is
     * refused (tsign.h: CX_E_MPC_ROUND), as on a real network. */
    if (e == CX_E_MPC_ROUND && o->buf[0] == TSIGN_KIND_COMMIT) {
      net->late++;
      continue;
    }
    if (e) {
      fprintf(stderr, "bench_keys: tsign_recv by %u from %u: %s: %s\n", to, from, cx_err_name(e), err);
      exit(1);
    }
  }
}

/* One session of the n parties, party 1 coordinating: seconds from
 * tsign_coordinate to DONE (sessions made before). sig: the signature. */
static double sign_session(const keyset *ks, const uint8_t msg[64], uint8_t sig[FROST_SIG_LEN], size_t *bytes,
                           size_t *msgs, size_t *late) {
  tnet net;
  uint8_t sid[TSIGN_SID_LEN];
  const uint64_t now = 1000; /* no timer fires: everything is delivered at once */
  memset(&net, 0, sizeof net);
  net.n = ks->n;
  randombytes_buf(sid, sizeof sid);
  for (uint16_t id = 1; id <= ks->n; id++) {
    tsign_config cfg = {.n = ks->n, .t = ks->t, .my_id = id, .group_pk = ks->gpk, .pk_shares = ks->pk,
                        .share = &ks->share[id - 1]};
    CHECK(tsign_new(sid, msg, 64, &cfg, &net.p[id], NULL, 0) == CX_OK);
  }
  tsign_out *o = malloc(sizeof *o);
  CHECK(o != NULL);
  double t0 = cpu_s();
  CHECK(tsign_coordinate(net.p[1], 0, now, NULL, 0) == CX_OK);
  for (int moved = 1; moved && tsign_status_get(net.p[1]) == TSIGN_RUNNING;) {
    moved = 0;
    for (uint16_t id = 1; id <= ks->n; id++)
      while (tsign_poll(net.p[id], o)) {
        moved = 1;
        deliver(&net, id, o, now);
      }
  }
  double dt = cpu_s() - t0;
  CHECK(tsign_status_get(net.p[1]) == TSIGN_DONE);
  CHECK(tsign_signature(net.p[1], sig) == CX_OK);
  *bytes = net.bytes;
  *msgs = net.msgs;
  *late = net.late;
  for (uint16_t id = 1; id <= ks->n; id++) tsign_free(net.p[id]);
  free(o);
  return dt;
}

/* Quorum mode (docs/calls.md §4): q parties sign the statement with BIP340
 * and the signatures are verified. */
static double quorum_session(const world *w, uint32_t q, const uint8_t stmt[32]) {
  double t0 = cpu_s();
  for (uint32_t i = 0; i < q; i++) {
    cx_sig s;
    CHECK(key_sign32(w->sk[i], stmt, NULL, &s) == CX_OK);
    CHECK(sig_verify(&w->pk[i], stmt, 32, &s));
  }
  return cpu_s() - t0;
}

static void sign_bench(const world *w, const keyset *ks, int samples) {
  uint32_t q = 2 * w->f + 1;
  double *lat = calloc((size_t)samples, sizeof *lat), *base = calloc((size_t)samples, sizeof *base);
  double *ratio = calloc((size_t)samples, sizeof *ratio), *fv = calloc((size_t)samples, sizeof *fv);
  double *qv = calloc((size_t)samples, sizeof *qv), *vratio = calloc((size_t)samples, sizeof *vratio);
  CHECK(lat && base && ratio && fv && qv && vratio);
  size_t bytes = 0, msgs = 0, late = 0;
  for (int s = 0; s < samples; s++) {
    uint8_t msg[64], sig[FROST_SIG_LEN], stmt[32];
    randombytes_buf(msg, sizeof msg); /* tx_result_frost_msg's 64 bytes */
    randombytes_buf(stmt, sizeof stmt);
    lat[s] = sign_session(ks, msg, sig, &bytes, &msgs, &late);
    base[s] = quorum_session(w, q, stmt);
    ratio[s] = lat[s] / base[s];
    /* verify side: one FROST signature against q BIP340 ones */
    frost_sig fs;
    cx_sig bs[MAXN];
    memcpy(fs.b, sig, sizeof fs.b);
    for (uint32_t i = 0; i < q; i++) CHECK(key_sign32(w->sk[i], stmt, NULL, &bs[i]) == CX_OK);
    double t0 = cpu_s();
    for (int b = 0; b < AUDIT_BATCH; b++) CHECK(frost_verify(&ks->gpk, msg, sizeof msg, &fs, NULL, 0) == CX_OK);
    double t1 = cpu_s();
    for (int b = 0; b < AUDIT_BATCH; b++)
      for (uint32_t i = 0; i < q; i++) CHECK(sig_verify(&w->pk[i], stmt, 32, &bs[i]));
    double t2 = cpu_s();
    fv[s] = (t1 - t0) / AUDIT_BATCH;
    qv[s] = (t2 - t1) / AUDIT_BATCH;
    vratio[s] = fv[s] / qv[s];
  }
  double ml = median(lat, (size_t)samples), mb = median(base, (size_t)samples);
  double mr = median(ratio, (size_t)samples);
  double mfv = median(fv, (size_t)samples), mqv = median(qv, (size_t)samples);
  double mvr = median(vratio, (size_t)samples);
  printf("  FROST signing, results key (t = %u of %u): tsign_coordinate -> DONE %.3f ms (all %u parties' compute,\n"
         "    in process, no network; p50 of %d)\n",
         ks->t, ks->n, ml * 1e3, ks->n, samples);
  printf("    baseline, quorum mode: %u BIP340 signatures made and verified %.3f ms\n", q, mb * 1e3);
  printf("    ratio FROST session / quorum mode: %.2f\n", mr);
  printf("    wire: %zu tsign messages, %zu bytes per session (%zu commitments came after the %u signers\n"
         "    were chosen and were refused, as on a network)\n",
         msgs, bytes, late, ks->t);
  printf("    verify side: frost_verify %.4f ms vs %u x BIP340 verify %.4f ms: ratio %.2f (the auditor's cost;\n"
         "    one 64-byte signature on chain instead of %u)\n",
         mfv * 1e3, q, mqv * 1e3, mvr, q);
  free(lat);
  free(base);
  free(ratio);
  free(fv);
  free(qv);
  free(vratio);
}

/* ---- beacon per height ---- */

/* t shares of height h made, each verified, then combined with the robust
 * combine (which checks them again, as node/key_service.c's beacon_add). */
static double beacon_height(const keyset *ks, const cx_hash *chain_id, uint64_t h, beacon_record *rec) {
  uint8_t coin[BEACON_COIN_HEIGHT_LEN], value[BEACON_VALUE_LEN];
  beacon_share sh[MAXN];
  uint16_t culprits[MAXN];
  size_t nc = 0;
  beacon_coin_name(chain_id->b, h, coin);
  double t0 = cpu_s();
  for (uint16_t j = 0; j < ks->t; j++)
    CHECK(beacon_share_make(coin, sizeof coin, (uint16_t)(j + 1), &ks->share[j], &sh[j], NULL, 0) == CX_OK);
  for (uint16_t j = 0; j < ks->t; j++)
    CHECK(beacon_share_verify(coin, sizeof coin, (uint16_t)(j + 1), &ks->pk[j], &sh[j], NULL, 0) == CX_OK);
  CHECK(beacon_combine_checked(coin, sizeof coin, ks->t, ks->n, ks->pk, sh, ks->t, value, rec, culprits, &nc,
                               NULL, 0) == CX_OK);
  double dt = cpu_s() - t0;
  CHECK(nc == 0);
  return dt;
}

static void beacon_bench(const world *w, const keyset *ks, int samples) {
  double *bt = calloc((size_t)samples, sizeof *bt), *vt = calloc((size_t)samples, sizeof *vt);
  double *ratio = calloc((size_t)samples, sizeof *ratio);
  beacon_record *rec = malloc(sizeof *rec);
  CHECK(bt && vt && ratio && rec);
  uint8_t stmt[32];
  cx_sig sig;
  randombytes_buf(stmt, sizeof stmt);
  CHECK(key_sign32(w->sk[0], stmt, NULL, &sig) == CX_OK);
  for (int s = 0; s < samples; s++) {
    bt[s] = beacon_height(ks, &w->chain, 100 + (uint64_t)s, rec);
    double t0 = cpu_s();
    for (int b = 0; b < VERIFY_BATCH; b++) CHECK(sig_verify(&w->pk[0], stmt, 32, &sig));
    vt[s] = (cpu_s() - t0) / VERIFY_BATCH;
    ratio[s] = bt[s] / vt[s];
  }
  double mb = median(bt, (size_t)samples), mv = median(vt, (size_t)samples), mr = median(ratio, (size_t)samples);
  printf("  beacon per height, beacon key (t = %u of %u): %u shares made, %u verified, combine_checked %.3f ms\n", ks->t,
         ks->n, ks->t, ks->t, mb * 1e3);
  printf("    baseline: one BIP340 verify %.4f ms; ratio beacon height / verify: %.2f (p50 of %d)\n", mv * 1e3, mr,
         samples);
  printf("    wire: every party's share to the %u others: %u messages x %u bytes = %u bytes per height\n", ks->n - 1,
         (unsigned)ks->n * (ks->n - 1u), BEACON_MSG_LEN, (unsigned)ks->n * (ks->n - 1u) * BEACON_MSG_LEN);
  free(bt);
  free(vt);
  free(ratio);
  free(rec);
}

/* ---- DKG ---- */

static void dkg_bench(world *w, const char *name, uint8_t purpose, uint16_t t, int runs, keyset *ks) {
  double *pp = calloc((size_t)runs, sizeof *pp), *own = calloc((size_t)runs, sizeof *own);
  double *seal = calloc((size_t)runs, sizeof *seal), *rep = calloc((size_t)runs, sizeof *rep);
  double *base = calloc((size_t)runs, sizeof *base), *ratio = calloc((size_t)runs, sizeof *ratio);
  CHECK(pp && own && seal && rep && base && ratio);
  dkg_fig fig;
  uint32_t n = w->n;
  for (int r = 0; r < runs; r++) {
    dkg_run(w, name, purpose, t, &fig, r == runs - 1 ? ks : NULL);
    own[r] = fig.party / n;
    seal[r] = fig.seal / n;
    rep[r] = fig.replay;
    pp[r] = own[r] + seal[r] + rep[r];
    base[r] = fig.verify;
    ratio[r] = pp[r] / base[r];
  }
  double mpp = median(pp, (size_t)runs), mown = median(own, (size_t)runs), mseal = median(seal, (size_t)runs);
  double mrep = median(rep, (size_t)runs), mbase = median(base, (size_t)runs), mr = median(ratio, (size_t)runs);
  printf("  DKG %s (t = %u of %u): %zu key transactions (create, %u deals, %u verdicts), %zu bytes on chain\n", name, t,
         n, fig.ntx, n, n, fig.wire);
  printf("    compute per party %.3f ms = own DKG %.3f + sealing/opening %.3f + chain replay %.3f;\n"
         "    all %u parties and their replays %.3f ms (p50 of %d runs)\n",
         mpp * 1e3, mown * 1e3, mseal * 1e3, mrep * 1e3, n, mpp * n * 1e3, runs);
  printf("    baseline: BIP340 verify of the %zu transactions' signatures %.3f ms (per node)\n", fig.ntx, mbase * 1e3);
  printf("    ratio DKG compute per party / baseline: %.2f\n", mr);
  free(pp);
  free(own);
  free(seal);
  free(rep);
  free(base);
  free(ratio);
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 7;
  if (runs < 5) runs = 5;
  int samples = 5 * runs;
  CHECK(sodium_init() >= 0);
  static const uint32_t ns[] = {4, 7};
  printf("bench_keys: consortium keys in process, CPU time of one thread; DKG p50 of %d runs, the rest p50 of %d\n",
         runs, samples);
  for (size_t x = 0; x < sizeof ns / sizeof ns[0]; x++) {
    world w;
    world_init(&w, ns[x]);
    uint16_t tr = (uint16_t)(w.n - w.f), tb = (uint16_t)(w.f + 1 < 2 ? 2 : w.f + 1);
    keyset kr, kb;
    memset(&kr, 0, sizeof kr);
    memset(&kb, 0, sizeof kb);
    CHECK((kr.share = sodium_allocarray(MAXN, sizeof *kr.share)) != NULL);
    CHECK((kb.share = sodium_allocarray(MAXN, sizeof *kb.share)) != NULL);
    printf("n = %u (f = %u)\n", w.n, w.f);
    dkg_bench(&w, "results", CX_KEY_PURPOSE_RESULTS, tr, runs, &kr);
    dkg_bench(&w, "beacon", CX_KEY_PURPOSE_BEACON, tb, runs, &kb);
    sign_bench(&w, &kr, samples);
    beacon_bench(&w, &kb, samples);
    sodium_free(kr.share);
    sodium_free(kb.share);
    world_free(&w);
  }
  return 0;
}
