/* Unit tests for vm/keyrules.h: the rules of consortium keys (docs/keys.md
 * §3, §4) over a key in memory. Whole DKG runs among n parties made with
 * dkg.h (real round-one messages, shares sealed with crypto_box_seal to each
 * party's X25519 enc key and opened by it, real complaints and answers), every
 * transaction through its encoding, driven through vm_key_create and
 * vm_key_apply. The key's group key and verification shares are compared with
 * what dkg_finish gives every party, and the key signs with frost.h. Every
 * rejection code of §3 is met at least once and leaves the key's encoding as
 * it was. Randomness from tu_randbytes: a failure replays with CUSTOS_SEED. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkg.h"
#include "frost.h"
#include "keyrules.h"
#include "testutil.h"

#define MAXN 7

typedef struct {
  uint32_t n;
  uint8_t t;
  cx_hash chain;
  cx_seckey *sk[MAXN + 1]; /* [MAXN]: an outsider, not a party */
  cx_pubkey pk[MAXN + 1];
  uint8_t enc_pk[MAXN][32], enc_sk[MAXN][32];
  cx_member vals[MAXN];
  vm_key *k;
  dkg *p[MAXN];
  uint64_t height;
  size_t nmem; /* members of the consortium (a custody key's k is 1..nmem) */
} world;

static void world_init(world *w, uint32_t n) {
  memset(w, 0, sizeof *w);
  ck_assert_int_ge(sodium_init(), 0);
  w->n = n;
  tu_randbytes(w->chain.b, 32);
  for (uint32_t i = 0; i <= MAXN; i++) {
    w->sk[i] = key_generate();
    ck_assert_ptr_nonnull(w->sk[i]);
    key_public(w->sk[i], &w->pk[i]);
  }
  /* every world member has an enc key: resharing brings in parties beyond
   * the first n (docs/keys.md §10) */
  for (uint32_t i = 0; i < MAXN; i++) {
    crypto_box_keypair(w->enc_pk[i], w->enc_sk[i]);
    cx_member *m = &w->vals[i];
    snprintf(m->name, sizeof m->name, "validator-%u", i);
    m->role = ROLE_BUREAU;
    m->key = w->pk[i];
    memcpy(m->enc_key, w->enc_pk[i], 32);
    m->validator = 1;
    strcpy(m->address, "10.0.0.1:7000");
  }
  w->k = malloc(sizeof *w->k);
  ck_assert_ptr_nonnull(w->k);
  vm_key_init(w->k);
  w->height = 10;
  w->nmem = n + 3;
}

static void sessions_free(world *w) {
  for (uint32_t i = 0; i < MAXN; i++) {
    dkg_free(w->p[i]);
    w->p[i] = NULL;
  }
}

static void world_free(world *w) {
  sessions_free(w);
  for (uint32_t i = 0; i <= MAXN; i++) key_free(w->sk[i]);
  sodium_memzero(w->enc_sk, sizeof w->enc_sk);
  vm_key_clear(w->k);
  free(w->k);
}

static uint32_t fof(uint32_t n) { return (n - 1) / 3; }

static size_t bits(uint64_t x) {
  size_t c = 0;
  for (; x; x &= x - 1) c++;
  return c;
}

/* The key's encoding (malloc'd). */
static uint8_t *key_bytes(const vm_key *k, size_t *len) {
  uint8_t *b;
  ck_assert_int_eq(vm_key_encode(k, &b, len), CX_OK);
  return b;
}

/* A key_create applied to w->k (prev: the failed key, or NULL); the DKG
 * sessions of the parties under the new key's context. */
static cx_err create_as(world *w, const char *name, uint8_t purpose, uint8_t t, uint8_t k, int is_val, int is_mem,
                        size_t nval) {
  cx_tx_key_create kc;
  memset(&kc, 0, sizeof kc);
  strcpy(kc.name, name);
  kc.purpose = purpose;
  kc.t = t;
  kc.k = k;
  vm_key *nk = malloc(sizeof *nk);
  ck_assert_ptr_nonnull(nk);
  vm_key_init(nk);
  cx_err rej = CX_E_INTERNAL;
  int prev = w->k->phase == VM_KEY_FAILED;
  ck_assert_int_eq(vm_key_create(&w->chain, &kc, w->vals, nval, w->nmem, is_val, is_mem, prev ? w->k : NULL,
                                 w->height, nk, &rej),
                   CX_OK);
  if (rej == CX_OK) {
    vm_key_clear(w->k);
    free(w->k);
    w->k = nk;
    w->t = t;
    sessions_free(w);
    for (uint32_t i = 0; i < w->n; i++) {
      uint8_t seed[32];
      tu_randbytes(seed, sizeof seed);
      ck_assert_int_eq(dkg_new((uint16_t)w->n, t, (uint16_t)(i + 1), w->k->context, seed, &w->p[i], NULL, 0),
                       CX_OK);
    }
  } else {
    vm_key_clear(nk);
    free(nk);
  }
  w->height++;
  return rej;
}

/* k: 1 for a custody key (any member's approval), 0 otherwise. */
static void create(world *w, const char *name, uint8_t purpose, uint8_t t) {
  uint8_t k = purpose == CX_KEY_PURPOSE_CUSTODY ? 1 : 0;
  ck_assert_int_eq(create_as(w, name, purpose, t, k, 1, 1, w->n), CX_OK);
  ck_assert_uint_eq(w->k->k, k);
  ck_assert_uint_eq(w->k->phase, VM_KEY_DEALING);
  ck_assert_str_eq(w->k->name, name);
  ck_assert_uint_eq(w->k->n, w->n);
}

/* What the chain does with a transaction: its encoding decoded, then the
 * rule. The key must be left as it was whenever the rule refuses. */
static cx_err apply(world *w, cx_tx *tx, uint32_t sender) {
  uint8_t *buf, *before, *after;
  size_t len, bl, al;
  cx_tx got;
  key_public(w->sk[sender], &tx->sender);
  tx->chain_id = w->chain;
  ck_assert_int_eq(tx_encode(tx, 1, &buf, &len), CX_OK);
  ck_assert_int_eq(tx_decode(buf, len, &got, NULL), CX_OK);
  free(buf);
  before = key_bytes(w->k, &bl);
  cx_err rej = CX_E_INTERNAL;
  ck_assert_int_eq(vm_key_apply(w->k, &got, w->height, &rej), CX_OK);
  after = key_bytes(w->k, &al);
  if (rej) {
    ck_assert_uint_eq(bl, al);
    ck_assert_mem_eq(before, after, bl);
  }
  free(before);
  free(after);
  tx_clear(&got);
  tx_clear(tx);
  w->height++;
  return rej;
}

static void expect(world *w, cx_tx *tx, uint32_t sender, cx_err code) {
  cx_err got = apply(w, tx, sender);
  ck_assert_msg(got == code, "got %s, want %s", cx_err_name(got), cx_err_name(code));
}

/* ---- transactions ---- */

static void head(cx_tx *tx, int type, const world *w, char *name) {
  tx_init(tx);
  tx->type = (uint8_t)type;
  strcpy(name, w->k->name);
}

static void add_one(frost_scalar *s) {
  frost_scalar one = {{1}};
  crypto_core_ristretto255_scalar_add(s->b, s->b, one.b);
}

/* Party i's deal: its round one and the shares sealed to every other
 * party's enc key; to party bad (if >= 0) a share off by one. */
static void deal_tx(world *w, uint32_t i, int bad, cx_tx *tx) {
  dkg_round1_msg m;
  uint8_t r1[DKG_ROUND1_MAX_LEN];
  head(tx, TX_KEY_DEAL, w, tx->u.kdeal.name);
  tx->u.kdeal.epoch = w->k->epoch;
  ck_assert_int_eq(dkg_round1(w->p[i], &m), CX_OK);
  size_t len = dkg_round1_encode(&m, r1);
  ck_assert_int_eq(tx_key_deal_set(tx, r1, len, w->n), CX_OK);
  dkg_share *sh = sodium_allocarray(w->n, sizeof *sh);
  ck_assert_ptr_nonnull(sh);
  ck_assert_int_eq(dkg_round2(w->p[i], sh, NULL, 0), CX_OK);
  for (uint32_t j = 0; j < w->n; j++) {
    if (j == i) continue;
    uint8_t plain[DKG_SHARE_LEN], sealed[CX_KEY_SEALED_LEN];
    if ((int)j == bad) add_one(&sh[j].value);
    ck_assert_uint_eq(dkg_share_encode(&sh[j], plain), DKG_SHARE_LEN);
    ck_assert_int_eq(crypto_box_seal(sealed, plain, sizeof plain, w->enc_pk[j]), 0);
    sodium_memzero(plain, sizeof plain);
    ck_assert_int_eq(tx_key_deal_set_slot(tx, j, sealed), CX_OK);
  }
  sodium_free(sh);
}

static void deal(world *w, uint32_t i, int bad) {
  cx_tx tx;
  deal_tx(w, i, bad, &tx);
  ck_assert_int_eq(apply(w, &tx, i), CX_OK);
  ck_assert(w->k->dealt & (1ull << i));
}

/* Party j reads the deals on chain: every dealer's round one, and its own
 * sealed share opened with its enc secret key and checked; a share that
 * fails makes a complaint. The verdict carries them, by dealer. */
static void verdict_tx(world *w, uint32_t j, cx_tx *tx, size_t *ncompl) {
  head(tx, TX_KEY_VERDICT, w, tx->u.kverdict.name);
  tx->u.kverdict.epoch = w->k->epoch;
  *ncompl = 0;
  for (uint32_t i = 0; i < w->n; i++) {
    if (i == j || !(w->k->dealt & (1ull << i))) continue;
    dkg_round1_msg m;
    ck_assert_int_eq(dkg_round1_decode(w->k->round1[i], w->k->round1_len[i], &m, NULL, 0), CX_OK);
    ck_assert_int_eq(dkg_recv_round1(w->p[j], &m, NULL, 0), CX_OK);
    uint8_t plain[DKG_SHARE_LEN];
    ck_assert_int_eq(crypto_box_seal_open(plain, w->k->sealed[i] + (size_t)j * CX_KEY_SEALED_LEN,
                                          CX_KEY_SEALED_LEN, w->enc_pk[j], w->enc_sk[j]),
                     0);
    dkg_share s;
    ck_assert_int_eq(dkg_share_decode(plain, sizeof plain, &s, NULL, 0), CX_OK);
    sodium_memzero(plain, sizeof plain);
    dkg_complaint c;
    int complained = 0;
    cx_err e = dkg_recv_share(w->p[j], &s, &c, &complained, NULL, 0);
    sodium_memzero(&s, sizeof s);
    if (!complained) {
      ck_assert_int_eq(e, CX_OK);
      continue;
    }
    uint32_t x = tx->u.kverdict.k++;
    tx->u.kverdict.complaint_len[x] = (uint8_t)dkg_complaint_encode(&c, tx->u.kverdict.complaint[x]);
    ++*ncompl;
  }
}

static void verdict(world *w, uint32_t j) {
  cx_tx tx;
  size_t nc;
  verdict_tx(w, j, &tx, &nc);
  ck_assert_int_eq(apply(w, &tx, j), CX_OK);
}

static void answer_tx(world *w, const dkg_answer *a, cx_tx *tx) {
  head(tx, TX_KEY_ANSWER, w, tx->u.kanswer.name);
  tx->u.kanswer.epoch = w->k->epoch;
  ck_assert_uint_eq(dkg_answer_encode(a, tx->u.kanswer.answer), DKG_ANSWER_LEN);
}

/* The dealer's honest answer to the complaint recorded at index ci. */
static void honest_answer(world *w, size_t ci, dkg_answer *a) {
  const vm_key_complaint *x = &w->k->complaints[ci];
  dkg_complaint c;
  ck_assert_int_eq(dkg_complaint_decode(x->complaint, x->complaint_len, &c, NULL, 0), CX_OK);
  ck_assert_int_eq(dkg_recv_complaint(w->p[x->dealer], &c, NULL, 0), CX_OK);
  ck_assert_int_eq(dkg_answer_make(w->p[x->dealer], &c, a, NULL, 0), CX_OK);
}

static void advance_tx(world *w, uint8_t phase, cx_tx *tx) {
  head(tx, TX_KEY_ADVANCE, w, tx->u.kadvance.name);
  tx->u.kadvance.epoch = w->k->epoch;
  tx->u.kadvance.phase = phase;
}

static void advance(world *w, uint32_t i, uint8_t phase) {
  cx_tx tx;
  advance_tx(w, phase, &tx);
  ck_assert_int_eq(apply(w, &tx, i), CX_OK);
}

/* Every party takes the public record (deals' round ones, complaints,
 * answers) into its session and finishes: all agree with the key's QUAL,
 * group key and verification shares, and each one's signing share matches
 * its Y_j. shares (n entries, sodium_malloc'd) gets the signing shares. */
