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
  for (uint32_t i = 0; i < n; i++) {
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
  /* version, a phase out of range, a bitmap beyond n */
  b[0] = 2;
  ck_assert_int_eq(vm_key_decode(b, len, d), CX_E_BAD_VERSION);
  b[0] = 1;
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
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(keyrules_suite());
}