static void finish_all(world *w, frost_scalar *shares) {
  ck_assert_uint_eq(w->k->phase, VM_KEY_READY);
  for (uint32_t j = 0; j < w->n; j++) {
    for (uint32_t i = 0; i < w->n; i++) {
      if (i == j || !(w->k->dealt & (1ull << i))) continue;
      dkg_round1_msg m;
      ck_assert_int_eq(dkg_round1_decode(w->k->round1[i], w->k->round1_len[i], &m, NULL, 0), CX_OK);
      ck_assert_int_eq(dkg_recv_round1(w->p[j], &m, NULL, 0), CX_OK);
    }
    for (size_t ci = 0; ci < w->k->ncomplaints; ci++) {
      const vm_key_complaint *x = &w->k->complaints[ci];
      dkg_complaint c;
      ck_assert_int_eq(dkg_complaint_decode(x->complaint, x->complaint_len, &c, NULL, 0), CX_OK);
      ck_assert_int_eq(dkg_recv_complaint(w->p[j], &c, NULL, 0), CX_OK);
      if (!x->state) continue;
      dkg_answer a;
      ck_assert_int_eq(dkg_answer_decode(x->answer, CX_KEY_ANSWER_LEN, &a, NULL, 0), CX_OK);
      cx_err e = dkg_recv_answer(w->p[j], &a, NULL, 0);
      ck_assert_int_eq(e, x->state == 1 ? CX_OK : CX_E_MPC_CHECK_FAILED);
    }
    dkg_result res;
    char err[200] = "";
    ck_assert_msg(dkg_finish(w->p[j], &res, &shares[j], err, sizeof err) == CX_OK, "party %u: %s", j, err);
    ck_assert_uint_eq(res.nqual, bits(w->k->qual));
    for (size_t q = 0; q < res.nqual; q++) ck_assert(w->k->qual & (1ull << (res.qual[q] - 1)));
    ck_assert_mem_eq(res.group_pk.b, w->k->group_pk, 32);
    for (uint32_t x = 0; x < w->n; x++) ck_assert_mem_eq(res.pk_shares[x].b, w->k->pk_shares[x], 32);
    frost_element y;
    ck_assert_int_eq(frost_public_share(&shares[j], &y), CX_OK);
    ck_assert_mem_eq(y.b, w->k->pk_shares[j], 32);
  }
}

/* t signers (parties first.. in order) sign msg with frost.h; the key's
 * group key verifies it; one byte off and it does not. */
static void sign_check(world *w, const frost_scalar *shares, uint32_t first) {
  frost_commitment com[MAXN];
  frost_nonces *non = sodium_allocarray(MAXN, sizeof *non);
  frost_scalar z[MAXN];
  frost_element gpk;
  frost_sig sig;
  uint8_t msg[64];
  ck_assert_ptr_nonnull(non);
  tu_randbytes(msg, sizeof msg);
  memcpy(gpk.b, w->k->group_pk, 32);
  for (uint32_t s = 0; s < w->t; s++) {
    uint32_t id = first + s + 1;
    ck_assert_int_eq(frost_commit((uint16_t)id, &shares[id - 1], NULL, NULL, &non[s], &com[s]), CX_OK);
  }
  for (uint32_t s = 0; s < w->t; s++) {
    uint32_t id = first + s + 1;
    ck_assert_int_eq(frost_sign((uint16_t)id, &shares[id - 1], &gpk, &non[s], msg, sizeof msg, com, w->t, &z[s],
                                NULL, 0),
                     CX_OK);
  }
  ck_assert_int_eq(frost_aggregate(com, w->t, msg, sizeof msg, &gpk, z, &sig, NULL, 0), CX_OK);
  ck_assert_int_eq(frost_verify(&gpk, msg, sizeof msg, &sig, NULL, 0), CX_OK);
  msg[5] ^= 1;
  ck_assert_int_eq(frost_verify(&gpk, msg, sizeof msg, &sig, NULL, 0), CX_E_BAD_SIG);
  sodium_free(non);
}

/* The key reads back from its encoding exactly. */
static void roundtrip(const vm_key *k) {
  size_t l1, l2;
  uint8_t *b1 = key_bytes(k, &l1);
  vm_key *d = malloc(sizeof *d);
  ck_assert_ptr_nonnull(d);
  ck_assert_int_eq(vm_key_decode(b1, l1, d), CX_OK);
  uint8_t *b2 = key_bytes(d, &l2);
  ck_assert_uint_eq(l1, l2);
  ck_assert_mem_eq(b1, b2, l1);
  ck_assert_str_eq(d->name, k->name);
  ck_assert_uint_eq(d->phase, k->phase);
  ck_assert_mem_eq(d->group_pk, k->group_pk, 32);
  ck_assert_uint_eq(d->ncomplaints, k->ncomplaints);
  /* damaged: a byte cut off, or one appended, is refused */
  vm_key_clear(d);
  ck_assert_int_ne(vm_key_decode(b1, l1 - 1, d), CX_OK);
  uint8_t *b3 = malloc(l1 + 1);
  memcpy(b3, b1, l1);
  b3[l1] = 0;
  ck_assert_int_eq(vm_key_decode(b3, l1 + 1, d), CX_E_TRAILING);
  free(b3);
  vm_key_clear(d);
  free(d);
  free(b1);
  free(b2);
}

/* An honest run among n parties with the results key's t = n - f. */
static void honest_run(uint32_t n) {
  world w;
  world_init(&w, n);
  create(&w, "results", CX_KEY_PURPOSE_RESULTS, (uint8_t)(n - fof(n)));
  ck_assert_uint_eq(w.k->epoch, 0);
  ck_assert_uint_eq(w.k->created_height, 10);
  for (uint32_t i = 0; i < n; i++) {
    ck_assert_uint_eq(w.k->phase, VM_KEY_DEALING);
    deal(&w, i, -1);
  }
  ck_assert_uint_eq(w.k->phase, VM_KEY_VERIFYING); /* all n dealt */
  for (uint32_t j = 0; j < n; j++) {
    ck_assert_uint_eq(w.k->phase, VM_KEY_VERIFYING);
    verdict(&w, j);
  }
  ck_assert_uint_eq(w.k->phase, VM_KEY_READY); /* all verdicts, no complaint */
  ck_assert_uint_eq(w.k->ended_height, w.height - 1);
  ck_assert_uint_eq(w.k->qual, (1ull << n) - 1);
  ck_assert_uint_eq(w.k->ncomplaints, 0);
  /* Y = sum of the C_i0, computed here from the deals with libsodium */
  uint8_t y[32];
  for (uint32_t i = 0; i < n; i++) {
    dkg_round1_msg m;
    ck_assert_int_eq(dkg_round1_decode(w.k->round1[i], w.k->round1_len[i], &m, NULL, 0), CX_OK);
    if (i == 0)
      memcpy(y, m.commit[0].b, 32);
    else
      ck_assert_int_eq(crypto_core_ristretto255_add(y, y, m.commit[0].b), 0);
  }
  ck_assert_mem_eq(y, w.k->group_pk, 32);
  frost_scalar *shares = sodium_allocarray(n, sizeof *shares);
  ck_assert_ptr_nonnull(shares);
  finish_all(&w, shares);
  sign_check(&w, shares, 0);
  sign_check(&w, shares, n - w.t);
  sodium_free(shares);
  roundtrip(w.k);
  world_free(&w);
}

START_TEST(test_honest_n4) { honest_run(4); }
END_TEST

START_TEST(test_honest_n7) { honest_run(7); }
END_TEST

/* Dealer 1 sends party 3 a bad share; party 3 complains. mode 0: a good
 * answer (the share was fine after all: here the dealer reveals the true
 * f(3), which passes); 1: a wrong answer (dealer out); 2: no answer, f + 1
 * advance(2) votes (dealer out). */
static void bad_share_run(int mode) {
  const uint32_t n = 4, bad = 1, victim = 3;
  world w;
  world_init(&w, n);
  create(&w, "results", CX_KEY_PURPOSE_RESULTS, 3);
  for (uint32_t i = 0; i < n; i++) deal(&w, i, i == bad ? (int)victim : -1);
  for (uint32_t j = 0; j < n; j++) {
    cx_tx tx;
    size_t nc;
    verdict_tx(&w, j, &tx, &nc);
    ck_assert_uint_eq(nc, j == victim ? 1 : 0);
    ck_assert_int_eq(apply(&w, &tx, j), CX_OK);
  }
  /* every verdict is in, one complaint pending: still VERIFYING */
  ck_assert_uint_eq(w.k->phase, VM_KEY_VERIFYING);
  ck_assert_uint_eq(w.k->ncomplaints, 1);
  ck_assert_uint_eq(w.k->complaints[0].dealer, bad);
  ck_assert_uint_eq(w.k->complaints[0].complainer, victim);
  ck_assert_uint_eq(w.k->complaints[0].reason, DKG_COMPLAINT_BAD_SHARE);
  ck_assert_uint_eq(w.k->complaints[0].state, 0);
  roundtrip(w.k);

  dkg_answer a;
  cx_tx tx;
  honest_answer(&w, 0, &a);
  if (mode == 1) add_one(&a.share);
  if (mode < 2) {
    /* the answer is the dealer's: another party cannot give it */
    answer_tx(&w, &a, &tx);
    expect(&w, &tx, 0, CX_E_NO_COMPLAINT);
    answer_tx(&w, &a, &tx);
    ck_assert_int_eq(apply(&w, &tx, bad), CX_OK);
    ck_assert_uint_eq(w.k->complaints[0].state, mode == 0 ? 1 : 2);
    /* answered: a second answer finds nothing pending */
    answer_tx(&w, &a, &tx);
    expect(&w, &tx, bad, CX_E_KEY_CLOSED); /* READY already */
  } else {
    advance(&w, 0, CX_KEY_PHASE_VERIFYING);
    ck_assert_uint_eq(w.k->phase, VM_KEY_VERIFYING); /* f = 1: two votes needed */
    advance(&w, 2, CX_KEY_PHASE_VERIFYING);
    ck_assert_uint_eq(w.k->complaints[0].state, 0); /* unanswered */
  }
  ck_assert_uint_eq(w.k->phase, VM_KEY_READY);
  uint64_t want = mode == 0 ? 0xf : 0xf & ~(1ull << bad);
  ck_assert_uint_eq(w.k->qual, want);
  ck_assert_uint_eq(w.k->disq, mode == 0 ? 0 : 1ull << bad);
  frost_scalar *shares = sodium_allocarray(n, sizeof *shares);
  ck_assert_ptr_nonnull(shares);
  finish_all(&w, shares);
  sign_check(&w, shares, 0);
  sign_check(&w, shares, 1);
  sodium_free(shares);
  roundtrip(w.k);
  world_free(&w);
}

START_TEST(test_bad_share_good_answer) { bad_share_run(0); }
END_TEST

START_TEST(test_bad_share_bad_answer) { bad_share_run(1); }
END_TEST

START_TEST(test_bad_share_no_answer) { bad_share_run(2); }
END_TEST

/* Party 2 never deals: f + 1 advance(1) votes end DEALING with 3 deals;
 * every verdict (the absent dealer's party too) makes the key READY with
 * QUAL of 3. A complaint against the absent dealer proves nothing. */
START_TEST(test_absent_dealer) {
  const uint32_t n = 4, absent = 2;
  world w;
  world_init(&w, n);
  create(&w, "results", CX_KEY_PURPOSE_RESULTS, 3);
  for (uint32_t i = 0; i < n; i++)
    if (i != absent) deal(&w, i, -1);
  ck_assert_uint_eq(w.k->phase, VM_KEY_DEALING);
  advance(&w, 0, CX_KEY_PHASE_DEALING);
  ck_assert_uint_eq(w.k->phase, VM_KEY_DEALING);
  cx_tx tx;
  advance_tx(&w, CX_KEY_PHASE_DEALING, &tx);
  expect(&w, &tx, 0, CX_E_ALREADY_VOTED);
  advance(&w, absent, CX_KEY_PHASE_DEALING); /* even the absent dealer's vote counts */
  ck_assert_uint_eq(w.k->phase, VM_KEY_VERIFYING);
  ck_assert_uint_eq(bits(w.k->dealt), 3);
  ck_assert_uint_eq(w.k->votes, 0); /* a new phase, new votes */
  /* the late deal is refused (made by another session: the absent party's
   * own must not have dealt) */
  dkg *own = w.p[absent];
  ck_assert_int_eq(dkg_new((uint16_t)n, 3, absent + 1, w.k->context, NULL, &w.p[absent], NULL, 0), CX_OK);
  deal_tx(&w, absent, -1, &tx);
  dkg_free(w.p[absent]);
  w.p[absent] = own;
  expect(&w, &tx, absent, CX_E_KEY_CLOSED);
  /* NO_SHARE against the dealer that did not deal: proves nothing */
  dkg_complaint c = {.dealer = absent + 1, .complainer = 1, .reason = DKG_COMPLAINT_NO_SHARE};
  head(&tx, TX_KEY_VERDICT, &w, tx.u.kverdict.name);
  tx.u.kverdict.k = 1;
  tx.u.kverdict.complaint_len[0] = (uint8_t)dkg_complaint_encode(&c, tx.u.kverdict.complaint[0]);
  expect(&w, &tx, 0, CX_E_BAD_COMPLAINT);
  for (uint32_t j = 0; j < n; j++) verdict(&w, j);
  ck_assert_uint_eq(w.k->phase, VM_KEY_READY);
  ck_assert_uint_eq(w.k->qual, 0xf & ~(1ull << absent));
  frost_scalar *shares = sodium_allocarray(n, sizeof *shares);
  ck_assert_ptr_nonnull(shares);
  finish_all(&w, shares);
  sign_check(&w, shares, 1);
  sodium_free(shares);
  world_free(&w);
}
END_TEST

/* Fewer than t deals when DEALING ends: FAILED; the name is created again
 * with epoch 1, another context, and runs to READY. */
START_TEST(test_failed_then_recreate) {
  const uint32_t n = 4;
  world w;
  world_init(&w, n);
  create(&w, "results", CX_KEY_PURPOSE_RESULTS, 3);
  uint8_t ctx0[32];
  memcpy(ctx0, w.k->context, 32);
  deal(&w, 0, -1);
  deal(&w, 1, -1);
  advance(&w, 2, CX_KEY_PHASE_DEALING);
  advance(&w, 3, CX_KEY_PHASE_DEALING);
  ck_assert_uint_eq(w.k->phase, VM_KEY_FAILED);
  ck_assert_uint_eq(w.k->ended_height, w.height - 1);
  roundtrip(w.k);
  /* nothing applies to a failed key */
  cx_tx tx;
  advance_tx(&w, CX_KEY_PHASE_DEALING, &tx);
  expect(&w, &tx, 0, CX_E_KEY_CLOSED);
  head(&tx, TX_KEY_VERDICT, &w, tx.u.kverdict.name);
  expect(&w, &tx, 0, CX_E_KEY_CLOSED);

  create(&w, "results", CX_KEY_PURPOSE_RESULTS, 3);
  ck_assert_uint_eq(w.k->epoch, 1);
  ck_assert(memcmp(ctx0, w.k->context, 32) != 0);
  uint8_t want[32];
  tx_key_context(&w.chain, "results", 1, 3, w.k->parties, n, want);
  ck_assert_mem_eq(want, w.k->context, 32);
  for (uint32_t i = 0; i < n; i++) deal(&w, i, -1);
  for (uint32_t j = 0; j < n; j++) verdict(&w, j);
  ck_assert_uint_eq(w.k->phase, VM_KEY_READY);
  ck_assert_uint_eq(w.k->epoch, 1);
  world_free(&w);
}
END_TEST

/* key_create: bad_key_params for each of §2's conditions, then the sender. */
START_TEST(test_create_rejections) {
  world w;
  world_init(&w, 7); /* f = 2 */
  const struct {
    const char *name;
    uint8_t purpose, t, k;
    size_t nval;
    cx_err want;
  } cases[] = {
      {"results", 1, 5, 0, 7, CX_OK},
      {"beacon", 2, 3, 0, 7, CX_OK},
      {"vault-keys", 3, 3, 1, 7, CX_OK},
      {"vault-keys", 3, 7, 1, 7, CX_OK},
      {"results", 1, 4, 0, 7, CX_E_BAD_KEY_PARAMS},   /* t is n - f */
      {"results", 1, 6, 0, 7, CX_E_BAD_KEY_PARAMS},
      {"beacon", 2, 2, 0, 7, CX_E_BAD_KEY_PARAMS},    /* t is max(2, f + 1) */
      {"beacon", 2, 4, 0, 7, CX_E_BAD_KEY_PARAMS},
      {"vault-keys", 3, 2, 1, 7, CX_E_BAD_KEY_PARAMS}, /* f + 1 <= t <= n */
      {"vault-keys", 3, 8, 1, 7, CX_E_BAD_KEY_PARAMS},
      {"results", 2, 3, 0, 7, CX_E_BAD_KEY_PARAMS},   /* purpose and name */
      {"beacon", 1, 5, 0, 7, CX_E_BAD_KEY_PARAMS},
      {"results", 3, 5, 1, 7, CX_E_BAD_KEY_PARAMS},
      {"beacon", 3, 3, 1, 7, CX_E_BAD_KEY_PARAMS},
      {"mine", 1, 5, 0, 7, CX_E_BAD_KEY_PARAMS},
      {"mine", 4, 3, 1, 7, CX_E_BAD_KEY_PARAMS},
      {"mine", 0, 3, 1, 7, CX_E_BAD_KEY_PARAMS},
      {"Mine", 3, 3, 1, 7, CX_E_BAD_KEY_PARAMS},      /* name syntax */
      {"", 3, 3, 1, 7, CX_E_BAD_KEY_PARAMS},
      {"-mine", 3, 3, 1, 7, CX_E_BAD_KEY_PARAMS},
      {"results", 1, 1, 0, 1, CX_E_BAD_KEY_PARAMS},   /* n < 2 */
      {"vault", 3, 2, 1, 1, CX_E_BAD_KEY_PARAMS},
      {"beacon", 2, 2, 0, 2, CX_OK},                  /* n = 2: f = 0, t = 2 */
      {"results", 1, 2, 0, 2, CX_OK},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    vm_key_clear(w.k);
    cx_err got = create_as(&w, cases[i].name, cases[i].purpose, cases[i].t, cases[i].k, 1, 1, cases[i].nval);
    ck_assert_msg(got == cases[i].want, "case %zu: got %s", i, cx_err_name(got));
  }
  /* results and beacon need a validator, custody a member */
  vm_key_clear(w.k);
  ck_assert_int_eq(create_as(&w, "results", 1, 5, 0, 0, 1, 7), CX_E_NOT_VALIDATOR);
  ck_assert_int_eq(create_as(&w, "beacon", 2, 3, 0, 0, 1, 7), CX_E_NOT_VALIDATOR);
  ck_assert_int_eq(create_as(&w, "vault", 3, 3, 1, 0, 0, 7), CX_E_NOT_MEMBER);
  ck_assert_int_eq(create_as(&w, "vault", 3, 3, 1, 0, 1, 7), CX_OK);
  /* parameters come before the sender */
  vm_key_clear(w.k);
  ck_assert_int_eq(create_as(&w, "vault", 3, 9, 1, 0, 0, 7), CX_E_BAD_KEY_PARAMS);
  ck_assert_int_eq(create_as(&w, "vault", 3, 3, 0, 0, 0, 7), CX_E_BAD_KEY_PARAMS); /* k too */
  /* the 16-byte name cap */
  ck_assert_int_eq(create_as(&w, "abcdefghijklmnop", 3, 3, 1, 1, 1, 7), CX_OK);
  ck_assert_uint_eq(w.k->purpose, CX_KEY_PURPOSE_CUSTODY);
  ck_assert_uint_eq(w.k->t, 3);
  world_free(&w);
}
END_TEST

/* key_create's policy k (docs/keys.md §9): none for results and beacon,
 * 1..members (and at most VM_KEY_K_MAX, the approval list's size) for a
 * custody key; the key keeps it, and its record says it exactly. */
START_TEST(test_create_policy) {
  world w;
  world_init(&w, 4); /* f = 1 */
  w.nmem = 10;
  const struct {
    const char *name;
    uint8_t purpose, t, k;
    cx_err want;
  } cases[] = {
      {"results", 1, 3, 0, CX_OK},  {"results", 1, 3, 1, CX_E_BAD_KEY_PARAMS},
      {"beacon", 2, 2, 0, CX_OK},   {"beacon", 2, 2, 4, CX_E_BAD_KEY_PARAMS},
      {"vault", 3, 2, 0, CX_E_BAD_KEY_PARAMS}, {"vault", 3, 2, 1, CX_OK},
      {"vault", 3, 4, 10, CX_OK},   {"vault", 3, 2, 11, CX_E_BAD_KEY_PARAMS},
      {"vault", 3, 2, 255, CX_E_BAD_KEY_PARAMS},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    vm_key_clear(w.k);
    cx_err got = create_as(&w, cases[i].name, cases[i].purpose, cases[i].t, cases[i].k, 1, 1, 4);
    ck_assert_msg(got == cases[i].want, "case %zu: got %s", i, cx_err_name(got));
    if (got) continue;
    ck_assert_uint_eq(w.k->k, cases[i].k);
    roundtrip(w.k);
  }
  /* more members than an approval list holds: k up to VM_KEY_K_MAX */
  w.nmem = 200;
  vm_key_clear(w.k);
  ck_assert_int_eq(create_as(&w, "vault", 3, 2, VM_KEY_K_MAX + 1, 1, 1, 4), CX_E_BAD_KEY_PARAMS);
  ck_assert_int_eq(create_as(&w, "vault", 3, 2, VM_KEY_K_MAX, 1, 1, 4), CX_OK);
  ck_assert_uint_eq(w.k->k, VM_KEY_K_MAX);
  /* a results key's record claiming a policy does not decode */
  vm_key_clear(w.k);
  ck_assert_int_eq(create_as(&w, "results", 1, 3, 0, 1, 1, 4), CX_OK);
  size_t len, k_at = 1 + 1 + strlen("results") + 2;
  uint8_t *b = key_bytes(w.k, &len);
  vm_key *d = malloc(sizeof *d);
  ck_assert_ptr_nonnull(d);
  ck_assert_uint_eq(b[k_at], 0);
  b[k_at] = 1;
  ck_assert_int_eq(vm_key_decode(b, len, d), CX_E_NONCANONICAL);
  b[k_at] = 0;
  ck_assert_int_eq(vm_key_decode(b, len, d), CX_OK);
  vm_key_clear(d);
  free(d);
  free(b);
  world_free(&w);
}
END_TEST

/* key_deal: each code of §3 in order, the key unchanged each time. */
START_TEST(test_deal_rejections) {
  const uint32_t n = 4;
  world w;
  world_init(&w, n);
  create(&w, "results", CX_KEY_PURPOSE_RESULTS, 3);
  cx_tx tx;
  /* another key's name */
  deal_tx(&w, 0, -1, &tx);
  strcpy(tx.u.kdeal.name, "beacon");
  expect(&w, &tx, 0, CX_E_KEY_UNKNOWN);
  /* not a party */
  deal_tx(&w, 0, -1, &tx);
  expect(&w, &tx, MAXN, CX_E_NOT_KEY_PARTY);
  /* another epoch */
  deal_tx(&w, 0, -1, &tx);
  tx.u.kdeal.epoch = 1;
  expect(&w, &tx, 0, CX_E_KEY_CLOSED);
  /* bad_deal: party 1's round one sent by party 0 */
  cx_tx other;
  deal_tx(&w, 1, -1, &other);
  deal_tx(&w, 0, -1, &tx);
  memcpy(tx.u.kdeal.round1, other.u.kdeal.round1, other.u.kdeal.round1_len);
  tx_clear(&other);
  expect(&w, &tx, 0, CX_E_BAD_DEAL);
  /* bad_deal: round one does not decode */
  deal_tx(&w, 0, -1, &tx);
  tx.u.kdeal.round1[0] = 9;
  expect(&w, &tx, 0, CX_E_BAD_DEAL);
  deal_tx(&w, 0, -1, &tx);
  tx.u.kdeal.round1_len--;
  expect(&w, &tx, 0, CX_E_BAD_DEAL);
  /* bad_deal: another t (a session of t = 2 under the right context) */
  dkg *p2;
  dkg_round1_msg m;
  uint8_t r1[DKG_ROUND1_MAX_LEN];
  ck_assert_int_eq(dkg_new((uint16_t)n, 2, 1, w.k->context, NULL, &p2, NULL, 0), CX_OK);
  ck_assert_int_eq(dkg_round1(p2, &m), CX_OK);
  size_t l2 = dkg_round1_encode(&m, r1);
  dkg_free(p2);
  deal_tx(&w, 0, -1, &tx);
  free(tx.u.kdeal.round1);
  tx.u.kdeal.round1 = malloc(l2);
  memcpy(tx.u.kdeal.round1, r1, l2);
  tx.u.kdeal.round1_len = l2;
  expect(&w, &tx, 0, CX_E_BAD_DEAL);
  /* bad_deal: the proof under another context (another epoch's, say) */
  uint8_t ctx[32];
  tx_key_context(&w.chain, "results", 1, 3, w.k->parties, n, ctx);
  ck_assert_int_eq(dkg_new((uint16_t)n, 3, 1, ctx, NULL, &p2, NULL, 0), CX_OK);
  ck_assert_int_eq(dkg_round1(p2, &m), CX_OK);
  l2 = dkg_round1_encode(&m, r1);
  dkg_free(p2);
  deal_tx(&w, 0, -1, &tx);
  memcpy(tx.u.kdeal.round1, r1, l2);
  expect(&w, &tx, 0, CX_E_BAD_DEAL);
  /* bad_deal: the proof's mu altered */
  deal_tx(&w, 0, -1, &tx);
  tx.u.kdeal.round1[tx.u.kdeal.round1_len - 32] ^= 1;
  expect(&w, &tx, 0, CX_E_BAD_DEAL);
  /* bad_deal: n slots not the key's n */
  deal_tx(&w, 0, -1, &tx);
  {
    uint8_t *r = malloc(tx.u.kdeal.round1_len), sl[CX_MAX_VALIDATORS][CX_KEY_SEALED_LEN];
    size_t rl = tx.u.kdeal.round1_len;
    memcpy(r, tx.u.kdeal.round1, rl);
    memcpy(sl, tx.u.kdeal.sealed, n * CX_KEY_SEALED_LEN);
    ck_assert_int_eq(tx_key_deal_set(&tx, r, rl, n + 1), CX_OK);
    for (uint32_t j = 1; j <= n; j++) ck_assert_int_eq(tx_key_deal_set_slot(&tx, j, sl[j < n ? j : 1]), CX_OK);
    free(r);
  }
  expect(&w, &tx, 0, CX_E_BAD_DEAL);
  /* bad_deal: the own slot filled, another slot empty */
  deal_tx(&w, 0, -1, &tx);
  tx.u.kdeal.sealed_present[0] = 1;
  expect(&w, &tx, 0, CX_E_BAD_DEAL);
  deal_tx(&w, 0, -1, &tx);
  tx.u.kdeal.sealed_present[2] = 0;
  expect(&w, &tx, 0, CX_E_BAD_DEAL);
  ck_assert_uint_eq(w.k->dealt, 0);
  /* the good one, then deal_exists */
  deal(&w, 0, -1);
  deal_tx(&w, 0, -1, &tx);
  expect(&w, &tx, 0, CX_E_DEAL_EXISTS);
  /* deal_exists comes after key_closed: another epoch says closed */
  deal_tx(&w, 0, -1, &tx);
  tx.u.kdeal.epoch = 7;
  expect(&w, &tx, 0, CX_E_KEY_CLOSED);
  world_free(&w);
}
END_TEST

/* key_verdict, key_answer, key_advance: each code of §3 in order. */
START_TEST(test_verify_rejections) {
  const uint32_t n = 4;
  world w;
  world_init(&w, n);
  create(&w, "results", CX_KEY_PURPOSE_RESULTS, 3);
  cx_tx tx;
  /* in DEALING: verdicts and answers are closed; advance(2) too */
  head(&tx, TX_KEY_VERDICT, &w, tx.u.kverdict.name);
  expect(&w, &tx, 0, CX_E_KEY_CLOSED);
  dkg_answer a = {.dealer = 1, .complainer = 2};
  answer_tx(&w, &a, &tx);
  expect(&w, &tx, 0, CX_E_KEY_CLOSED);
  advance_tx(&w, CX_KEY_PHASE_VERIFYING, &tx);
  expect(&w, &tx, 0, CX_E_KEY_CLOSED);
  advance_tx(&w, CX_KEY_PHASE_DEALING, &tx);
  expect(&w, &tx, MAXN, CX_E_NOT_KEY_PARTY);
  advance_tx(&w, CX_KEY_PHASE_DEALING, &tx);
  tx.u.kadvance.epoch = 3;
  expect(&w, &tx, 0, CX_E_KEY_CLOSED);
  advance_tx(&w, CX_KEY_PHASE_DEALING, &tx);
  strcpy(tx.u.kadvance.name, "other");
  expect(&w, &tx, 0, CX_E_KEY_UNKNOWN);

  /* dealer 0 sends party 1 a bad share */
  for (uint32_t i = 0; i < n; i++) deal(&w, i, i == 0 ? 1 : -1);
  ck_assert_uint_eq(w.k->phase, VM_KEY_VERIFYING);
  advance_tx(&w, CX_KEY_PHASE_DEALING, &tx);
  expect(&w, &tx, 0, CX_E_KEY_CLOSED);

  /* verdict: not a party, another epoch */
  size_t nc;
  verdict_tx(&w, 2, &tx, &nc);
  expect(&w, &tx, MAXN, CX_E_NOT_KEY_PARTY);
  verdict_tx(&w, 2, &tx, &nc);
  tx.u.kverdict.epoch = 1;
  expect(&w, &tx, 2, CX_E_KEY_CLOSED);
  /* bad_complaint: does not decode; complainer not the sender; dealers not
   * strictly increasing; a BAD_SHARE whose share passes */
  dkg_complaint c1 = {.dealer = 2, .complainer = 3, .reason = DKG_COMPLAINT_NO_SHARE};
  dkg_complaint c0 = {.dealer = 1, .complainer = 3, .reason = DKG_COMPLAINT_NO_SHARE};
  head(&tx, TX_KEY_VERDICT, &w, tx.u.kverdict.name);
  tx.u.kverdict.k = 1;
  tx.u.kverdict.complaint_len[0] = 2;
  tx.u.kverdict.complaint[0][0] = 3;
  expect(&w, &tx, 2, CX_E_BAD_COMPLAINT);
  head(&tx, TX_KEY_VERDICT, &w, tx.u.kverdict.name);
  tx.u.kverdict.k = 1;
  tx.u.kverdict.complaint_len[0] = (uint8_t)dkg_complaint_encode(&c1, tx.u.kverdict.complaint[0]);
  expect(&w, &tx, 0, CX_E_BAD_COMPLAINT); /* complainer 3 is party 2 */
  head(&tx, TX_KEY_VERDICT, &w, tx.u.kverdict.name);
  tx.u.kverdict.k = 2;
  tx.u.kverdict.complaint_len[0] = (uint8_t)dkg_complaint_encode(&c1, tx.u.kverdict.complaint[0]);
  tx.u.kverdict.complaint_len[1] = (uint8_t)dkg_complaint_encode(&c0, tx.u.kverdict.complaint[1]);
  expect(&w, &tx, 2, CX_E_BAD_COMPLAINT);
  head(&tx, TX_KEY_VERDICT, &w, tx.u.kverdict.name);
  tx.u.kverdict.k = 2;
  tx.u.kverdict.complaint_len[0] = (uint8_t)dkg_complaint_encode(&c1, tx.u.kverdict.complaint[0]);
  tx.u.kverdict.complaint_len[1] = (uint8_t)dkg_complaint_encode(&c1, tx.u.kverdict.complaint[1]);
  expect(&w, &tx, 2, CX_E_BAD_COMPLAINT);
  {
    /* party 2's true share from dealer 1, disclosed as bad */
    uint8_t plain[DKG_SHARE_LEN];
    dkg_share s;
    ck_assert_int_eq(crypto_box_seal_open(plain, w.k->sealed[1] + 2 * CX_KEY_SEALED_LEN, CX_KEY_SEALED_LEN,
                                          w.enc_pk[2], w.enc_sk[2]),
                     0);
    ck_assert_int_eq(dkg_share_decode(plain, sizeof plain, &s, NULL, 0), CX_OK);
    dkg_complaint cb = {.dealer = 2, .complainer = 3, .reason = DKG_COMPLAINT_BAD_SHARE, .share = s.value};
    head(&tx, TX_KEY_VERDICT, &w, tx.u.kverdict.name);
    tx.u.kverdict.k = 1;
    tx.u.kverdict.complaint_len[0] = (uint8_t)dkg_complaint_encode(&cb, tx.u.kverdict.complaint[0]);
    expect(&w, &tx, 2, CX_E_BAD_COMPLAINT);
  }
  ck_assert_uint_eq(w.k->verdict, 0);
  /* answer with nothing to answer */
  a = (dkg_answer){.dealer = 2, .complainer = 3};
  answer_tx(&w, &a, &tx);
  expect(&w, &tx, 1, CX_E_NO_COMPLAINT);

  /* party 1's real verdict: one complaint against dealer 0 */
  verdict_tx(&w, 1, &tx, &nc);
  ck_assert_uint_eq(nc, 1);
  ck_assert_int_eq(apply(&w, &tx, 1), CX_OK);
  verdict_tx(&w, 1, &tx, &nc);
  expect(&w, &tx, 1, CX_E_VERDICT_EXISTS);
  /* answers: from a non-party or another dealer, no_complaint; another
   * complainer, no_complaint; undecodable or naming another dealer,
   * bad_complaint */
  honest_answer(&w, 0, &a);
  answer_tx(&w, &a, &tx);
  expect(&w, &tx, MAXN, CX_E_NO_COMPLAINT);
  answer_tx(&w, &a, &tx);
  expect(&w, &tx, 3, CX_E_NO_COMPLAINT);
  dkg_answer wrong = a;
  wrong.complainer = 3;
  answer_tx(&w, &wrong, &tx);
  expect(&w, &tx, 0, CX_E_NO_COMPLAINT);
  answer_tx(&w, &a, &tx);
  tx.u.kanswer.answer[0] = 9; /* kind */
  expect(&w, &tx, 0, CX_E_BAD_COMPLAINT);
  answer_tx(&w, &a, &tx);
  tx.u.kanswer.answer[2] = 3; /* dealer 3 */
  expect(&w, &tx, 0, CX_E_BAD_COMPLAINT);
  answer_tx(&w, &a, &tx);
  memset(tx.u.kanswer.answer + 5, 0xff, 32); /* not a scalar */
  expect(&w, &tx, 0, CX_E_BAD_COMPLAINT);
  ck_assert_uint_eq(w.k->complaints[0].state, 0);

  /* advance(2): not a party, wrong phase, already voted */
  advance(&w, 3, CX_KEY_PHASE_VERIFYING);
  advance_tx(&w, CX_KEY_PHASE_VERIFYING, &tx);
  expect(&w, &tx, 3, CX_E_ALREADY_VOTED);
  advance_tx(&w, CX_KEY_PHASE_VERIFYING, &tx);
  expect(&w, &tx, MAXN, CX_E_NOT_KEY_PARTY);
  ck_assert_uint_eq(w.k->phase, VM_KEY_VERIFYING);
  /* the answer resolves the complaint; the others' verdicts end it */
  answer_tx(&w, &a, &tx);
  ck_assert_int_eq(apply(&w, &tx, 0), CX_OK);
  verdict(&w, 0);
  verdict(&w, 2);
  ck_assert_uint_eq(w.k->phase, VM_KEY_VERIFYING);
  verdict(&w, 3);
  ck_assert_uint_eq(w.k->phase, VM_KEY_READY);
  ck_assert_uint_eq(w.k->qual, 0xf);
  /* nothing applies to a READY key */
  advance_tx(&w, CX_KEY_PHASE_VERIFYING, &tx);
  expect(&w, &tx, 0, CX_E_KEY_CLOSED);
  world_free(&w);
}
END_TEST

/* The strict decoder of the key's record refuses damaged records. */
START_TEST(test_decode_refusals) {
  world w;
  world_init(&w, 4);
  create(&w, "vault", CX_KEY_PURPOSE_CUSTODY, 2);
  deal(&w, 0, 2);
  deal(&w, 1, -1);
  deal(&w, 2, -1);
  deal(&w, 3, -1);
  verdict(&w, 2);
  size_t len;
  uint8_t *b = key_bytes(w.k, &len);
  vm_key *d = malloc(sizeof *d);
  ck_assert_int_eq(vm_key_decode(b, len, d), CX_OK);
  vm_key_clear(d);
  /* version (2 since resharing: a version-1 record is refused), a phase
   * out of range, a bitmap beyond n */
  ck_assert_uint_eq(b[0], 2);
  b[0] = 1;
  ck_assert_int_eq(vm_key_decode(b, len, d), CX_E_BAD_VERSION);
  b[0] = 3;
  ck_assert_int_eq(vm_key_decode(b, len, d), CX_E_BAD_VERSION);
  b[0] = 2;
  size_t k_at = 1 + 1 + strlen("vault") + 2, phase_at = k_at + 1; /* version, name, purpose, t, k */
  ck_assert_uint_eq(b[k_at], 1);
  /* k out of the policy's range for a custody key */
  b[k_at] = 0;
  ck_assert_int_eq(vm_key_decode(b, len, d), CX_E_NONCANONICAL);
  b[k_at] = VM_KEY_K_MAX + 1;
  ck_assert_int_eq(vm_key_decode(b, len, d), CX_E_NONCANONICAL);
  b[k_at] = VM_KEY_K_MAX;
  ck_assert_int_eq(vm_key_decode(b, len, d), CX_OK);
  ck_assert_uint_eq(d->k, VM_KEY_K_MAX);
  vm_key_clear(d);
  b[k_at] = 1;
  ck_assert_uint_eq(b[phase_at], VM_KEY_VERIFYING);
  b[phase_at] = 5;
  ck_assert_int_eq(vm_key_decode(b, len, d), CX_E_BAD_ENUM);
  b[phase_at] = VM_KEY_READY; /* READY without its group key */
  ck_assert_int_ne(vm_key_decode(b, len, d), CX_OK);
  b[phase_at] = VM_KEY_VERIFYING;
  ck_assert_int_eq(vm_key_decode(b, len, d), CX_OK);
  vm_key_clear(d);
  /* every truncation is refused */
  for (size_t cut = 0; cut < len; cut += 37) ck_assert_int_ne(vm_key_decode(b, cut, d), CX_OK);
  free(d);
  free(b);
  world_free(&w);
}
END_TEST

/* ---- resharing (docs/keys.md §10) ----
 * The old parties of a READY key deal their shares (dkg_reshare_deal, sealed
 * to the new parties' enc keys) and the new parties judge them, all through
 * vm_key_reshare and vm_key_apply; the group key must come out the same and
 * each new party's share, combined with dkg_reshare_combine from what it
 * received, must match the chain's Y'_j. */

/* A key's parties as world members and their signing shares, so that a key
 * can be reshared again and again: party i is world member map[i] with
 * share sh[i] (sodium). While a reshare runs the old side is kept in omap,
 * old_sh, and seed[i] is old party i's dealing seed. */
typedef struct {
  uint32_t n, map[MAXN];
  frost_scalar *sh;
  uint32_t n_old, omap[MAXN];
  frost_scalar *old_sh;
  uint8_t seed[MAXN][32];
  uint8_t gpk[32];
} rs;

static void rs_free(rs *r) {
  if (r->sh) sodium_free(r->sh);
  if (r->old_sh) sodium_free(r->old_sh);
  sodium_memzero(r->seed, sizeof r->seed);
  memset(r, 0, sizeof *r);
}

/* An honest DKG of the results key (t = n - f) among the world's n
 * members, READY, with their shares. */
static void rs_dkg(world *w, rs *r) {
  memset(r, 0, sizeof *r);
  create(w, "results", CX_KEY_PURPOSE_RESULTS, (uint8_t)(w->n - fof(w->n)));
  for (uint32_t i = 0; i < w->n; i++) deal(w, i, -1);
  for (uint32_t j = 0; j < w->n; j++) verdict(w, j);
  ck_assert_uint_eq(w->k->phase, VM_KEY_READY);
  r->n = w->n;
  for (uint32_t i = 0; i < r->n; i++) r->map[i] = i;
  r->sh = sodium_allocarray(r->n, sizeof *r->sh);
  ck_assert_ptr_nonnull(r->sh);
  finish_all(w, r->sh);
  memcpy(r->gpk, w->k->group_pk, 32);
}

/* vm_key_reshare of old: name, epoch, validators = world members nv[0..nn)
 * in that order, members now = the world members in live (bitmap). *rej as
 * it says; out (caller memory) the new record when CX_OK. */
static cx_err reshare_call(world *w, const vm_key *old, const char *name, uint32_t epoch, const uint32_t *nv,
                           size_t nn, uint64_t live, int is_val, vm_key *out) {
  cx_member vals[CX_MAX_VALIDATORS + 1], mem[MAXN];
  size_t nm = 0;
  for (size_t j = 0; j < nn; j++) vals[j] = w->vals[nv[j] % MAXN];
  for (uint32_t i = 0; i < MAXN; i++)
    if (live >> i & 1) mem[nm++] = w->vals[i];
  cx_tx_key_reshare kr;
  memset(&kr, 0, sizeof kr);
  strcpy(kr.name, name);
  kr.epoch = epoch;
  cx_err rej = CX_E_INTERNAL;
  vm_key_init(out);
  ck_assert_int_eq(vm_key_reshare(&w->chain, old, &kr, vals, nn, is_val, mem, nm, w->height, out, &rej), CX_OK);
  return rej;
}

/* key_reshare of w->k to the world members nv[0..nn), live the members
 * now: the key becomes the reshare run and r's parties its old side. */
static void rs_start(world *w, rs *r, const uint32_t *nv, uint32_t nn, uint64_t live) {
  vm_key *nk = malloc(sizeof *nk);
  ck_assert_ptr_nonnull(nk);
  cx_err rej = reshare_call(w, w->k, w->k->name, w->k->epoch, nv, nn, live, 1, nk);
  ck_assert_msg(rej == CX_OK, "key_reshare: %s", cx_err_name(rej));
  /* the record: reshare mode, the old set kept, the group key already */
  ck_assert_uint_eq(nk->reshare, 1);
  ck_assert_uint_eq(nk->phase, VM_KEY_DEALING);
  ck_assert_uint_eq(nk->epoch, w->k->last_epoch + 1);
  ck_assert_uint_eq(nk->last_epoch, nk->epoch);
  ck_assert_uint_eq(nk->from_epoch, w->k->epoch);
  ck_assert_uint_eq(nk->n, nn);
  ck_assert_uint_eq(nk->n_old, w->k->n);
  ck_assert_uint_eq(nk->t_old, w->k->t);
  ck_assert_uint_eq(nk->created_height, w->height);
  ck_assert_mem_eq(nk->old_parties, w->k->parties, w->k->n * sizeof(cx_pubkey));
  ck_assert_mem_eq(nk->old_pk_shares, w->k->pk_shares, w->k->n * 32);
  ck_assert_mem_eq(nk->group_pk, r->gpk, 32);
  for (uint32_t j = 0; j < nn; j++) {
    ck_assert_mem_eq(nk->parties[j].b, w->pk[nv[j]].b, 32);
    ck_assert_mem_eq(nk->enc[j], w->enc_pk[nv[j]], 32);
  }
  uint8_t want[32];
  tx_key_context(&w->chain, nk->name, nk->epoch, nk->t, nk->parties, nn, want);
  ck_assert_mem_eq(nk->context, want, 32);
  for (uint32_t i = 0; i < w->k->n; i++)
    ck_assert_uint_eq(nk->old_members >> i & 1, live >> r->map[i] & 1);
  roundtrip(nk);
  vm_key_clear(w->k);
  free(w->k);
  w->k = nk;
  w->t = nk->t;
  w->height++;
  if (r->old_sh) sodium_free(r->old_sh);
  r->n_old = r->n;
  memcpy(r->omap, r->map, sizeof r->map);
  r->old_sh = r->sh;
  r->sh = NULL;
  r->n = nn;
  memcpy(r->map, nv, nn * sizeof *nv);
  for (uint32_t i = 0; i < r->n_old; i++) tu_randbytes(r->seed[i], 32);
}

/* Old party i's deal: g_i with g_i(0) = its share (wrong: one more, so C_0
 * is not its Y_i), t' commitments, and g_i(j) sealed to every new party j;
 * to new party bad_to (if >= 0) a value one off. */
static void rs_deal_tx(world *w, const rs *r, uint32_t i, int bad_to, int wrong, cx_tx *tx) {
  dkg_round1_msg m;
  uint8_t r1[DKG_ROUND1_MAX_LEN];
  frost_scalar *sec = sodium_malloc(sizeof *sec);
  dkg_share *sh = sodium_allocarray(r->n, sizeof *sh);
  ck_assert_ptr_nonnull(sec);
  ck_assert_ptr_nonnull(sh);
  *sec = r->old_sh[i];
  if (wrong) add_one(sec);
  ck_assert_int_eq(dkg_reshare_deal(w->k->context, (uint16_t)r->n, w->k->t, (uint16_t)(i + 1), sec, r->seed[i], &m,
                                    sh, NULL, 0),
                   CX_OK);
  head(tx, TX_KEY_DEAL, w, tx->u.kdeal.name);
  tx->u.kdeal.epoch = w->k->epoch;
  size_t len = dkg_round1_encode(&m, r1);
  ck_assert_int_eq(tx_key_deal_set(tx, r1, len, r->n), CX_OK);
  for (uint32_t j = 0; j < r->n; j++) {
    uint8_t plain[DKG_SHARE_LEN], sealed[CX_KEY_SEALED_LEN];
    if ((int)j == bad_to) add_one(&sh[j].value);
    ck_assert_uint_eq(dkg_share_encode(&sh[j], plain), DKG_SHARE_LEN);
    ck_assert_int_eq(crypto_box_seal(sealed, plain, sizeof plain, w->enc_pk[r->map[j]]), 0);
    sodium_memzero(plain, sizeof plain);
    ck_assert_int_eq(tx_key_deal_set_slot(tx, j, sealed), CX_OK);
  }
  sodium_free(sh);
  sodium_free(sec);
}

static void rs_deal(world *w, const rs *r, uint32_t i, int bad_to) {
  cx_tx tx;
  rs_deal_tx(w, r, i, bad_to, 0, &tx);
  ck_assert_int_eq(apply(w, &tx, r->omap[i]), CX_OK);
  ck_assert(w->k->dealt & (1ull << i));
}

/* New party j opens old dealer i's slot with its enc secret key. */
static void rs_open(const world *w, const rs *r, uint32_t i, uint32_t j, dkg_share *s) {
  uint8_t plain[DKG_SHARE_LEN];
  ck_assert_int_eq(crypto_box_seal_open(plain, w->k->sealed[i] + (size_t)j * CX_KEY_SEALED_LEN, CX_KEY_SEALED_LEN,
                                        w->enc_pk[r->map[j]], w->enc_sk[r->map[j]]),
                   0);
  ck_assert_int_eq(dkg_reshare_share_decode(plain, sizeof plain, s, NULL, 0), CX_OK);
  sodium_memzero(plain, sizeof plain);
  ck_assert_uint_eq(s->dealer, i + 1);
  ck_assert_uint_eq(s->recipient, j + 1);
}

static void rs_r1(const world *w, uint32_t i, dkg_round1_msg *m) {
  ck_assert_int_eq(dkg_round1_decode(w->k->round1[i], w->k->round1_len[i], m, NULL, 0), CX_OK);
}

/* New party j's verdict: each dealt slot opened and checked at its NEW id;
 * one that fails makes a BAD_SHARE complaint disclosing it. */
static void rs_verdict_tx(world *w, const rs *r, uint32_t j, cx_tx *tx, size_t *nc) {
  head(tx, TX_KEY_VERDICT, w, tx->u.kverdict.name);
  tx->u.kverdict.epoch = w->k->epoch;
  *nc = 0;
  for (uint32_t i = 0; i < r->n_old; i++) {
    if (!(w->k->dealt >> i & 1)) continue;
    dkg_round1_msg m;
    dkg_share s;
    rs_r1(w, i, &m);
    rs_open(w, r, i, j, &s);
    cx_err e = dkg_reshare_share_check((uint16_t)(j + 1), &s, &m);
    if (e != CX_OK) {
      ck_assert_int_eq(e, CX_E_MPC_CHECK_FAILED);
      dkg_complaint c = {.dealer = (uint16_t)(i + 1), .complainer = (uint16_t)(j + 1),
                         .reason = DKG_COMPLAINT_BAD_SHARE, .share = s.value};
      uint32_t x = tx->u.kverdict.k++;
      tx->u.kverdict.complaint_len[x] = (uint8_t)dkg_complaint_encode(&c, tx->u.kverdict.complaint[x]);
      ++*nc;
    }
    sodium_memzero(&s, sizeof s);
  }
}

static void rs_verdict(world *w, const rs *r, uint32_t j) {
  cx_tx tx;
  size_t nc;
  rs_verdict_tx(w, r, j, &tx, &nc);
  ck_assert_int_eq(apply(w, &tx, r->map[j]), CX_OK);
  ck_assert(w->k->verdict & (1ull << j));
}

/* The accused old dealer's answer to complaint ci (bad: one off), re-derived
 * from its seed with dkg_reshare_answer; *sender its world index. */
static void rs_answer_tx(world *w, const rs *r, size_t ci, int bad, cx_tx *tx, uint32_t *sender) {
  const vm_key_complaint *x = &w->k->complaints[ci];
  dkg_complaint c;
  dkg_answer a;
  ck_assert_int_eq(dkg_reshare_complaint_decode(x->complaint, x->complaint_len, &c, NULL, 0), CX_OK);
  ck_assert_int_eq(dkg_reshare_answer(w->k->context, (uint16_t)r->n, w->k->t, c.dealer, &r->old_sh[c.dealer - 1],
                                      r->seed[c.dealer - 1], &c, &a),
                   CX_OK);
  if (bad) add_one(&a.share);
  answer_tx(w, &a, tx);
  *sender = r->omap[c.dealer - 1];
}

/* READY: the group key is the old one; S is QUAL''s t_old lowest ids; every
 * new party combines its share from S's values to it (its opened slot, or
 * the share a good answer revealed) with dkg_reshare_combine and gets the
 * chain's Y'_j; no old share matches any Y'_j; t' new shares sign under the
 * group key. r's shares become the new ones. */
static void rs_finish(world *w, rs *r) {
  const vm_key *k = w->k;
  ck_assert_uint_eq(k->phase, VM_KEY_READY);
  ck_assert_mem_eq(k->group_pk, r->gpk, 32);
  ck_assert_uint_eq(k->n_s, k->t_old);
  for (uint32_t i = 0, s = 0; i < k->n_old && s < k->t_old; i++)
    if (k->qual >> i & 1) ck_assert_uint_eq(k->s_ids[s++], i + 1);
  frost_scalar *ns = sodium_allocarray(r->n, sizeof *ns), *vals = sodium_allocarray(k->n_s, sizeof *vals);
  ck_assert_ptr_nonnull(ns);
  ck_assert_ptr_nonnull(vals);
  for (uint32_t j = 0; j < r->n; j++) {
    for (uint32_t s = 0; s < k->n_s; s++) {
      uint32_t i = k->s_ids[s] - 1u;
      int answered = 0;
      for (size_t c = 0; c < k->ncomplaints; c++) {
        const vm_key_complaint *x = &k->complaints[c];
        if (x->dealer != i || x->complainer != j) continue;
        dkg_answer a;
        ck_assert_uint_eq(x->state, 1); /* a dealer in S answered well */
        ck_assert_int_eq(dkg_reshare_answer_decode(x->answer, CX_KEY_ANSWER_LEN, &a, NULL, 0), CX_OK);
        vals[s] = a.share;
        answered = 1;
      }
      if (answered) continue;
      dkg_share sh;
      dkg_round1_msg m;
      rs_open(w, r, i, j, &sh);
      rs_r1(w, i, &m);
      ck_assert_int_eq(dkg_reshare_share_check((uint16_t)(j + 1), &sh, &m), CX_OK);
      vals[s] = sh.value;
      sodium_memzero(&sh, sizeof sh);
    }
    frost_element y;
    ck_assert_int_eq(dkg_reshare_combine(k->n_s, k->s_ids, vals, &ns[j]), CX_OK);
    ck_assert_int_eq(frost_public_share(&ns[j], &y), CX_OK);
    ck_assert_mem_eq(y.b, k->pk_shares[j], 32);
  }
  for (uint32_t i = 0; i < r->n_old; i++) {
    frost_element y;
    ck_assert_int_eq(frost_public_share(&r->old_sh[i], &y), CX_OK);
    for (uint32_t j = 0; j < r->n; j++) ck_assert(memcmp(y.b, k->pk_shares[j], 32) != 0);
  }
  sodium_free(vals);
  sodium_free(r->old_sh);
  r->old_sh = NULL;
  if (r->sh) sodium_free(r->sh);
  r->sh = ns;
  w->t = k->t;
  sign_check(w, ns, 0);
  sign_check(w, ns, r->n - k->t);
  roundtrip(k);
}

/* (4, 3) -> (5, 4): a newcomer first in signer order, so every member's old
 * and new ids differ; all four old parties are members, so DEALING ends at
 * their fourth deal; the group key stays. Then (5, 4) -> (4, 3), one old
 * party removed (not waited for), as epoch 2. */
START_TEST(test_reshare_grow_then_shrink) {
  world w;
  rs r;
  world_init(&w, 4);
  rs_dkg(&w, &r);
  const uint32_t nv[] = {4, 0, 1, 2, 3};
  rs_start(&w, &r, nv, 5, 0x1f);
  ck_assert_uint_eq(w.k->epoch, 1);
  ck_assert_uint_eq(w.k->t, 4); /* results: n' - f' = 5 - 1 */
  ck_assert_uint_eq(w.k->old_members, 0xf);
  for (uint32_t i = 0; i < 4; i++) {
    ck_assert_uint_eq(w.k->phase, VM_KEY_DEALING);
    rs_deal(&w, &r, i, -1);
  }
  ck_assert_uint_eq(w.k->phase, VM_KEY_VERIFYING);
  for (uint32_t j = 0; j < 5; j++) {
    ck_assert_uint_eq(w.k->phase, VM_KEY_VERIFYING);
    rs_verdict(&w, &r, j);
  }
  ck_assert_uint_eq(w.k->qual, 0xf);
  ck_assert_uint_eq(w.k->ended_height, w.height - 1);
  rs_finish(&w, &r);

  /* world member 3 leaves: old parties 0..3 (world 4, 0, 1, 2) are members */
  const uint32_t nv2[] = {0, 1, 2, 4};
  rs_start(&w, &r, nv2, 4, 0x17);
  ck_assert_uint_eq(w.k->epoch, 2);
  ck_assert_uint_eq(w.k->from_epoch, 1);
  ck_assert_uint_eq(w.k->t, 3);
  ck_assert_uint_eq(w.k->t_old, 4);
  ck_assert_uint_eq(w.k->old_members, 0xf);
  for (uint32_t i = 0; i < 4; i++) rs_deal(&w, &r, i, -1);
  ck_assert_uint_eq(w.k->phase, VM_KEY_VERIFYING); /* old party 4 (world 3) not waited for */
  ck_assert_uint_eq(w.k->dealt, 0xf);
  for (uint32_t j = 0; j < 4; j++) rs_verdict(&w, &r, j);
  ck_assert_uint_eq(w.k->qual, 0xf);
  rs_finish(&w, &r);
  ck_assert_uint_eq(w.k->s_ids[3], 4);
  rs_free(&r);
  world_free(&w);
}
END_TEST

/* (4, 3) -> (3, 3), world member 3 removed: it may still deal while DEALING
 * lasts, but gives no verdict and no vote (it is no new party); DEALING
 * ends when the three members have dealt. */
START_TEST(test_reshare_shrink) {
  world w;
  rs r;
  world_init(&w, 4);
  rs_dkg(&w, &r);
  const uint32_t nv[] = {0, 1, 2};
  rs_start(&w, &r, nv, 3, 0x7);
  ck_assert_uint_eq(w.k->t, 3); /* n' = 3: f' = 0 */
  ck_assert_uint_eq(w.k->old_members, 0x7);
  rs_deal(&w, &r, 3, -1);
  cx_tx tx;
  advance_tx(&w, CX_KEY_PHASE_DEALING, &tx);
  expect(&w, &tx, 3, CX_E_NOT_KEY_PARTY);
  rs_deal(&w, &r, 0, -1);
  rs_deal(&w, &r, 1, -1);
  ck_assert_uint_eq(w.k->phase, VM_KEY_DEALING);
  rs_deal(&w, &r, 2, -1);
  ck_assert_uint_eq(w.k->phase, VM_KEY_VERIFYING);
  rs_verdict(&w, &r, 0);
  size_t nc;
  rs_verdict_tx(&w, &r, 0, &tx, &nc);
  expect(&w, &tx, 3, CX_E_NOT_KEY_PARTY);
  rs_verdict(&w, &r, 1);
  rs_verdict(&w, &r, 2);
  ck_assert_uint_eq(w.k->qual, 0xf);
  rs_finish(&w, &r);
  rs_free(&r);
  world_free(&w);
}
END_TEST

/* (4, 3) -> (5, 4) with old party 1 (id 2) absent: f' + 1 = 2 advance(1)
 * votes by new parties end DEALING with t_old = 3 deals; S = {1, 3, 4}. */
START_TEST(test_reshare_absent_dealer) {
  world w;
  rs r;
  world_init(&w, 4);
  rs_dkg(&w, &r);
  const uint32_t nv[] = {4, 0, 1, 2, 3};
  rs_start(&w, &r, nv, 5, 0x1f);
  rs_deal(&w, &r, 0, -1);
  rs_deal(&w, &r, 2, -1);
  rs_deal(&w, &r, 3, -1);
  advance(&w, 4, CX_KEY_PHASE_DEALING); /* the newcomer's vote counts */
  ck_assert_uint_eq(w.k->phase, VM_KEY_DEALING);
  advance(&w, 0, CX_KEY_PHASE_DEALING);
  ck_assert_uint_eq(w.k->phase, VM_KEY_VERIFYING);
  ck_assert_uint_eq(w.k->dealt, 0xd);
  ck_assert_uint_eq(w.k->votes, 0);
  cx_tx tx;
  rs_deal_tx(&w, &r, 1, -1, 0, &tx);
  expect(&w, &tx, 1, CX_E_KEY_CLOSED);
  for (uint32_t j = 0; j < 5; j++) rs_verdict(&w, &r, j);
  ck_assert_uint_eq(w.k->qual, 0xd);
  rs_finish(&w, &r);
  ck_assert_uint_eq(w.k->s_ids[0], 1);
  ck_assert_uint_eq(w.k->s_ids[1], 3);
  ck_assert_uint_eq(w.k->s_ids[2], 4);
  rs_free(&r);
  world_free(&w);
}
END_TEST

/* (4, 3) -> (7, 5): f' = 2, so three advance(1) votes by new parties end
 * DEALING (two do not), here with old party 4 absent; five new shares sign. */
START_TEST(test_reshare_to_seven) {
  world w;
  rs r;
  world_init(&w, 4);
  rs_dkg(&w, &r);
  const uint32_t nv[] = {6, 5, 4, 3, 2, 1, 0};
  rs_start(&w, &r, nv, 7, 0x7f);
  ck_assert_uint_eq(w.k->t, 5);
  for (uint32_t i = 0; i < 3; i++) rs_deal(&w, &r, i, -1);
  advance(&w, 6, CX_KEY_PHASE_DEALING);
  advance(&w, 5, CX_KEY_PHASE_DEALING);
  ck_assert_uint_eq(w.k->phase, VM_KEY_DEALING);
  advance(&w, 3, CX_KEY_PHASE_DEALING); /* an old party's vote, as new party 4 */
  ck_assert_uint_eq(w.k->phase, VM_KEY_VERIFYING);
  for (uint32_t j = 0; j < 7; j++) rs_verdict(&w, &r, j);
  ck_assert_uint_eq(w.k->qual, 0x7);
  rs_finish(&w, &r);
  rs_free(&r);
  world_free(&w);
}
END_TEST

/* key_deal in reshare mode: each refusal, the key unchanged. */
START_TEST(test_reshare_bad_deals) {
  world w;
  rs r;
  cx_tx tx;
  world_init(&w, 4);
  rs_dkg(&w, &r);
  const uint32_t nv[] = {4, 0, 1, 2, 3};
  rs_start(&w, &r, nv, 5, 0x1f);
  /* the newcomer is no old party: it does not deal */
  rs_deal_tx(&w, &r, 0, -1, 0, &tx);
  expect(&w, &tx, 4, CX_E_NOT_KEY_PARTY);
  rs_deal_tx(&w, &r, 0, -1, 0, &tx);
  expect(&w, &tx, MAXN, CX_E_NOT_KEY_PARTY);
  rs_deal_tx(&w, &r, 0, -1, 0, &tx);
  tx.u.kdeal.epoch = 0; /* the old epoch */
  expect(&w, &tx, 0, CX_E_KEY_CLOSED);
  /* C_0 is not the dealer's Y_i (its proof of knowledge passes): this is
   * the check that keeps the group key */
  rs_deal_tx(&w, &r, 0, -1, 1, &tx);
  expect(&w, &tx, 0, CX_E_BAD_DEAL);
  /* old party 1's deal sent by old party 0 */
  rs_deal_tx(&w, &r, 1, -1, 0, &tx);
  expect(&w, &tx, 0, CX_E_BAD_DEAL);
  /* a slot empty: any, the dealer's own (new index 1) too */
  rs_deal_tx(&w, &r, 0, -1, 0, &tx);
  tx.u.kdeal.sealed_present[3] = 0;
  expect(&w, &tx, 0, CX_E_BAD_DEAL);
  rs_deal_tx(&w, &r, 0, -1, 0, &tx);
  tx.u.kdeal.sealed_present[1] = 0;
  expect(&w, &tx, 0, CX_E_BAD_DEAL);
  /* n slots not n' */
  rs_deal_tx(&w, &r, 0, -1, 0, &tx);
  tx.u.kdeal.n = 4;
  expect(&w, &tx, 0, CX_E_BAD_DEAL);
  /* the proof's mu altered */
  rs_deal_tx(&w, &r, 0, -1, 0, &tx);
  tx.u.kdeal.round1[tx.u.kdeal.round1_len - 32] ^= 1;
  expect(&w, &tx, 0, CX_E_BAD_DEAL);
  {
    /* t' - 1 commitments; a proof under another context (the DKG's) */
    dkg_round1_msg m;
    uint8_t r1[DKG_ROUND1_MAX_LEN];
    dkg_share *sh = sodium_allocarray(5, sizeof *sh);
    ck_assert_ptr_nonnull(sh);
    ck_assert_int_eq(dkg_reshare_deal(w.k->context, 5, 3, 1, &r.old_sh[0], r.seed[0], &m, sh, NULL, 0), CX_OK);
    size_t l = dkg_round1_encode(&m, r1);
    rs_deal_tx(&w, &r, 0, -1, 0, &tx);
    free(tx.u.kdeal.round1);
    tx.u.kdeal.round1 = malloc(l);
    memcpy(tx.u.kdeal.round1, r1, l);
    tx.u.kdeal.round1_len = l;
    expect(&w, &tx, 0, CX_E_BAD_DEAL);
    uint8_t ctx[32];
    tx_key_context(&w.chain, "results", 0, 3, w.k->old_parties, 4, ctx);
    ck_assert_int_eq(dkg_reshare_deal(ctx, 5, 4, 1, &r.old_sh[0], r.seed[0], &m, sh, NULL, 0), CX_OK);
    l = dkg_round1_encode(&m, r1);
    rs_deal_tx(&w, &r, 0, -1, 0, &tx);
    ck_assert_uint_eq(l, tx.u.kdeal.round1_len);
    memcpy(tx.u.kdeal.round1, r1, l);
    expect(&w, &tx, 0, CX_E_BAD_DEAL);
    sodium_free(sh);
  }
  ck_assert_uint_eq(w.k->dealt, 0);
  rs_deal(&w, &r, 0, -1);
  rs_deal_tx(&w, &r, 0, -1, 0, &tx);
  expect(&w, &tx, 0, CX_E_DEAL_EXISTS);
  rs_free(&r);
  world_free(&w);
}
END_TEST

/* Old dealer id 2 (world 1) deals new id 2 (world 0, old id 1) a bad share:
 * a complaint whose dealer and complainer are both 2, judged at the new id.
 * mode 0: a good answer (the true g_2(2)); 1: a bad one (dealer out);
 * 2: none, f' + 1 advance(2) votes (dealer out). */
static void rs_complaint_run(int mode) {
  world w;
  rs r;
  cx_tx tx;
  uint32_t snd;
  world_init(&w, 4);
  rs_dkg(&w, &r);
  const uint32_t nv[] = {4, 0, 1, 2, 3};
  rs_start(&w, &r, nv, 5, 0x1f);
  for (uint32_t i = 0; i < 4; i++) rs_deal(&w, &r, i, i == 1 ? 1 : -1);
  for (uint32_t j = 0; j < 5; j++) {
    size_t nc;
    rs_verdict_tx(&w, &r, j, &tx, &nc);
    ck_assert_uint_eq(nc, j == 1 ? 1 : 0);
    ck_assert_int_eq(apply(&w, &tx, r.map[j]), CX_OK);
  }
  ck_assert_uint_eq(w.k->phase, VM_KEY_VERIFYING); /* the complaint waits */
  ck_assert_uint_eq(w.k->ncomplaints, 1);
  ck_assert_uint_eq(w.k->complaints[0].dealer, 1);
  ck_assert_uint_eq(w.k->complaints[0].complainer, 1);
  ck_assert_uint_eq(w.k->complaints[0].reason, DKG_COMPLAINT_BAD_SHARE);
  roundtrip(w.k);
  if (mode < 2) {
    rs_answer_tx(&w, &r, 0, mode == 1, &tx, &snd);
    ck_assert_uint_eq(snd, 1);
    /* world 0 is new party 2, the complainer's id: it is old party 1, not
     * the accused; the newcomer is no old party at all */
    expect(&w, &tx, 0, CX_E_NO_COMPLAINT);
    rs_answer_tx(&w, &r, 0, mode == 1, &tx, &snd);
    expect(&w, &tx, 4, CX_E_NO_COMPLAINT);
    rs_answer_tx(&w, &r, 0, mode == 1, &tx, &snd);
    ck_assert_int_eq(apply(&w, &tx, snd), CX_OK);
    ck_assert_uint_eq(w.k->complaints[0].state, mode == 0 ? 1 : 2);
  } else {
    advance(&w, 4, CX_KEY_PHASE_VERIFYING);
    ck_assert_uint_eq(w.k->phase, VM_KEY_VERIFYING);
    advance(&w, 2, CX_KEY_PHASE_VERIFYING);
    ck_assert_uint_eq(w.k->complaints[0].state, 0);
  }
  ck_assert_uint_eq(w.k->phase, VM_KEY_READY);
  ck_assert_uint_eq(w.k->qual, mode == 0 ? 0xf : 0xd);
  ck_assert_uint_eq(w.k->disq, mode == 0 ? 0 : 0x2);
  rs_finish(&w, &r);
  rs_free(&r);
  world_free(&w);
}

START_TEST(test_reshare_complaint_answered) { rs_complaint_run(0); }
END_TEST

START_TEST(test_reshare_complaint_bad_answer) { rs_complaint_run(1); }
END_TEST

START_TEST(test_reshare_complaint_unanswered) { rs_complaint_run(2); }
END_TEST

/* A reshare with fewer than t_old deals when DEALING ends is FAILED (the vm
 * then puts the READY record back, last_epoch = the failed run's: done here
 * by hand as rules_keys.c does); the next reshare runs as epoch 2 and fails
 * again at the end of VERIFYING (QUAL' below t_old: an accused dealer does
 * not answer). */
START_TEST(test_reshare_failed) {
  world w;
  rs r;
  cx_tx tx;
  size_t len;
  world_init(&w, 4);
  rs_dkg(&w, &r);
  uint8_t *ready = key_bytes(w.k, &len);
  const uint32_t nv[] = {4, 0, 1, 2, 3};
  rs_start(&w, &r, nv, 5, 0x1f);
  rs_deal(&w, &r, 0, -1);
  rs_deal(&w, &r, 1, -1);
  advance(&w, 4, CX_KEY_PHASE_DEALING);
  advance(&w, 0, CX_KEY_PHASE_DEALING);
  ck_assert_uint_eq(w.k->phase, VM_KEY_FAILED);
  ck_assert_uint_eq(w.k->ended_height, w.height - 1);
  roundtrip(w.k);
  rs_deal_tx(&w, &r, 2, -1, 0, &tx);
  expect(&w, &tx, 2, CX_E_KEY_CLOSED);
  /* a FAILED run is no READY key: it cannot be reshared */
  vm_key *nk = malloc(sizeof *nk);
  ck_assert_ptr_nonnull(nk);
  ck_assert_int_eq(reshare_call(&w, w.k, "results", 1, nv, 5, 0x1f, 1, nk), CX_E_KEY_CLOSED);
  vm_key_clear(nk);

  /* the READY record back, as the vm does */
  ck_assert_int_eq(vm_key_decode(ready, len, nk), CX_OK);
  nk->last_epoch = w.k->epoch;
  vm_key_clear(w.k);
  free(w.k);
  w.k = nk;
  roundtrip(w.k);
  r.n = r.n_old;
  memcpy(r.map, r.omap, sizeof r.map);
  r.sh = r.old_sh;
  r.old_sh = NULL;
  /* the key_reshare names the READY epoch, 0; the run is epoch 2 */
  rs_start(&w, &r, nv, 5, 0x1f);
  ck_assert_uint_eq(w.k->epoch, 2);
  ck_assert_uint_eq(w.k->from_epoch, 0);
  rs_deal(&w, &r, 0, 2);
  rs_deal(&w, &r, 2, -1);
  rs_deal(&w, &r, 3, -1);
  advance(&w, 4, CX_KEY_PHASE_DEALING);
  advance(&w, 0, CX_KEY_PHASE_DEALING);
  ck_assert_uint_eq(w.k->phase, VM_KEY_VERIFYING);
  for (uint32_t j = 0; j < 5; j++) rs_verdict(&w, &r, j);
  ck_assert_uint_eq(w.k->ncomplaints, 1);
  advance(&w, 1, CX_KEY_PHASE_VERIFYING);
  advance(&w, 2, CX_KEY_PHASE_VERIFYING);
  ck_assert_uint_eq(w.k->phase, VM_KEY_FAILED);
  ck_assert_uint_eq(w.k->disq, 0x1);
  ck_assert_uint_eq(w.k->qual, 0);
  roundtrip(w.k);
  free(ready);
  rs_free(&r);
  world_free(&w);
}
END_TEST

/* key_reshare's codes in §10's order, and t' for each purpose. */
START_TEST(test_reshare_rejections) {
  world w;
  rs r;
  world_init(&w, 4);
  vm_key *nk = malloc(sizeof *nk), *cp = malloc(sizeof *cp);
  ck_assert_ptr_nonnull(nk);
  ck_assert_ptr_nonnull(cp);
  const uint32_t nv[] = {4, 0, 1, 2, 3}, same[] = {0, 1, 2, 3};
  /* a key still DEALING: key_closed */
  create(&w, "results", CX_KEY_PURPOSE_RESULTS, 3);
  ck_assert_int_eq(reshare_call(&w, w.k, "results", 0, nv, 5, 0x1f, 1, nk), CX_E_KEY_CLOSED);
  rs_dkg(&w, &r);
  const struct {
    const vm_key *old;
    const char *name;
    uint32_t epoch;
    const uint32_t *nv;
    size_t nn;
    uint64_t live;
    int is_val;
    cx_err want;
  } cases[] = {
      {NULL, "results", 0, nv, 5, 0x1f, 1, CX_E_KEY_UNKNOWN},
      {w.k, "beacon", 0, nv, 5, 0x1f, 1, CX_E_KEY_UNKNOWN},
      {w.k, "results", 0, nv, 5, 0x1f, 0, CX_E_NOT_VALIDATOR},
      {w.k, "results", 1, same, 4, 0x1f, 0, CX_E_NOT_VALIDATOR}, /* the sender before the epoch */
      {w.k, "results", 1, nv, 5, 0x1f, 1, CX_E_KEY_CLOSED},
      {w.k, "results", 1, same, 4, 0xf, 1, CX_E_KEY_CLOSED},     /* the epoch before the parameters */
      {w.k, "results", 0, same, 4, 0x1f, 1, CX_E_BAD_KEY_PARAMS}, /* the parties already are the validators */
      {w.k, "results", 0, nv, 1, 0x1f, 1, CX_E_BAD_KEY_PARAMS},   /* n' < 2 */
      {w.k, "results", 0, nv, 5, 0x13, 1, CX_E_BAD_KEY_PARAMS},   /* 2 old members < t_old = 3 */
      {w.k, "results", 0, nv, 5, 0x07, 1, CX_OK},                 /* 3: enough */
      {w.k, "results", 0, same, 3, 0x07, 1, CX_OK},               /* a subset */
      {w.k, "results", 0, nv + 1, 3, 0x0f, 1, CX_OK},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cx_err got = reshare_call(&w, cases[i].old, cases[i].name, cases[i].epoch, cases[i].nv, cases[i].nn,
                              cases[i].live, cases[i].is_val, nk);
    ck_assert_msg(got == cases[i].want, "case %zu: got %s", i, cx_err_name(got));
    vm_key_clear(nk);
  }
  /* over CX_MAX_VALIDATORS validators */
  uint32_t many[CX_MAX_VALIDATORS + 1];
  for (uint32_t i = 0; i <= CX_MAX_VALIDATORS; i++) many[i] = i;
  ck_assert_int_eq(reshare_call(&w, w.k, "results", 0, many, CX_MAX_VALIDATORS + 1, 0x1f, 1, nk), CX_E_BAD_KEY_PARAMS);
  vm_key_clear(nk);
  /* no epoch left */
  size_t len;
  uint8_t *b = key_bytes(w.k, &len);
  ck_assert_int_eq(vm_key_decode(b, len, cp), CX_OK);
  cp->last_epoch = UINT32_MAX;
  ck_assert_int_eq(reshare_call(&w, cp, "results", 0, nv, 5, 0x1f, 1, nk), CX_E_BAD_KEY_PARAMS);
  vm_key_clear(nk);
  cp->last_epoch = 6; /* after failed runs: the next is 7 */
  ck_assert_int_eq(reshare_call(&w, cp, "results", 0, nv, 5, 0x1f, 1, nk), CX_OK);
  ck_assert_uint_eq(nk->epoch, 7);
  ck_assert_uint_eq(nk->from_epoch, 0);
  vm_key_clear(nk);
  /* t' by purpose (§2): results n' - f'; beacon max(2, f' + 1); custody
   * max(2, f' + 1) <= min(t, n'); a custody key keeps its k */
  const struct {
    uint8_t purpose, t, k;
    size_t nn;
    uint8_t want;
  } ts[] = {
      {CX_KEY_PURPOSE_RESULTS, 3, 0, 5, 4}, {CX_KEY_PURPOSE_RESULTS, 3, 0, 7, 5}, {CX_KEY_PURPOSE_RESULTS, 3, 0, 2, 2},
      {CX_KEY_PURPOSE_BEACON, 2, 0, 5, 2},  {CX_KEY_PURPOSE_BEACON, 2, 0, 7, 3},  {CX_KEY_PURPOSE_BEACON, 2, 0, 3, 2},
      {CX_KEY_PURPOSE_CUSTODY, 4, 5, 3, 3}, {CX_KEY_PURPOSE_CUSTODY, 2, 1, 7, 3}, {CX_KEY_PURPOSE_CUSTODY, 3, 2, 5, 3},
      {CX_KEY_PURPOSE_CUSTODY, 4, 1, 7, 4}, {CX_KEY_PURPOSE_CUSTODY, 2, 1, 2, 2},
  };
  const uint32_t seven[] = {4, 5, 6, 0, 1, 2, 3};
  for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
    cp->purpose = ts[i].purpose;
    cp->t = ts[i].t;
    cp->k = ts[i].k;
    cp->last_epoch = 0;
    ck_assert_int_eq(reshare_call(&w, cp, "results", 0, seven, ts[i].nn, 0x7f, 1, nk), CX_OK);
    ck_assert_msg(nk->t == ts[i].want, "t' case %zu: got %u", i, nk->t);
    ck_assert_uint_eq(nk->t_old, ts[i].t);
    ck_assert_uint_eq(nk->k, ts[i].k);
    ck_assert_uint_eq(nk->purpose, ts[i].purpose);
    vm_key_clear(nk);
  }
  vm_key_clear(cp);
  free(b);
  free(cp);
  free(nk);
  rs_free(&r);
  world_free(&w);
}
END_TEST

/* key_verdict, key_answer, key_advance in reshare mode: each code, the key
 * unchanged. */
START_TEST(test_reshare_verify_rejections) {
  world w;
  rs r;
  cx_tx tx;
  size_t nc;
  world_init(&w, 4);
  rs_dkg(&w, &r);
  const uint32_t nv[] = {4, 0, 1, 2, 3};
  rs_start(&w, &r, nv, 5, 0x1f);
  head(&tx, TX_KEY_VERDICT, &w, tx.u.kverdict.name);
  tx.u.kverdict.epoch = w.k->epoch;
  expect(&w, &tx, 4, CX_E_KEY_CLOSED);
  advance_tx(&w, CX_KEY_PHASE_DEALING, &tx);
  expect(&w, &tx, MAXN, CX_E_NOT_KEY_PARTY);
  /* old dealer id 2 (index 1) sends new party 3 (index 3, world 2) a bad share */
  for (uint32_t i = 0; i < 4; i++) rs_deal(&w, &r, i, i == 1 ? 3 : -1);
  ck_assert_uint_eq(w.k->phase, VM_KEY_VERIFYING);
  rs_verdict_tx(&w, &r, 3, &tx, &nc);
  expect(&w, &tx, MAXN, CX_E_NOT_KEY_PARTY);
  rs_verdict_tx(&w, &r, 3, &tx, &nc);
  tx.u.kverdict.epoch = 0;
  expect(&w, &tx, 2, CX_E_KEY_CLOSED);
  /* bad_complaint: complainer not the sender; dealer beyond the old set;
   * dealer 0 (does not decode); not ascending; a disclosed share that passes */
  const struct {
    uint16_t dealer, complainer;
  } bad[] = {{2, 3}, {5, 4}, {0, 4}};
  for (size_t i = 0; i < 3; i++) {
    dkg_complaint c = {.dealer = bad[i].dealer, .complainer = bad[i].complainer, .reason = DKG_COMPLAINT_NO_SHARE};
    head(&tx, TX_KEY_VERDICT, &w, tx.u.kverdict.name);
    tx.u.kverdict.epoch = w.k->epoch;
    tx.u.kverdict.k = 1;
    tx.u.kverdict.complaint_len[0] = (uint8_t)dkg_complaint_encode(&c, tx.u.kverdict.complaint[0]);
    expect(&w, &tx, 2, CX_E_BAD_COMPLAINT);
  }
  {
    dkg_complaint c3 = {.dealer = 3, .complainer = 4, .reason = DKG_COMPLAINT_NO_SHARE}, c2 = c3;
    c2.dealer = 2;
    head(&tx, TX_KEY_VERDICT, &w, tx.u.kverdict.name);
    tx.u.kverdict.epoch = w.k->epoch;
    tx.u.kverdict.k = 2;
    tx.u.kverdict.complaint_len[0] = (uint8_t)dkg_complaint_encode(&c3, tx.u.kverdict.complaint[0]);
    tx.u.kverdict.complaint_len[1] = (uint8_t)dkg_complaint_encode(&c2, tx.u.kverdict.complaint[1]);
    expect(&w, &tx, 2, CX_E_BAD_COMPLAINT);
    dkg_share s;
    rs_open(&w, &r, 2, 3, &s); /* old dealer 3's true share to new party 4 */
    dkg_complaint cb = {.dealer = 3, .complainer = 4, .reason = DKG_COMPLAINT_BAD_SHARE, .share = s.value};
    head(&tx, TX_KEY_VERDICT, &w, tx.u.kverdict.name);
    tx.u.kverdict.epoch = w.k->epoch;
    tx.u.kverdict.k = 1;
    tx.u.kverdict.complaint_len[0] = (uint8_t)dkg_complaint_encode(&cb, tx.u.kverdict.complaint[0]);
    expect(&w, &tx, 2, CX_E_BAD_COMPLAINT);
    /* the same complaint from new party 3 (world 1): not the sender's */
    head(&tx, TX_KEY_VERDICT, &w, tx.u.kverdict.name);
    tx.u.kverdict.epoch = w.k->epoch;
    tx.u.kverdict.k = 1;
    tx.u.kverdict.complaint_len[0] = (uint8_t)dkg_complaint_encode(&cb, tx.u.kverdict.complaint[0]);
    expect(&w, &tx, 1, CX_E_BAD_COMPLAINT);
    sodium_memzero(&s, sizeof s);
  }
  ck_assert_uint_eq(w.k->verdict, 0);
  rs_verdict_tx(&w, &r, 3, &tx, &nc);
  ck_assert_uint_eq(nc, 1);
  ck_assert_int_eq(apply(&w, &tx, 2), CX_OK);
  rs_verdict_tx(&w, &r, 3, &tx, &nc);
  expect(&w, &tx, 2, CX_E_VERDICT_EXISTS);
  /* answers: the newcomer, another old party, the outsider: no_complaint;
   * undecodable or naming another dealer: bad_complaint */
  uint32_t snd;
  const uint32_t not_accused[] = {4, 2, MAXN};
  for (size_t i = 0; i < 3; i++) {
    rs_answer_tx(&w, &r, 0, 0, &tx, &snd);
    expect(&w, &tx, not_accused[i], CX_E_NO_COMPLAINT);
  }
  rs_answer_tx(&w, &r, 0, 0, &tx, &snd);
  tx.u.kanswer.answer[0] = 9;
  expect(&w, &tx, snd, CX_E_BAD_COMPLAINT);
  rs_answer_tx(&w, &r, 0, 0, &tx, &snd);
  tx.u.kanswer.answer[2] = 3;
  expect(&w, &tx, snd, CX_E_BAD_COMPLAINT);
  rs_answer_tx(&w, &r, 0, 0, &tx, &snd);
  tx.u.kanswer.epoch = 0;
  expect(&w, &tx, snd, CX_E_KEY_CLOSED);
  /* votes: new parties only, once, for the phase it is */
  advance(&w, 4, CX_KEY_PHASE_VERIFYING);
  advance_tx(&w, CX_KEY_PHASE_VERIFYING, &tx);
  expect(&w, &tx, 4, CX_E_ALREADY_VOTED);
  advance_tx(&w, CX_KEY_PHASE_DEALING, &tx);
  expect(&w, &tx, 0, CX_E_KEY_CLOSED);
  ck_assert_uint_eq(w.k->complaints[0].state, 0);
  /* the good answer and the other verdicts: READY */
  rs_answer_tx(&w, &r, 0, 0, &tx, &snd);
  ck_assert_int_eq(apply(&w, &tx, snd), CX_OK);
  for (uint32_t j = 0; j < 5; j++)
    if (j != 3) rs_verdict(&w, &r, j);
  ck_assert_uint_eq(w.k->phase, VM_KEY_READY);
  rs_finish(&w, &r);
  advance_tx(&w, CX_KEY_PHASE_VERIFYING, &tx);
  expect(&w, &tx, 0, CX_E_KEY_CLOSED);
  rs_free(&r);
  world_free(&w);
}
END_TEST

/* The reshare record's decoder: its own refusals (mode, last_epoch, the old
 * set), every truncation. */
START_TEST(test_reshare_decode_refusals) {
  world w;
  rs r;
  world_init(&w, 4);
  rs_dkg(&w, &r);
  const uint32_t nv[] = {4, 0, 1, 2, 3};
  rs_start(&w, &r, nv, 5, 0x1f);
  rs_deal(&w, &r, 0, -1);
  size_t len;
  uint8_t *b = key_bytes(w.k, &len);
  vm_key *d = malloc(sizeof *d);
  ck_assert_ptr_nonnull(d);
  size_t phase_at = 1 + 1 + strlen("results") + 3, epoch_at = phase_at + 1, last_at = epoch_at + 1,
         mode_at = last_at + 1;
  ck_assert_uint_eq(b[epoch_at], 1);
  ck_assert_uint_eq(b[last_at], 1);
  ck_assert_uint_eq(b[mode_at], 1);
  ck_assert_uint_lt(w.k->created_height, 128);
  /* n | n x 64 | context | created_height | ended_height (0) */
  size_t from_at = mode_at + 1 + 1 + 5 * 64 + 32 + 1 + 1, nold_at = from_at + 1, told_at = nold_at + 1,
         members_at = told_at + 1 + 4 * 64;
  ck_assert_uint_eq(b[from_at], 0);
  ck_assert_uint_eq(b[nold_at], 4);
  ck_assert_uint_eq(b[told_at], 3);
  ck_assert_uint_eq(b[members_at], 0xf);
  const struct {
    size_t at;
    uint8_t v;
    cx_err want;
  } cases[] = {
      {mode_at, 2, CX_E_BAD_ENUM},
      {last_at, 0, CX_E_NONCANONICAL},   /* before epoch */
      {last_at, 2, CX_E_NONCANONICAL},   /* past epoch while DEALING */
      {from_at, 1, CX_E_NONCANONICAL},   /* not before epoch */
      {told_at, 5, CX_E_NONCANONICAL},   /* t_old > n_old */
      {told_at, 1, CX_E_NONCANONICAL},
      {nold_at, 1, CX_E_NONCANONICAL},
      {members_at, 0x3, CX_E_NONCANONICAL},  /* fewer than t_old */
      {members_at, 0x1f, CX_E_NONCANONICAL}, /* beyond n_old */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t was = b[cases[i].at];
    b[cases[i].at] = cases[i].v;
    cx_err got = vm_key_decode(b, len, d);
    ck_assert_msg(got == cases[i].want, "case %zu: got %s", i, cx_err_name(got));
    b[cases[i].at] = was;
  }
  /* read as a DKG-mode record it is something else: refused */
  b[mode_at] = 0;
  ck_assert_int_ne(vm_key_decode(b, len, d), CX_OK);
  b[mode_at] = 1;
  ck_assert_int_eq(vm_key_decode(b, len, d), CX_OK);
  vm_key_clear(d);
  for (size_t cut = 0; cut < len; cut += 11) ck_assert_int_ne(vm_key_decode(b, cut, d), CX_OK);
  free(b);
  free(d);
  rs_free(&r);
  world_free(&w);
}
END_TEST

static Suite *keyrules_suite(void) {
  Suite *s = suite_create("keyrules");
  TCase *tc = tcase_create("dkg");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_honest_n4);
  tcase_add_test(tc, test_honest_n7);
  tcase_add_test(tc, test_bad_share_good_answer);
  tcase_add_test(tc, test_bad_share_bad_answer);
  tcase_add_test(tc, test_bad_share_no_answer);
  tcase_add_test(tc, test_absent_dealer);
  tcase_add_test(tc, test_failed_then_recreate);
  tcase_add_test(tc, test_create_rejections);
  tcase_add_test(tc, test_create_policy);
  tcase_add_test(tc, test_deal_rejections);
  tcase_add_test(tc, test_verify_rejections);
  tcase_add_test(tc, test_decode_refusals);
  suite_add_tcase(s, tc);
  TCase *tr = tcase_create("reshare");
  tcase_set_timeout(tr, 120);
  tcase_add_test(tr, test_reshare_grow_then_shrink);
  tcase_add_test(tr, test_reshare_shrink);
  tcase_add_test(tr, test_reshare_absent_dealer);
  tcase_add_test(tr, test_reshare_to_seven);
  tcase_add_test(tr, test_reshare_bad_deals);
  tcase_add_test(tr, test_reshare_complaint_answered);
  tcase_add_test(tr, test_reshare_complaint_bad_answer);
  tcase_add_test(tr, test_reshare_complaint_unanswered);
  tcase_add_test(tr, test_reshare_failed);
  tcase_add_test(tr, test_reshare_rejections);
  tcase_add_test(tr, test_reshare_verify_rejections);
  tcase_add_test(tr, test_reshare_decode_refusals);
  suite_add_tcase(s, tr);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(keyrules_suite());
}
