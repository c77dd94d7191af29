/* verify_result (node/verify.c): an auditor's checks of a call's result
 * from the genesis alone (docs/calls.md §7), on a chain fragment built by
 * hand: a genesis of four validators (listed out of name order, so signer
 * order is tested; alpha owns domain hrss) and an insurer; a consent grant,
 * a call, alpha's anchoring of the hrss snapshot the result names, and the
 * result, each in a block with other transactions, with headers, commit
 * certificates signed by the validators' keys and audit paths. Every piece
 * is then tampered with, and the check that guards it must fail.
 *
 * FROST mode (docs/keys.md §6, §8; docs/calls.md §7): the genesis
 * validators first run the results key's DKG as real transactions
 * (key_create, deals with shares sealed to their enc keys, verdicts, and an
 * answer or advance votes), each in a certified block, with dkg.h driving
 * every party; t = 3 of them then sign the result with frost.h over
 * tx_result_frost_msg (or, for a FROST_BATCH result, over the root of a
 * batch the result is a leaf of). The auditor replays the key from those
 * transactions alone; each way of lying about them must fail the mpc
 * check, saying why.
 *
 * Validator-set changes (docs/calls.md §7 "Validator-set changes"): the
 * validators admit a fifth (echo), remove one or rekey one by real
 * member_propose and member_approve transactions in certified blocks; the
 * blocks after the change are certified by the new set (its last quorum by
 * name, so that the new member's or the new key's signature is needed),
 * and the result is signed by the parties in force at the call. The
 * verifier follows the set from those transactions alone; omitting,
 * reordering or forging them must fail. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "dkg.h"
#include "frost.h"
#include "merkle.h"
#include "testutil.h"
#include "tx.h"
#include "verify.h"
#include "vm.h"

/* Validators in genesis order; by name they are alpha(0) bravo(1)
 * charlie(2) delta(3): party and signer i is the i-th by name. A fifth,
 * echo, joins the genesis only when a test asks (opts.five). */
#define MAXVAL 5
static const char *const VNAMES[MAXVAL] = {"delta", "alpha", "charlie", "bravo", "echo"};
static const int BYNAME[MAXVAL] = {1, 3, 2, 0, 4}; /* genesis index of the i-th by name */

/* The results key (docs/keys.md §2): made by the first four validators by
 * name, t = n - f = 3. */
#define KEYN 4
#define KEYT 3
#define MAXKEYTX 16
enum { DKG_HONEST, DKG_ANSWERED, DKG_DISQUALIFIED };
#define BAD_DEALER 1 /* bravo sends delta a wrong share (DKG_ANSWERED, DKG_DISQUALIFIED) */
#define VICTIM 3

/* One transaction as the node would hand it over, owning its bytes. */
typedef struct {
  cx_hash txid;
  uint8_t *raw;
  size_t raw_len;
  uint64_t index, ntx;
  int32_t code;
  uint8_t *header;
  size_t header_len;
  uint8_t *cert;
  size_t cert_len;
  cx_hash tx_path[MERKLE_MAX_DEPTH];
  size_t tx_path_len;
  cx_hash rc_path[MERKLE_MAX_DEPTH];
  size_t rc_path_len;
} piece;

/* What to build differently from the honest fragment. */
typedef struct {
  size_t nsig;              /* result signatures (default 3 = 2t+1) */
  int foreign_signer;       /* the last signature by a key outside the genesis */
  int wrong_statement;      /* parties sign a statement naming another consent */
  int aborted;              /* an ABORTED result */
  const char *grant_insurer;/* default "insurer" */
  int grant_other_did;      /* the grant is for another subject */
  uint64_t grant_height;    /* default 2 (the call is at 3, the result at 5) */
  int32_t call_code;        /* the call's receipt code (default ok) */
  int result_cert_foreign;  /* the result's block is certified by other keys */
  int insurer_not_genesis;  /* the insurer is not a genesis member */
  uint64_t anchor_height;   /* default 4 (between the call and the result) */
  int anchor_by;            /* the anchoring's signer, by name (default 0: alpha, the owner) */
  uint64_t anchor_count;    /* the count it states (default 10, the result's) */
  int anchor_other_root;    /* it anchors another root */
  /* FROST mode */
  int frost;                /* the result in FROST mode, signed by the results key made on chain */
  int dkg;                  /* DKG_HONEST (default), DKG_ANSWERED, DKG_DISQUALIFIED */
  unsigned signers;         /* bitmap over party index (default 0x7: alpha, bravo, charlie) */
  int wrong_shares;         /* signers add the disqualified dealer's share to theirs */
  int frost_sig_flip;       /* a byte of the FROST signature flipped (the tx signed after) */
  int frost_blob_changed;   /* a blob changed after the FROST signature */
  int batch;                /* FROST_BATCH: the result is leaf BATCH_AT of a batch of BATCH_N results */
  int batch_tamper;         /* after the signing: BATCH_PATH_FLIP or BATCH_OTHER_LEAF */
  uint32_t key_epoch;       /* the epoch the result names */
  int five;                 /* a fifth genesis validator (echo); the key is the first four's */
  uint32_t call_parties;    /* the call carries a dealing to this many parties (default none) */
  /* governance (quorum mode: signers, a bitmap over the call's parties, picks the signatures) */
  int gov;                  /* GOV_NONE, GOV_ADD_ECHO, GOV_REMOVE, GOV_REKEY */
  int gov_who;              /* removed / rekeyed validator, by name (default bravo / charlie) */
  int gov_early;            /* every governance transaction in block 1 (before the results key) */
  int gov_in_call_block;    /* the approval that applies the change is in the call's block, before the call */
} opts;

enum { GOV_NONE, GOV_ADD_ECHO, GOV_REMOVE_ONE, GOV_REKEY_ONE };
/* FROST_BATCH (docs/keys.md §8): the result's place in its batch, and how
 * the path is made wrong (a byte of the top hash flipped: another root; the
 * result moved to the last leaf, where a path of 2 does not fit) */
#define BATCH_N 3
#define BATCH_AT 1
enum { BATCH_PATH_FLIP = 1, BATCH_OTHER_LEAF };
#define MAXGOV 6
#define MAXSETS 3

/* A validator set of the fragment's chain: in force from height `from`,
 * its keys in signer order (by name). */
typedef struct {
  uint64_t from;
  size_t n;
  cx_seckey *keys[MAXVAL];
} tset;

typedef struct {
  vm_genesis *g;
  cx_hash chain_id;
  size_t nval;             /* genesis validators: 4, or 5 with opts.five */
  cx_seckey *val[MAXVAL];  /* by name */
  uint8_t enc_pk[MAXVAL][32], enc_sk[MAXVAL][32]; /* their enc keys (X25519) */
  cx_seckey *insurer, *subject;
  cx_hash contract, did;
  piece grant, call, anchor, result;
  cx_hash root; /* the hrss snapshot the result names */
  /* FROST mode: the results key's transactions in chain order, and what the
   * node would list for them (input() fills keyids and keyv from key) */
  size_t nkey;
  piece key[MAXKEYTX];
  cx_hash keyids[MAXKEYTX];
  verify_tx keyv[MAXKEYTX];
  frost_element gpk;       /* the group key every party's dkg_finish gave */
  uint64_t qual;           /* QUAL as dkg_finish gave it, over party index */
  /* governance: the sets in force (sets[0] the genesis's, from 1), the
   * rekeyed key, and the governance transactions in chain order with what
   * the node would list for them (input() fills govids and govv) */
  size_t nsets;
  tset sets[MAXSETS];
  cx_seckey *rekeyed;
  uint8_t rekey_enc_pk[32];
  size_t ngov;
  piece gov[MAXGOV];
  cx_hash govids[MAXGOV];
  verify_tx govv[MAXGOV];
} world;

static world W;

static void sign_encode(cx_tx *tx, const cx_seckey *k, uint8_t **raw, size_t *len) {
  tx->chain_id = W.chain_id;
  ck_assert_int_eq(tx_sign(tx, k), CX_OK);
  ck_assert_int_eq(tx_encode(tx, 1, raw, len), CX_OK);
}

/* Another transaction to share a block with: a fresh subject registering. */
static void filler(uint8_t **raw, size_t *len) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_ID_REGISTER;
  tu_randbytes(tx.u.reg.did.b, 32);
  cx_seckey *k = key_generate();
  ck_assert_ptr_nonnull(k);
  sign_encode(&tx, k, raw, len);
  key_free(k);
  tx_clear(&tx);
}

/* The set in force at height h. */
static const tset *set_at(uint64_t h) {
  size_t k = W.nsets;
  while (k > 1 && W.sets[k - 1].from > h) k--;
  return &W.sets[k - 1];
}

/* A block at height of ntx transactions, txs[targets[k]] being outs[k]'s;
 * with keys = W.val, certified by the set in force at height: the first
 * quorum of the genesis's (3 of 4, 4 of 5 validators), the last quorum of a
 * later one (so that a new member's, or a new key's, vote counts); other
 * keys (a forgery): their first quorum. Fills each out's proof. */
static void build_block_multi(uint64_t height, uint8_t **txs, size_t *lens, const int32_t *codes, size_t ntx,
                              const size_t *targets, size_t ntargets, cx_seckey *const *keys,
                              const cx_hash *chain_id, piece *outs) {
  cx_hash ids[8], leaves[8];
  ck_assert_uint_le(ntx, 8);
  for (size_t i = 0; i < ntx; i++) {
    tx_id_of_bytes(txs[i], lens[i], &ids[i]);
    receipt_leaf(&ids[i], codes[i], &leaves[i]);
  }
  cx_block_header h;
  memset(&h, 0, sizeof h);
  h.chain_id = *chain_id;
  h.height = height;
  tu_randbytes(h.parent.b, 32);
  h.time_ms = 1795000000000ull + height;
  key_public(keys[0], &h.proposer);
  merkle_root(ids, ntx, &h.tx_root);
  merkle_root(leaves, ntx, &h.receipts_root);
  tu_randbytes(h.state_root.b, 32);
  uint8_t *henc, *cenc;
  size_t hlen, clen;
  block_header_encode(&h, &henc, &hlen);
  ck_assert_ptr_nonnull(henc);
  cx_cert c;
  memset(&c, 0, sizeof c);
  c.height = height;
  block_hash(&h, &c.block_hash);
  cx_hash msg;
  vote_message(chain_id, height, 0, &c.block_hash, &msg);
  size_t n = W.nval, first = 0;
  if (keys == W.val) {
    const tset *ts = set_at(height);
    keys = ts->keys;
    n = ts->n;
    if (ts != &W.sets[0]) first = n - quorum_size((unsigned)n);
  }
  for (size_t i = first; i < first + quorum_size((unsigned)n); i++) {
    c.votes[c.nvotes].signer = (uint16_t)i;
    ck_assert_int_eq(key_sign32(keys[i], msg.b, NULL, &c.votes[c.nvotes].sig), CX_OK);
    c.nvotes++;
  }
  ck_assert_int_eq(cert_encode(&c, &cenc, &clen), CX_OK);
  for (size_t k = 0; k < ntargets; k++) {
    piece *out = &outs[k];
    size_t target = targets[k];
    out->header = malloc(hlen);
    out->cert = malloc(clen);
    ck_assert(out->header && out->cert);
    memcpy(out->header, henc, hlen);
    out->header_len = hlen;
    memcpy(out->cert, cenc, clen);
    out->cert_len = clen;
    out->txid = ids[target];
    out->raw = malloc(lens[target]);
    memcpy(out->raw, txs[target], lens[target]);
    out->raw_len = lens[target];
    out->index = target;
    out->ntx = ntx;
    out->code = codes[target];
    out->tx_path_len = merkle_path(ids, ntx, target, out->tx_path);
    out->rc_path_len = merkle_path(leaves, ntx, target, out->rc_path);
  }
  free(henc);
  free(cenc);
}

static void build_block(uint64_t height, uint8_t **txs, size_t *lens, const int32_t *codes, size_t ntx,
                        size_t target, cx_seckey *const *keys, const cx_hash *chain_id, piece *out) {
  build_block_multi(height, txs, lens, codes, ntx, &target, 1, keys, chain_id, out);
}

/* txs[at] = raw, the others fillers; builds the block and frees them. */
static void block_with(uint64_t height, uint8_t *raw, size_t len, size_t at, size_t ntx, int32_t code,
                       cx_seckey *const *keys, const cx_hash *chain_id, piece *out) {
  uint8_t *txs[8];
  size_t lens[8];
  int32_t codes[8];
  for (size_t i = 0; i < ntx; i++) {
    if (i == at) {
      txs[i] = raw;
      lens[i] = len;
      codes[i] = code;
    } else {
      filler(&txs[i], &lens[i]);
      codes[i] = i == 1 ? CX_E_NOT_SUBJECT : CX_OK; /* a rejected neighbour: receipts differ */
    }
  }
  build_block(height, txs, lens, codes, ntx, at, keys, chain_id, out);
  for (size_t i = 0; i < ntx; i++) free(txs[i]);
}

static void add_member(vm_genesis *g, const char *name, int role, const cx_seckey *k, const uint8_t *enc_pk,
                       int validator) {
  cx_member *m = &g->members[g->nmembers++];
  memset(m, 0, sizeof *m);
  snprintf(m->name, sizeof m->name, "%s", name);
  m->role = (uint8_t)role;
  key_public(k, &m->key);
  if (enc_pk)
    memcpy(m->enc_key, enc_pk, 32);
  else
    tu_randbytes(m->enc_key, 32);
  m->validator = (uint8_t)validator;
  if (validator) snprintf(m->address, sizeof m->address, "tcp://127.0.0.1:%d", 26600 + (int)g->nmembers);
}

/* ---- the results key's DKG as transactions (docs/keys.md §3, §4) ---- */

/* Key transactions raw[0..n) in one block at height: the first at index 0,
 * a rejected filler at 1 (receipts differ), the others after it in order;
 * out[k] gets raw[k]'s piece. Frees raw[0..n). */
static void key_block(uint64_t height, uint8_t **raw, size_t *len, size_t n, piece *out) {
  uint8_t *txs[8] = {0};
  size_t lens[8] = {0}, at[8] = {0}, ntx = 0;
  int32_t codes[8] = {0};
  ck_assert_uint_le(n, 7);
  for (size_t k = 0; k < n; k++) {
    at[k] = ntx;
    txs[ntx] = raw[k];
    lens[ntx] = len[k];
    codes[ntx++] = CX_OK;
    if (k == 0) {
      filler(&txs[ntx], &lens[ntx]);
      codes[ntx++] = CX_E_NOT_SUBJECT;
    }
  }
  build_block_multi(height, txs, lens, codes, ntx, at, n, W.val, &W.chain_id, out);
  for (size_t i = 0; i < ntx; i++) free(txs[i]);
}

static void add_one(frost_scalar *s) {
  frost_scalar one = {{1}};
  crypto_core_ristretto255_scalar_add(s->b, s->b, one.b);
}

/* The key's transaction heads: name results, epoch 0. */
static void key_tx(cx_tx *tx, int type) {
  tx_init(tx);
  tx->type = (uint8_t)type;
  switch (type) {
    case TX_KEY_DEAL: strcpy(tx->u.kdeal.name, "results"); break;
    case TX_KEY_VERDICT: strcpy(tx->u.kverdict.name, "results"); break;
    case TX_KEY_ANSWER: strcpy(tx->u.kanswer.name, "results"); break;
    case TX_KEY_ADVANCE: strcpy(tx->u.kadvance.name, "results"); break;
    default: ck_abort_msg("type %d", type);
  }
}

/* The first KEYN validators run the results key's DKG among themselves
 * (dkg.h, one session each, the sessions seeing exactly what the chain
 * shows them) as transactions placed in blocks at heights 2..8:
 *   2: key_create (alpha)   3: deals of alpha, bravo   4: charlie's   5: delta's
 *   6: the four verdicts    7 (DKG_ANSWERED): bravo's answer to delta's
 *   complaint; 7, 8 (DKG_DISQUALIFIED): alpha's and charlie's advance(2)
 *   votes, bravo's complaint unanswered.
 * shares[j] (sodium memory) gets party j's signing share; bad_true[j] the
 * true f_bravo(j + 1) (for wrong_shares). */
static void make_key(int mode, frost_scalar *shares, frost_scalar *bad_true) {
  cx_pubkey parties[KEYN];
  uint8_t ctx[32], r1[KEYN][DKG_ROUND1_MAX_LEN];
  size_t r1len[KEYN];
  static uint8_t sealed[KEYN][KEYN][CX_KEY_SEALED_LEN];
  uint8_t *raw[MAXKEYTX];
  size_t len[MAXKEYTX], nk = 0;
  dkg *p[KEYN];
  cx_tx tx;
  for (size_t i = 0; i < KEYN; i++) key_public(W.val[i], &parties[i]);
  tx_key_context(&W.chain_id, "results", 0, KEYT, parties, KEYN, ctx);
  for (uint16_t i = 0; i < KEYN; i++) {
    uint8_t seed[32];
    tu_randbytes(seed, sizeof seed);
    ck_assert_int_eq(dkg_new(KEYN, KEYT, (uint16_t)(i + 1), ctx, seed, &p[i], NULL, 0), CX_OK);
  }

  tx_init(&tx);
  tx.type = TX_KEY_CREATE;
  strcpy(tx.u.kcreate.name, "results");
  tx.u.kcreate.purpose = CX_KEY_PURPOSE_RESULTS;
  tx.u.kcreate.t = KEYT;
  sign_encode(&tx, W.val[0], &raw[nk], &len[nk]);
  nk++;
  tx_clear(&tx);

  /* deals: round one and the shares sealed to each other party's enc key */
  dkg_share *sh = sodium_allocarray(KEYN, sizeof *sh);
  ck_assert_ptr_nonnull(sh);
  for (size_t i = 0; i < KEYN; i++) {
    dkg_round1_msg m;
    ck_assert_int_eq(dkg_round1(p[i], &m), CX_OK);
    r1len[i] = dkg_round1_encode(&m, r1[i]);
    ck_assert_int_eq(dkg_round2(p[i], sh, NULL, 0), CX_OK);
    key_tx(&tx, TX_KEY_DEAL);
    ck_assert_int_eq(tx_key_deal_set(&tx, r1[i], r1len[i], KEYN), CX_OK);
    for (size_t j = 0; j < KEYN; j++) {
      if (j == i) continue;
      if (i == BAD_DEALER) bad_true[j] = sh[j].value;
      if (mode != DKG_HONEST && i == BAD_DEALER && j == VICTIM) add_one(&sh[j].value);
      uint8_t plain[DKG_SHARE_LEN];
      ck_assert_uint_eq(dkg_share_encode(&sh[j], plain), DKG_SHARE_LEN);
      ck_assert_int_eq(crypto_box_seal(sealed[i][j], plain, sizeof plain, W.enc_pk[j]), 0);
      sodium_memzero(plain, sizeof plain);
      ck_assert_int_eq(tx_key_deal_set_slot(&tx, (uint32_t)j, sealed[i][j]), CX_OK);
    }
    sign_encode(&tx, W.val[i], &raw[nk], &len[nk]);
    nk++;
    tx_clear(&tx);
  }
  sodium_free(sh);

  /* verdicts: each party opens its sealed shares and complains about a bad one */
  dkg_complaint compl[KEYN];
  size_t ncompl = 0;
  for (size_t j = 0; j < KEYN; j++) {
    key_tx(&tx, TX_KEY_VERDICT);
    for (size_t i = 0; i < KEYN; i++) {
      if (i == j) continue;
      dkg_round1_msg m;
      ck_assert_int_eq(dkg_round1_decode(r1[i], r1len[i], &m, NULL, 0), CX_OK);
      ck_assert_int_eq(dkg_recv_round1(p[j], &m, NULL, 0), CX_OK);
      uint8_t plain[DKG_SHARE_LEN];
      ck_assert_int_eq(crypto_box_seal_open(plain, sealed[i][j], CX_KEY_SEALED_LEN, W.enc_pk[j], W.enc_sk[j]), 0);
      dkg_share s;
      ck_assert_int_eq(dkg_share_decode(plain, sizeof plain, &s, NULL, 0), CX_OK);
      sodium_memzero(plain, sizeof plain);
      int complained = 0;
      cx_err e = dkg_recv_share(p[j], &s, &compl[ncompl], &complained, NULL, 0);
      sodium_memzero(&s, sizeof s);
      ck_assert_int_eq(complained, mode != DKG_HONEST && i == BAD_DEALER && j == VICTIM);
      if (!complained) {
        ck_assert_int_eq(e, CX_OK);
        continue;
      }
      uint32_t x = tx.u.kverdict.k++;
      tx.u.kverdict.complaint_len[x] = (uint8_t)dkg_complaint_encode(&compl[ncompl], tx.u.kverdict.complaint[x]);
      ncompl++;
    }
    sign_encode(&tx, W.val[j], &raw[nk], &len[nk]);
    nk++;
    tx_clear(&tx);
  }
  /* the complaints are on chain: every session records them */
  for (size_t c = 0; c < ncompl; c++)
    for (size_t q = 0; q < KEYN; q++) ck_assert_int_eq(dkg_recv_complaint(p[q], &compl[c], NULL, 0), CX_OK);
  if (mode == DKG_ANSWERED) {
    dkg_answer a;
    ck_assert_int_eq(dkg_answer_make(p[BAD_DEALER], &compl[0], &a, NULL, 0), CX_OK);
    key_tx(&tx, TX_KEY_ANSWER);
    ck_assert_uint_eq(dkg_answer_encode(&a, tx.u.kanswer.answer), DKG_ANSWER_LEN);
    sign_encode(&tx, W.val[BAD_DEALER], &raw[nk], &len[nk]);
    nk++;
    tx_clear(&tx);
    for (size_t q = 0; q < KEYN; q++) ck_assert_int_eq(dkg_recv_answer(p[q], &a, NULL, 0), CX_OK);
  } else if (mode == DKG_DISQUALIFIED) {
    for (size_t v = 0; v < 2; v++) { /* f + 1 votes: alpha, charlie */
      key_tx(&tx, TX_KEY_ADVANCE);
      tx.u.kadvance.phase = CX_KEY_PHASE_VERIFYING;
      sign_encode(&tx, W.val[v * 2], &raw[nk], &len[nk]);
      nk++;
      tx_clear(&tx);
    }
  }

  /* every party finishes alike */
  dkg_result *res = malloc(sizeof *res);
  ck_assert_ptr_nonnull(res);
  for (size_t j = 0; j < KEYN; j++) {
    char err[200] = "";
    ck_assert_msg(dkg_finish(p[j], res, &shares[j], err, sizeof err) == CX_OK, "party %zu: %s", j, err);
    if (j == 0) {
      W.gpk = res->group_pk;
      W.qual = 0;
      for (size_t q = 0; q < res->nqual; q++) W.qual |= 1ull << (res->qual[q] - 1);
    }
    ck_assert_mem_eq(res->group_pk.b, W.gpk.b, 32);
    frost_element y;
    ck_assert_int_eq(frost_public_share(&shares[j], &y), CX_OK);
    ck_assert_mem_eq(y.b, res->pk_shares[j].b, 32);
  }
  free(res);
  ck_assert_uint_eq(W.qual, mode == DKG_DISQUALIFIED ? 0xfu & ~(1u << BAD_DEALER) : 0xfu);
  for (size_t i = 0; i < KEYN; i++) dkg_free(p[i]);
  sodium_memzero(sealed, sizeof sealed);

  /* into blocks: [create] [deal 0, deal 1] [deal 2] [deal 3] [verdicts] [each other] */
  static const size_t group[] = {1, 2, 1, 1, KEYN};
  size_t at = 0, g = 0;
  for (; at < nk; g++) {
    size_t cnt = g < sizeof group / sizeof group[0] ? group[g] : 1;
    key_block(2 + g, raw + at, len + at, cnt, W.key + at);
    at += cnt;
  }
  ck_assert_uint_le(2 + g, 10); /* before the grant at 12 */
  W.nkey = nk;
}

/* The signers (a bitmap over party index, by name) sign msg (len bytes: 64
 * for a result, 32 for a batch's root) with their shares (frost.h, two
 * rounds): the result's one signature. */
static void frost_sign_by(unsigned signers, const frost_scalar *shares, const uint8_t *msg, size_t len,
                          cx_sig *out) {
  frost_commitment com[KEYN];
  frost_scalar z[KEYN];
  frost_nonces *non = sodium_allocarray(KEYN, sizeof *non);
  uint16_t ids[KEYN];
  size_t ns = 0;
  ck_assert_ptr_nonnull(non);
  for (uint16_t j = 0; j < KEYN; j++)
    if (signers >> j & 1) ids[ns++] = (uint16_t)(j + 1);
  ck_assert_uint_eq(ns, KEYT);
  for (size_t s = 0; s < ns; s++)
    ck_assert_int_eq(frost_commit(ids[s], &shares[ids[s] - 1], NULL, NULL, &non[s], &com[s]), CX_OK);
  for (size_t s = 0; s < ns; s++)
    ck_assert_int_eq(frost_sign(ids[s], &shares[ids[s] - 1], &W.gpk, &non[s], msg, len, com, ns, &z[s], NULL, 0),
                     CX_OK);
  frost_sig sig;
  ck_assert_int_eq(frost_aggregate(com, ns, msg, len, &W.gpk, z, &sig, NULL, 0), CX_OK);
  memcpy(out->b, sig.b, 64);
  sodium_free(non);
}

/* FROST_BATCH: r becomes leaf BATCH_AT of a batch of BATCH_N results (the
 * others' leaves random: other calls' results), with its path; msg, its
 * frost message, becomes the batch message of the root, what the key signs. */
static void batch_place(cx_tx_call_result *r, uint8_t msg[64]) {
  cx_hash leaves[BATCH_N], root, path[MERKLE_MAX_DEPTH];
  for (size_t i = 0; i < BATCH_N; i++) tu_randbytes(leaves[i].b, 32);
  tx_result_batch_leaf(msg, &leaves[BATCH_AT]);
  merkle_root(leaves, BATCH_N, &root);
  size_t np = merkle_path(leaves, BATCH_N, BATCH_AT, path);
  ck_assert_uint_eq(np, 2);
  r->proof = CX_RESULT_PROOF_FROST_BATCH;
  r->batch_n = BATCH_N;
  r->batch_idx = BATCH_AT;
  r->batch_npath = (uint8_t)np;
  memcpy(r->batch_path, path, np * sizeof *path);
  tx_result_batch_msg(&root, BATCH_N, msg);
}

/* ---- governance: the validator set changed on chain (docs/calls.md §7) ---- */

static const char *const BYNAME_NAMES[MAXVAL] = {"alpha", "bravo", "charlie", "delta", "echo"};

/* The set after the change o->gov of the genesis's set, in force from
 * height `from`. */
static void gov_next_set(const opts *o, int who, uint64_t from) {
  const tset *old = &W.sets[W.nsets - 1];
  tset *ts = &W.sets[W.nsets];
  ck_assert_uint_lt(W.nsets, MAXSETS);
  memset(ts, 0, sizeof *ts);
  ts->from = from;
  for (size_t i = 0; i < old->n; i++) {
    if (o->gov == GOV_REMOVE_ONE && (int)i == who) continue;
    ts->keys[ts->n++] = o->gov == GOV_REKEY_ONE && (int)i == who ? W.rekeyed : old->keys[i];
  }
  if (o->gov == GOV_ADD_ECHO) ts->keys[ts->n++] = W.val[4]; /* echo: last by name */
  W.nsets++;
}

/* The change as transactions: alpha proposes it (bravo when alpha is the
 * one removed or rekeyed), then the others approve it, in name order and
 * skipping the member concerned, until the governance quorum ceil(2n/3) of
 * the n validators is reached: the last approval applies it. With
 * o->gov_early all are in block 1 (the first at index 0, a rejected
 * filler at 1, the others after it), else one a block from height `at`,
 * at index 0 or 1; with last_raw the last one is not placed but handed
 * back (the caller puts it in the call's block, at height last_h). */
static void make_gov(const opts *o, uint64_t at, uint8_t **last_raw, size_t *last_len, uint64_t last_h) {
  size_t n = W.sets[0].n, q = (2 * n + 2) / 3, k = 0;
  int who = o->gov_who ? o->gov_who : o->gov == GOV_REMOVE_ONE ? 1 : 2;
  int proposer = who == 0 && o->gov != GOV_ADD_ECHO ? 1 : 0;
  uint8_t *raw[MAXGOV];
  size_t len[MAXGOV];
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_MEMBER_PROPOSE;
  tx.u.propose.expires = 1000;
  cx_member *m = &tx.u.propose.member;
  if (o->gov == GOV_ADD_ECHO) {
    tx.u.propose.action = GOV_ADD;
    strcpy(m->name, "echo");
    m->role = ROLE_BUREAU;
    key_public(W.val[4], &m->key);
    memcpy(m->enc_key, W.enc_pk[4], 32);
    m->validator = 1;
    strcpy(m->address, "tcp://127.0.0.1:26699");
  } else {
    tx.u.propose.action = o->gov == GOV_REMOVE_ONE ? GOV_REMOVE : GOV_REKEY;
    strcpy(m->name, BYNAME_NAMES[who]);
    if (o->gov == GOV_REKEY_ONE) {
      uint8_t sk[32];
      ck_assert_ptr_nonnull(W.rekeyed = key_generate());
      key_public(W.rekeyed, &m->key);
      crypto_box_keypair(W.rekey_enc_pk, sk);
      sodium_memzero(sk, sizeof sk);
      memcpy(m->enc_key, W.rekey_enc_pk, 32);
    }
  }
  sign_encode(&tx, W.val[proposer], &raw[k], &len[k]);
  k++;
  tx_clear(&tx);
  cx_hash pid;
  tx_id_of_bytes(raw[0], len[0], &pid);
  for (size_t v = 0; v < n && k < q; v++) {
    if ((int)v == proposer || (o->gov != GOV_ADD_ECHO && (int)v == who)) continue;
    tx_init(&tx);
    tx.type = TX_MEMBER_APPROVE;
    tx.u.approve.proposal = pid;
    sign_encode(&tx, W.val[v], &raw[k], &len[k]);
    k++;
    tx_clear(&tx);
  }
  ck_assert_uint_eq(k, q);
  size_t placed = last_raw ? k - 1 : k;
  if (o->gov_early) {
    key_block(1, raw, len, placed, W.gov);
  } else {
    for (size_t i = 0; i < placed; i++)
      block_with(at + i, raw[i], len[i], i % 2, 2, CX_OK, W.val, &W.chain_id, &W.gov[i]); /* frees raw[i] */
  }
  if (last_raw) {
    *last_raw = raw[k - 1];
    *last_len = len[k - 1];
  }
  W.ngov = k;
  gov_next_set(o, who, last_raw ? last_h + 1 : o->gov_early ? 2 : at + k);
}

static void build(const opts *o) {
  memset(&W, 0, sizeof W);
  W.nval = o->five ? 5 : 4;
  W.g = calloc(1, sizeof *W.g);
  ck_assert_ptr_nonnull(W.g);
  strcpy(W.g->chain_name, "verifytest");
  W.g->time_ms = 1795000000000ull;
  W.g->block_max_txs = 100;
  for (size_t i = 0; i < MAXVAL; i++) { /* echo's too: it may join by governance */
    ck_assert_ptr_nonnull(W.val[i] = key_generate());
    crypto_box_keypair(W.enc_pk[i], W.enc_sk[i]);
  }
  ck_assert_ptr_nonnull(W.insurer = key_generate());
  ck_assert_ptr_nonnull(W.subject = key_generate());
  for (int gi = 0; gi < (int)W.nval; gi++) {
    int byname = 0;
    while (BYNAME[byname] != gi) byname++;
    add_member(W.g, VNAMES[gi], ROLE_BUREAU, W.val[byname], W.enc_pk[byname], 1);
    if (byname == 0) ck_assert_int_eq(domain_set_add(&W.g->members[gi].domains, "hrss"), CX_OK);
  }
  if (!o->insurer_not_genesis) add_member(W.g, "insurer", ROLE_INSURER, W.insurer, NULL, 0);
  char err[256] = "";
  ck_assert_msg(vm_genesis_validate(W.g, err, sizeof err) == CX_OK, "genesis: %s", err);
  vm_genesis_hash(W.g, &W.chain_id);
  tu_randbytes(W.contract.b, 32);
  tu_randbytes(W.did.b, 32);
  W.nsets = 1;
  W.sets[0].from = 1;
  W.sets[0].n = W.nval;
  for (size_t i = 0; i < W.nval; i++) W.sets[0].keys[i] = W.val[i];

  /* governance before the key (gov_early): in block 1 */
  if (o->gov && o->gov_early) make_gov(o, 1, NULL, NULL, 0);

  /* FROST mode: the key is made first (heights 2..8), the call's blocks
   * follow from height 12 */
  frost_scalar *shares = NULL, *bad_true = NULL;
  uint64_t base = 0;
  if (o->frost) {
    shares = sodium_allocarray(KEYN, sizeof *shares);
    bad_true = sodium_allocarray(KEYN, sizeof *bad_true);
    ck_assert(shares && bad_true);
    make_key(o->dkg, shares, bad_true);
    base = 10;
  }
  /* governance after it: one transaction a block from base + 1, the call's
   * blocks 10 heights later; or (gov_in_call_block) from base + 10, the
   * last in the call's block (base + 13) */
  uint8_t *last_gov = NULL;
  size_t last_gov_len = 0;
  if (o->gov && !o->gov_early) {
    if (o->gov_in_call_block)
      make_gov(o, base + 10, &last_gov, &last_gov_len, base + 13);
    else
      make_gov(o, base + 1, NULL, NULL, 0);
    base += 10;
  }

  /* the consent grant, signed by the subject */
  cx_tx tx;
  uint8_t *raw;
  size_t len;
  tx_init(&tx);
  tx.type = TX_CONSENT_GRANT;
  cx_tx_consent_grant *gr = &tx.u.grant;
  gr->did = W.did;
  if (o->grant_other_did) tu_randbytes(gr->did.b, 32);
  snprintf(gr->insurer, sizeof gr->insurer, "%s", o->grant_insurer ? o->grant_insurer : "insurer");
  ck_assert_int_eq(domain_set_add(&gr->domains, "hrss"), CX_OK);
  gr->contract = W.contract;
  strcpy(gr->purpose, "underwriting");
  gr->expires = 1000;
  gr->quota = 3;
  sign_encode(&tx, W.subject, &raw, &len);
  tx_clear(&tx);
  uint64_t gh = o->grant_height ? o->grant_height : base + 2;
  block_with(gh, raw, len, 1, 2, CX_OK, W.val, &W.chain_id, &W.grant);

  /* the call, signed by the insurer (no params: no dealing) */
  tx_init(&tx);
  tx.type = TX_CALL;
  tx.u.call.contract = W.contract;
  tx.u.call.did = W.did;
  tx.u.call.consent = W.grant.txid;
  if (o->call_parties) { /* one private parameter dealt to call_parties parties */
    size_t bl = tx_call_blob_len(1);
    uint8_t *blobs = calloc(o->call_parties, bl);
    cx_hash cm[MAXVAL + 1];
    ck_assert(blobs && o->call_parties <= MAXVAL + 1);
    tu_randbytes(blobs, o->call_parties * bl);
    tu_randbytes(cm, sizeof cm);
    ck_assert_int_eq(tx_call_set_dealing(&tx, o->call_parties, 1, blobs, bl, cm), CX_OK);
    free(blobs);
  }
  sign_encode(&tx, W.insurer, &raw, &len);
  tx_clear(&tx);
  if (last_gov) { /* [the applying approval, the call, a filler] */
    uint8_t *txs[3] = {last_gov, raw, NULL};
    size_t lens[3] = {last_gov_len, len, 0}, at[2] = {0, 1};
    int32_t codes[3] = {CX_OK, o->call_code, CX_OK};
    piece *outs = calloc(2, sizeof *outs);
    ck_assert_ptr_nonnull(outs);
    filler(&txs[2], &lens[2]);
    build_block_multi(base + 3, txs, lens, codes, 3, at, 2, W.val, &W.chain_id, outs);
    W.gov[W.ngov - 1] = outs[0];
    W.call = outs[1];
    free(outs);
    for (size_t i = 0; i < 3; i++) free(txs[i]);
  } else {
    block_with(base + 3, raw, len, 0, 3, o->call_code, W.val, &W.chain_id, &W.call);
  }

  /* the owner of hrss anchors the snapshot the result will name */
  tu_randbytes(W.root.b, 32);
  tx_init(&tx);
  tx.type = TX_VAULT_ANCHOR;
  strcpy(tx.u.anchor.domain, "hrss");
  tx.u.anchor.root = W.root;
  if (o->anchor_other_root) tu_randbytes(tx.u.anchor.root.b, 32);
  tx.u.anchor.count = o->anchor_count ? o->anchor_count : 10;
  sign_encode(&tx, W.val[o->anchor_by], &raw, &len);
  tx_clear(&tx);
  block_with(o->anchor_height ? o->anchor_height : base + 4, raw, len, 1, 3, CX_OK, W.val, &W.chain_id, &W.anchor);

  /* the result, submitted by alpha, signed by the first nsig parties (quorum
   * mode) or by the results key (FROST mode: then the first nsig parties'
   * blobs, three by default, none when aborted) */
  tx_init(&tx);
  tx.type = TX_CALL_RESULT;
  cx_tx_call_result *r = &tx.u.result;
  r->call = W.call.txid;
  size_t nsig = o->nsig ? o->nsig : o->frost && o->aborted ? 0 : 3;
  /* quorum mode: the call's parties are the set in force at its block;
   * signers (a bitmap over them) picks who signs, else the first nsig */
  const tset *ps = o->gov_in_call_block ? &W.sets[W.nsets - 1] : set_at(base + 3);
  uint8_t pidx[MAXVAL];
  for (size_t i = 0; i < MAXVAL; i++) pidx[i] = (uint8_t)i;
  if (!o->frost && o->signers) {
    nsig = 0;
    for (uint8_t j = 0; j < ps->n; j++)
      if (o->signers >> j & 1) pidx[nsig++] = j;
  }
  if (o->aborted) {
    r->status = CX_CALL_ABORTED;
    r->code = CX_E_MPC_TIMEOUT;
    strcpy(r->reason, "hrss did not answer");
    ck_assert_int_eq(tx_result_alloc(&tx, 0, nsig), CX_OK);
  } else {
    r->status = CX_CALL_DONE;
    r->nin = 1;
    strcpy(r->in[0].domain, "hrss");
    r->in[0].root = W.root;
    r->in[0].count = 10;
    tu_randbytes(r->in[0].leaf.b, 32);
    ck_assert_int_eq(tx_result_alloc(&tx, 2, nsig), CX_OK);
    r->out[0].value = 42;
    r->out[1].priv = 1;
    r->out[1].masked[0] = 5; /* canonical: 5 */
    tu_randbytes(r->transcript.b, 32);
  }
  cx_hash st, msg, consent = W.grant.txid;
  if (o->wrong_statement) tu_randbytes(consent.b, 32);
  tx_result_statement(&W.chain_id, r, &W.contract, &consent, &W.did, &st);
  for (size_t i = 0; i < nsig && o->frost; i++) {
    uint8_t blob[64];
    tu_randbytes(blob, sizeof blob);
    r->sigs[i].party = (uint8_t)i;
    ck_assert_int_eq(tx_result_set_blob(&tx, i, blob, sizeof blob), CX_OK);
  }
  if (o->frost) {
    uint8_t fm[64];
    r->proof = CX_RESULT_PROOF_FROST;
    r->key_epoch = o->key_epoch;
    tx_result_frost_msg(&st, r, fm);
    if (o->batch) batch_place(r, fm);
    if (o->wrong_shares) /* as if bravo's deal counted: a key of all four dealers */
      for (size_t j = 0; j < KEYN; j++)
        if (j != BAD_DEALER)
          crypto_core_ristretto255_scalar_add(shares[j].b, shares[j].b, bad_true[j].b);
    frost_sign_by(o->signers ? o->signers : 0x7, shares, fm, o->batch ? 32 : 64, &r->frost);
    if (o->frost_sig_flip) r->frost.b[40] ^= 1;
    if (o->frost_blob_changed) r->sigs[1].blob[7] ^= 1;
    if (o->batch_tamper == BATCH_PATH_FLIP) r->batch_path[1].b[9] ^= 1;
    if (o->batch_tamper == BATCH_OTHER_LEAF) r->batch_idx = BATCH_N - 1;
    sodium_free(shares);
    sodium_free(bad_true);
  }
  for (size_t i = 0; i < nsig && !o->frost; i++) {
    uint8_t blob[64];
    tu_randbytes(blob, sizeof blob);
    r->sigs[i].party = pidx[i];
    if (!o->aborted) ck_assert_int_eq(tx_result_set_blob(&tx, i, blob, sizeof blob), CX_OK);
    tx_result_sig_msg(&st, r->sigs[i].blob, r->sigs[i].blob_len, &msg);
    cx_seckey *k = ps->keys[pidx[i]], *foreign = NULL;
    if (o->foreign_signer && i == nsig - 1) k = foreign = key_generate();
    ck_assert_int_eq(key_sign32(k, msg.b, NULL, &r->sigs[i].sig), CX_OK);
    key_free(foreign);
  }
  sign_encode(&tx, W.val[0], &raw, &len);
  tx_clear(&tx);
  cx_seckey *other[MAXVAL] = {NULL};
  if (o->result_cert_foreign)
    for (size_t i = 0; i < W.nval; i++) other[i] = key_generate();
  block_with(base + 5, raw, len, 2, 4, CX_OK, o->result_cert_foreign ? other : W.val, &W.chain_id, &W.result);
  for (size_t i = 0; i < MAXVAL; i++) key_free(other[i]);
}

static void piece_free(piece *p) {
  free(p->raw);
  free(p->header);
  free(p->cert);
}

static void teardown(void) {
  for (int i = 0; i < MAXVAL; i++) key_free(W.val[i]);
  sodium_memzero(W.enc_sk, sizeof W.enc_sk);
  key_free(W.insurer);
  key_free(W.subject);
  piece_free(&W.grant);
  piece_free(&W.call);
  piece_free(&W.result);
  piece_free(&W.anchor);
  for (size_t i = 0; i < W.nkey; i++) piece_free(&W.key[i]);
  for (size_t i = 0; i < W.ngov; i++) piece_free(&W.gov[i]);
  key_free(W.rekeyed);
  free(W.g);
  memset(&W, 0, sizeof W);
}

static verify_tx vtx(const piece *p) {
  verify_tx t = {.raw = p->raw, .raw_len = p->raw_len, .has_proof = 1, .index = p->index, .ntx = p->ntx,
                 .code = p->code, .header = p->header, .header_len = p->header_len, .cert = p->cert,
                 .cert_len = p->cert_len, .tx_path = p->tx_path, .tx_path_len = p->tx_path_len,
                 .receipt_path = p->rc_path, .receipt_path_len = p->rc_path_len};
  return t;
}

static verify_input input(void) {
  verify_input in = {.call_id = W.call.txid, .call = vtx(&W.call), .has_result = 1, .result_id = W.result.txid,
                     .result = vtx(&W.result), .consent = vtx(&W.grant), .nanchors = 1};
  strcpy(in.anchors[0].domain, "hrss");
  in.anchors[0].root = W.root;
  in.anchors[0].has_anchor = 1;
  in.anchors[0].txid = W.anchor.txid;
  in.anchors[0].tx = vtx(&W.anchor);
  for (size_t i = 0; i < W.nkey; i++) {
    W.keyids[i] = W.key[i].txid;
    W.keyv[i] = vtx(&W.key[i]);
  }
  in.nkeytx = W.nkey;
  in.keytx_ids = W.keyids;
  in.keytx = W.keyv;
  for (size_t i = 0; i < W.ngov; i++) {
    W.govids[i] = W.gov[i].txid;
    W.govv[i] = vtx(&W.gov[i]);
  }
  in.ngovtx = W.ngov;
  in.govtx_ids = W.govids;
  in.govtx = W.govv;
  return in;
}

static const char *const ALL[] = {"validators",       "call",    "result",       "call block",
                                  "call inclusion",   "result block", "result inclusion", "mpc",
                                  "consent",          "consent block", "consent inclusion", "snapshot"};
#define NALL (sizeof ALL / sizeof ALL[0])

/* The report: exactly the checks in `failing` fail (each detail containing
 * the matching `why`, when given), every other check passes. */
static void expect(const verify_report *r, const char *const *failing, const char *const *why, size_t nf) {
  ck_assert_uint_eq(r->n, NALL);
  for (size_t i = 0; i < NALL; i++) {
    const verify_check *c = verify_find(r, ALL[i]);
    ck_assert_msg(c != NULL, "no check %s", ALL[i]);
    ck_assert_str_eq(c->name, ALL[i]); /* and in this order */
    ck_assert_str_eq(r->c[i].name, ALL[i]);
    int should_fail = 0;
    const char *w = NULL;
    for (size_t k = 0; k < nf; k++)
      if (strcmp(failing[k], ALL[i]) == 0) {
        should_fail = 1;
        w = why ? why[k] : NULL;
      }
    ck_assert_msg(c->ok == !should_fail, "%s: %s, want %s (%s)", ALL[i], c->ok ? "ok" : "FAIL",
                  should_fail ? "FAIL" : "ok", c->detail);
    ck_assert_msg(c->detail[0], "%s has no detail", ALL[i]);
    if (w) ck_assert_msg(strstr(c->detail, w) != NULL, "%s: \"%s\" lacks \"%s\"", ALL[i], c->detail, w);
  }
  ck_assert_int_eq(r->all_ok, nf == 0);
}

#define EXPECT(r, ...)                                                           \
  do {                                                                           \
    const char *const f_[] = {__VA_ARGS__};                                      \
    expect(r, f_, NULL, sizeof f_ / sizeof f_[0]);                               \
  } while (0)

static verify_report *run(const verify_input *in) {
  static verify_report r;
  verify_result(W.g, in, &r);
  return &r;
}

START_TEST(honest_done) {
  build(&(opts){0});
  verify_input in = input();
  verify_report *r = run(&in);
  expect(r, NULL, NULL, 0);
  ck_assert_int_eq(r->status, CX_CALL_DONE);
  ck_assert_uint_eq(r->nsigners, 3);
  /* parties are the validators by name, whatever the genesis order */
  ck_assert_str_eq(r->signers[0], "alpha");
  ck_assert_str_eq(r->signers[1], "bravo");
  ck_assert_str_eq(r->signers[2], "charlie");
  ck_assert_ptr_nonnull(strstr(verify_find(r, "mpc")->detail, "done"));
  ck_assert_ptr_nonnull(strstr(verify_find(r, "consent")->detail, "insurer"));
  ck_assert_ptr_nonnull(strstr(verify_find(r, "snapshot")->detail, "hrss root "));
  ck_assert_ptr_nonnull(strstr(verify_find(r, "snapshot")->detail, "(10 records) anchored by alpha in block 4"));
  teardown();
}
END_TEST

START_TEST(honest_aborted_all_four) {
  build(&(opts){.aborted = 1, .nsig = 4});
  verify_input in = input();
  verify_report *r = run(&in);
  expect(r, NULL, NULL, 0);
  ck_assert_int_eq(r->status, CX_CALL_ABORTED);
  ck_assert_uint_eq(r->nsigners, 4);
  ck_assert_ptr_nonnull(strstr(verify_find(r, "mpc")->detail, "mpc_timeout"));
  ck_assert_ptr_nonnull(strstr(verify_find(r, "snapshot")->detail, "aborted"));
  teardown();
}
END_TEST

START_TEST(call_bytes_tampered) {
  build(&(opts){0});
  W.call.raw[W.call.raw_len - 70] ^= 1; /* inside the body */
  verify_input in = input();
  expect(run(&in), (const char *const[]){"call", "mpc", "consent", "consent block", "consent inclusion"},
         (const char *const[]){"hash to txid", "needs", "needs", "needs", "needs"}, 5);
  teardown();
}
END_TEST

START_TEST(call_id_other) {
  build(&(opts){0});
  verify_input in = input();
  tu_randbytes(in.call_id.b, 32);
  /* the result names the real call, not this id; the id is in no block */
  EXPECT(run(&in), "call", "result", "call inclusion", "mpc", "consent", "consent block", "consent inclusion",
         "snapshot");
  teardown();
}
END_TEST

START_TEST(result_rewritten_and_resigned) {
  build(&(opts){0});
  cx_tx tx;
  ck_assert_int_eq(tx_decode(W.result.raw, W.result.raw_len, &tx, NULL), CX_OK);
  tx.u.result.out[0].value = 43; /* a better price, signed again by the submitter */
  free(W.result.raw);
  sign_encode(&tx, W.val[0], &W.result.raw, &W.result.raw_len);
  tx_clear(&tx);
  verify_input in = input();
  tx_id_of_bytes(W.result.raw, W.result.raw_len, &in.result_id); /* the node names the forgery */
  expect(run(&in), (const char *const[]){"result inclusion", "mpc"},
         (const char *const[]){"not in the tx_root", "does not verify over the statement"}, 2);
  teardown();
}
END_TEST

START_TEST(result_other_call) {
  build(&(opts){0});
  verify_input in = input();
  /* the node hands over the grant as "the result": wrong type */
  in.result = vtx(&W.grant);
  in.result_id = W.grant.txid;
  expect(run(&in), (const char *const[]){"result", "result inclusion", "mpc", "snapshot"},
         (const char *const[]){"not a call_result", "not committed after", "needs", "needs the result"}, 4);
  teardown();
}
END_TEST

START_TEST(header_tampered) {
  build(&(opts){0});
  cx_block_header h;
  cx_hash bh;
  ck_assert_int_eq(block_peek(W.call.header, W.call.header_len, &h, &bh), CX_OK);
  h.time_ms++;
  free(W.call.header);
  block_header_encode(&h, &W.call.header, &W.call.header_len);
  verify_input in = input();
  expect(run(&in), (const char *const[]){"call block"}, (const char *const[]){"the certificate is for block"}, 1);
  teardown();
}
END_TEST

START_TEST(header_trailing_bytes) {
  build(&(opts){0});
  W.call.header = realloc(W.call.header, W.call.header_len + 1);
  W.call.header[W.call.header_len++] = 0;
  verify_input in = input();
  expect(run(&in), (const char *const[]){"call block", "call inclusion"},
         (const char *const[]){"not canonical", "no block header"}, 2);
  teardown();
}
END_TEST

START_TEST(cert_sig_flipped) {
  build(&(opts){0});
  W.result.cert[W.result.cert_len - 1] ^= 1; /* last vote's signature */
  verify_input in = input();
  expect(run(&in), (const char *const[]){"result block"},
         (const char *const[]){"block 5: the certificate does not verify against the 4 genesis validators"}, 1);
  teardown();
}
END_TEST

START_TEST(cert_other_validators) {
  build(&(opts){.result_cert_foreign = 1});
  verify_input in = input();
  expect(run(&in), (const char *const[]){"result block"},
         (const char *const[]){"does not verify against the 4 genesis validators (0 governance transactions"}, 1);
  teardown();
}
END_TEST

START_TEST(cert_missing) {
  build(&(opts){0});
  verify_input in = input();
  in.call.cert = NULL;
  in.call.cert_len = 0;
  expect(run(&in), (const char *const[]){"call block"}, (const char *const[]){"does not decode"}, 1);
  teardown();
}
END_TEST

START_TEST(other_genesis) {
  build(&(opts){0});
  verify_input in = input();
  strcpy(W.g->chain_name, "otherchain"); /* same keys, another chain id */
  verify_report *r = run(&in);
  EXPECT(r, "call", "result", "call block", "result block", "mpc", "consent", "consent block", "consent inclusion",
         "snapshot");
  ck_assert_ptr_nonnull(strstr(verify_find(r, "call")->detail, "signed for chain"));
  ck_assert_ptr_nonnull(strstr(verify_find(r, "call block")->detail, "the genesis is chain"));
  teardown();
}
END_TEST

START_TEST(tx_path_tampered) {
  build(&(opts){0});
  W.call.tx_path[0].b[0] ^= 1;
  verify_input in = input();
  expect(run(&in), (const char *const[]){"call inclusion"}, (const char *const[]){"not in the tx_root"}, 1);
  teardown();
}
END_TEST

START_TEST(index_lies) {
  build(&(opts){0});
  verify_input in = input();
  in.result.index = 0; /* the path is for index 2 */
  expect(run(&in), (const char *const[]){"result inclusion"}, NULL, 1);
  in = input();
  in.result.ntx = 0;
  expect(run(&in), (const char *const[]){"result inclusion"}, (const char *const[]){"not a place"}, 1);
  teardown();
}
END_TEST

START_TEST(receipt_rejected) {
  build(&(opts){.call_code = CX_E_CONSENT_UNKNOWN});
  verify_input in = input();
  expect(run(&in), (const char *const[]){"call inclusion"}, (const char *const[]){"rejected the transaction"}, 1);
  /* a node claiming ok for it proves nothing either */
  in.call.code = CX_OK;
  expect(run(&in), (const char *const[]){"call inclusion"}, (const char *const[]){"no ok receipt"}, 1);
  teardown();
}
END_TEST

START_TEST(receipt_path_tampered) {
  build(&(opts){0});
  W.grant.rc_path[0].b[31] ^= 0x80;
  verify_input in = input();
  expect(run(&in), (const char *const[]){"consent inclusion"}, (const char *const[]){"no ok receipt"}, 1);
  teardown();
}
END_TEST

START_TEST(mpc_no_quorum) {
  build(&(opts){.nsig = 2});
  verify_input in = input();
  expect(run(&in), (const char *const[]){"mpc"}, (const char *const[]){"2t+1 = 3"}, 1);
  teardown();
}
END_TEST

START_TEST(mpc_foreign_signer) {
  build(&(opts){.nsig = 4, .foreign_signer = 1});
  verify_input in = input();
  expect(run(&in), (const char *const[]){"mpc"}, (const char *const[]){"party 3 (delta) does not verify"}, 1);
  teardown();
}
END_TEST

START_TEST(mpc_wrong_statement) {
  build(&(opts){.wrong_statement = 1});
  verify_input in = input();
  expect(run(&in), (const char *const[]){"mpc"}, (const char *const[]){"party 0 (alpha)"}, 1);
  teardown();
}
END_TEST

START_TEST(consent_other_insurer) {
  build(&(opts){.grant_insurer = "insurer2"});
  verify_input in = input();
  expect(run(&in), (const char *const[]){"consent"}, (const char *const[]){"names insurer insurer2"}, 1);
  teardown();
}
END_TEST

START_TEST(consent_other_subject) {
  build(&(opts){.grant_other_did = 1});
  verify_input in = input();
  expect(run(&in), (const char *const[]){"consent"}, (const char *const[]){"the grant is for subject"}, 1);
  teardown();
}
END_TEST

START_TEST(consent_after_call) {
  build(&(opts){.grant_height = 4});
  verify_input in = input();
  expect(run(&in), (const char *const[]){"consent inclusion"}, (const char *const[]){"not committed before"}, 1);
  teardown();
}
END_TEST

START_TEST(consent_missing) {
  build(&(opts){0});
  verify_input in = input();
  in.consent.raw = NULL;
  in.consent.why = "tx_get: not found";
  in.consent.has_proof = 0;
  in.consent.proof_why = "tx_proof: not found";
  expect(run(&in), (const char *const[]){"consent", "consent block", "consent inclusion"},
         (const char *const[]){"tx_get: not found", "tx_proof: not found", "tx_proof: not found"}, 3);
  teardown();
}
END_TEST

START_TEST(insurer_not_in_genesis) {
  build(&(opts){.insurer_not_genesis = 1});
  verify_input in = input();
  expect(run(&in), (const char *const[]){"consent"}, (const char *const[]){"not verifiable from genesis alone"}, 1);
  teardown();
}
END_TEST

START_TEST(pending_call) {
  build(&(opts){0});
  verify_input in = input();
  in.has_result = 0;
  in.result.raw = NULL;
  in.result.why = "the call is pending: no result yet";
  verify_report *r = run(&in);
  expect(r, (const char *const[]){"result", "result block", "result inclusion", "mpc", "snapshot"},
         (const char *const[]){"pending", "no result", "no result", "needs", "needs the result"}, 5);
  ck_assert_int_eq(r->status, 0);
  teardown();
}
END_TEST

/* ---- the snapshot check (docs/vault.md "Anchoring") ---- */

START_TEST(snapshot_not_anchored) {
  build(&(opts){0});
  verify_input in = input();
  in.anchors[0].has_anchor = 0; /* anchor_get: not_found */
  char want[128];
  snprintf(want, sizeof want, "domain hrss root %02x", W.root.b[0]);
  verify_report *r = run(&in);
  expect(r, (const char *const[]){"snapshot"}, (const char *const[]){"is not anchored on chain"}, 1);
  ck_assert_ptr_nonnull(strstr(verify_find(r, "snapshot")->detail, want));
  /* the node says nothing at all about it: the same */
  in.nanchors = 0;
  expect(run(&in), (const char *const[]){"snapshot"}, (const char *const[]){"is not anchored on chain"}, 1);
  /* the node's lookup failed: its answer is the reason */
  in = input();
  in.anchors[0].has_anchor = 0;
  in.anchors[0].why = "anchor_get: method not found (method_not_found)";
  expect(run(&in), (const char *const[]){"snapshot"}, (const char *const[]){"method_not_found"}, 1);
  teardown();
}
END_TEST

START_TEST(snapshot_other_anchorer) {
  build(&(opts){.anchor_by = 3}); /* delta, a bureau without the domain */
  verify_input in = input();
  expect(run(&in), (const char *const[]){"snapshot"},
         (const char *const[]){"anchored by delta, the domain's owner in the genesis is alpha"}, 1);
  teardown();
}
END_TEST

START_TEST(snapshot_after_result) {
  build(&(opts){.anchor_height = 6});
  verify_input in = input();
  expect(run(&in), (const char *const[]){"snapshot"}, (const char *const[]){"anchored in block 6, not before"}, 1);
  teardown();
}
END_TEST

START_TEST(snapshot_count_differs) {
  build(&(opts){.anchor_count = 11});
  verify_input in = input();
  expect(run(&in), (const char *const[]){"snapshot"}, (const char *const[]){"anchored with 11 records"}, 1);
  teardown();
}
END_TEST

START_TEST(snapshot_other_root) {
  /* the node names an anchoring of another root as this one's */
  build(&(opts){.anchor_other_root = 1});
  verify_input in = input();
  expect(run(&in), (const char *const[]){"snapshot"}, (const char *const[]){"not root"}, 1);
  teardown();
}
END_TEST

START_TEST(snapshot_anchor_tampered) {
  build(&(opts){0});
  W.anchor.raw[W.anchor.raw_len - 70] ^= 1; /* the count or the root */
  verify_input in = input();
  expect(run(&in), (const char *const[]){"snapshot"}, (const char *const[]){"hash to txid"}, 1);
  teardown();
  build(&(opts){0});
  W.anchor.cert[W.anchor.cert_len - 1] ^= 1;
  in = input();
  expect(run(&in), (const char *const[]){"snapshot"}, (const char *const[]){"the anchoring's block"}, 1);
  in = input();
  W.anchor.cert[W.anchor.cert_len - 1] ^= 1;
  W.anchor.tx_path[0].b[0] ^= 1;
  expect(run(&in), (const char *const[]){"snapshot"}, (const char *const[]){"the anchoring's inclusion"}, 1);
  W.anchor.tx_path[0].b[0] ^= 1;
  in = input();
  in.anchors[0].tx.has_proof = 0;
  in.anchors[0].tx.proof_why = "tx_proof: not found";
  expect(run(&in), (const char *const[]){"snapshot"}, (const char *const[]){"tx_proof: not found"}, 1);
  /* the node hands over the call as the anchoring */
  in = input();
  in.anchors[0].txid = W.call.txid;
  in.anchors[0].tx = vtx(&W.call);
  expect(run(&in), (const char *const[]){"snapshot"}, (const char *const[]){"not a vault_anchor"}, 1);
  teardown();
}
END_TEST

START_TEST(tx_proof_alone) {
  build(&(opts){0});
  verify_tx t = vtx(&W.grant);
  verify_check b, i;
  uint64_t h = 0;
  verify_tx_proof(W.g, &W.grant.txid, &t, &b, &i, &h);
  ck_assert_msg(b.ok && i.ok, "%s / %s", b.detail, i.detail);
  ck_assert_uint_eq(h, 2);
  verify_tx_proof(W.g, &W.call.txid, &t, &b, &i, &h); /* another txid: not in this block */
  ck_assert(b.ok);
  ck_assert(!i.ok);
  teardown();
}
END_TEST

/* ---- FROST mode: the results key replayed from its transactions
 * (docs/keys.md §6, §8; docs/calls.md §7) ---- */

/* Key transaction i again, alone with fillers in a block at height, at its
 * old index; mut (if given) changes it first and its sender signs it again
 * (as is: mut may set another chain id or sender). */
static void key_redo(size_t i, uint64_t height, void (*mut)(cx_tx *)) {
  piece *p = &W.key[i];
  uint8_t *raw = p->raw;
  size_t len = p->raw_len, at = p->index, ntx = p->ntx;
  if (mut) {
    cx_tx tx;
    ck_assert_int_eq(tx_decode(raw, len, &tx, NULL), CX_OK);
    mut(&tx);
    cx_seckey *k = NULL;
    for (size_t v = 0; v <= W.nval; v++) {
      cx_seckey *c = v < W.nval ? W.val[v] : W.insurer;
      cx_pubkey pk;
      key_public(c, &pk);
      if (memcmp(pk.b, tx.sender.b, 32) == 0) k = c;
    }
    ck_assert_ptr_nonnull(k);
    free(raw);
    ck_assert_int_eq(tx_sign(&tx, k), CX_OK);
    ck_assert_int_eq(tx_encode(&tx, 1, &raw, &len), CX_OK);
    tx_clear(&tx);
  }
  free(p->header);
  free(p->cert);
  block_with(height, raw, len, at, ntx < 2 ? 2 : ntx, CX_OK, W.val, &W.chain_id, p); /* frees raw */
}

/* The node lists the key's transactions without the one at skip. */
static void omit(verify_input *in, size_t skip) {
  size_t n = 0;
  for (size_t i = 0; i < W.nkey; i++)
    if (i != skip) {
      W.keyids[n] = W.key[i].txid;
      W.keyv[n++] = vtx(&W.key[i]);
    }
  in->nkeytx = n;
}

/* The node lists transactions a and b in each other's place. */
static void swap(size_t a, size_t b) {
  cx_hash id = W.keyids[a];
  verify_tx t = W.keyv[a];
  W.keyids[a] = W.keyids[b];
  W.keyv[a] = W.keyv[b];
  W.keyids[b] = id;
  W.keyv[b] = t;
}

/* Only the mpc check fails, its detail containing why. */
static void mpc_fails(const verify_input *in, const char *why) {
  verify_report *r = run(in);
  expect(r, (const char *const[]){"mpc"}, (const char *const[]){why}, 1);
  ck_assert_int_eq(r->frost, 0);
}

/* The mpc check of an honest FROST result: the group key by its first 16
 * hex digits, the mode, the replay and QUAL by name. */
static void frost_passes(const verify_input *in, const char *qual) {
  verify_report *r = run(in);
  expect(r, NULL, NULL, 0);
  ck_assert_int_eq(r->frost, 1);
  ck_assert_uint_eq(r->nsigners, 0);
  const char *d = verify_find(r, "mpc")->detail;
  char gpk[17], want[64];
  hex_encode(W.gpk.b, 8, gpk);
  snprintf(want, sizeof want, "results key %s...", gpk);
  ck_assert_msg(strstr(d, want) != NULL, "\"%s\" lacks \"%s\"", d, want);
  ck_assert_ptr_nonnull(strstr(d, "(FROST, 3 of 4 parties"));
  snprintf(want, sizeof want, "DKG of %zu transactions", W.nkey);
  ck_assert_msg(strstr(d, want) != NULL, "\"%s\" lacks \"%s\"", d, want);
  snprintf(want, sizeof want, "qualified dealers %s)", qual);
  ck_assert_msg(strstr(d, want) != NULL, "\"%s\" lacks \"%s\"", d, want);
}

START_TEST(frost_honest) {
  build(&(opts){.frost = 1});
  ck_assert_uint_eq(W.nkey, 9); /* create, 4 deals, 4 verdicts */
  verify_input in = input();
  frost_passes(&in, "alpha, bravo, charlie, delta");
  ck_assert_int_eq(run(&in)->status, CX_CALL_DONE);
  ck_assert_ptr_nonnull(strstr(verify_find(run(&in), "mpc")->detail, "done; statement "));
  teardown();
  /* any t of the parties sign alike */
  build(&(opts){.frost = 1, .signers = 0xe});
  in = input();
  frost_passes(&in, "alpha, bravo, charlie, delta");
  teardown();
  build(&(opts){.frost = 1, .signers = 0xb});
  in = input();
  frost_passes(&in, "alpha, bravo, charlie, delta");
  teardown();
}
END_TEST

START_TEST(frost_aborted) {
  build(&(opts){.frost = 1, .aborted = 1});
  verify_input in = input();
  frost_passes(&in, "alpha, bravo, charlie, delta");
  ck_assert_ptr_nonnull(strstr(verify_find(run(&in), "mpc")->detail, "aborted; statement "));
  teardown();
}
END_TEST

START_TEST(frost_no_key_transactions) {
  build(&(opts){.frost = 1});
  verify_input in = input();
  in.nkeytx = 0;
  mpc_fails(&in, "listed no transaction of the results key");
  teardown();
}
END_TEST

START_TEST(frost_deal_omitted) {
  build(&(opts){.frost = 1});
  verify_input in = input();
  /* without charlie's deal the key is still DEALING at the first verdict */
  omit(&in, 3);
  mpc_fails(&in, "key transaction 4 (key_verdict) is refused by the rules: key_closed");
  /* the list cut short after the deals: VERIFYING, never READY */
  in = input();
  in.nkeytx = 5;
  mpc_fails(&in, "replaying the results key's 5 transactions does not end READY");
  /* one verdict left out: never READY either */
  in = input();
  in.nkeytx = 8;
  mpc_fails(&in, "does not end READY");
  teardown();
}
END_TEST

START_TEST(frost_key_transactions_swapped) {
  build(&(opts){.frost = 1});
  /* two deals of one block (indices 0 and 2) */
  verify_input in = input();
  swap(1, 2);
  mpc_fails(&in, "key transaction 2 is not after the one before it in chain order");
  /* two deals of two blocks (heights 3 and 4) */
  in = input();
  swap(2, 3);
  mpc_fails(&in, "key transaction 3 is not after the one before it in chain order");
  /* two verdicts of one block (indices 2 and 3) */
  in = input();
  swap(6, 7);
  mpc_fails(&in, "key transaction 7 is not after the one before it in chain order");
  /* the last deal listed after a verdict: in this order the rules refuse the
   * verdict first (the key is still DEALING) */
  in = input();
  swap(4, 5);
  mpc_fails(&in, "key transaction 4 (key_verdict) is refused by the rules: key_closed");
  teardown();
}
END_TEST

START_TEST(frost_key_transaction_bad_proof) {
  build(&(opts){.frost = 1});
  char want[128];
  snprintf(want, sizeof want, "key transaction 3 (%02x", W.key[3].txid.b[0]);
  /* a tampered Merkle path */
  W.key[3].tx_path[0].b[0] ^= 1;
  verify_input in = input();
  mpc_fails(&in, "is not in the tx_root of block 4");
  ck_assert_ptr_nonnull(strstr(verify_find(run(&in), "mpc")->detail, want));
  W.key[3].tx_path[0].b[0] ^= 1;
  /* a tampered receipt path */
  W.key[5].rc_path[0].b[3] ^= 1;
  in = input();
  mpc_fails(&in, "no ok receipt");
  W.key[5].rc_path[0].b[3] ^= 1;
  /* a certificate with a flipped signature byte */
  W.key[0].cert[W.key[0].cert_len - 1] ^= 1;
  in = input();
  mpc_fails(&in, "key transaction 0 (");
  mpc_fails(&in, "the certificate does not verify against the 4 genesis validators");
  W.key[0].cert[W.key[0].cert_len - 1] ^= 1;
  /* a header that is not the certified one */
  W.key[8].header[W.key[8].header_len - 1] ^= 1;
  in = input();
  mpc_fails(&in, "key transaction 8 (");
  W.key[8].header[W.key[8].header_len - 1] ^= 1;
  /* no proof at all */
  in = input();
  W.keyv[6].has_proof = 0;
  W.keyv[6].proof_why = "tx_proof: not found";
  mpc_fails(&in, "tx_proof: not found");
  /* bytes that are not the listed transaction */
  W.key[2].raw[W.key[2].raw_len - 70] ^= 1;
  in = input();
  mpc_fails(&in, "key transaction 2 (");
  mpc_fails(&in, "hash to txid");
  W.key[2].raw[W.key[2].raw_len - 70] ^= 1;
  /* and all is well again */
  in = input();
  frost_passes(&in, "alpha, bravo, charlie, delta");
  teardown();
}
END_TEST

static void other_chain(cx_tx *tx) { tu_randbytes(tx->chain_id.b, 32); }

START_TEST(frost_key_transaction_other_chain) {
  build(&(opts){.frost = 1});
  key_redo(3, 4, other_chain); /* charlie's deal, signed for another chain */
  verify_input in = input();
  mpc_fails(&in, "key transaction 3 (");
  mpc_fails(&in, "signed for chain");
  teardown();
}
END_TEST

START_TEST(frost_key_transaction_not_a_key_one) {
  build(&(opts){.frost = 1});
  verify_input in = input();
  W.keyids[4] = W.grant.txid; /* the node lists the grant among them */
  W.keyv[4] = vtx(&W.grant);
  mpc_fails(&in, "key transaction 4 (");
  mpc_fails(&in, "a consent_grant transaction, not a consortium key's");
  teardown();
}
END_TEST

START_TEST(frost_key_transaction_after_result) {
  build(&(opts){.frost = 1});
  key_redo(W.nkey - 1, 16, NULL); /* the last verdict, a block after the result's (15) */
  verify_input in = input();
  mpc_fails(&in, "key transaction 8 was committed after the result");
  /* at the result's height, after it (index 4, the result's is 2): the same */
  key_redo(W.nkey - 1, 15, NULL);
  ck_assert_uint_eq(W.key[W.nkey - 1].index, 4);
  in = input();
  mpc_fails(&in, "key transaction 8 was committed after the result");
  /* at the result's height, before it (index 1): fine */
  W.key[W.nkey - 1].index = 1;
  key_redo(W.nkey - 1, 15, NULL);
  in = input();
  frost_passes(&in, "alpha, bravo, charlie, delta");
  teardown();
}
END_TEST

static void rename_beacon(cx_tx *tx) {
  strcpy(tx->u.kcreate.name, "beacon");
  tx->u.kcreate.purpose = CX_KEY_PURPOSE_BEACON;
  tx->u.kcreate.t = 2;
}

static void by_insurer(cx_tx *tx) { key_public(W.insurer, &tx->sender); }

START_TEST(frost_first_not_results_create) {
  build(&(opts){.frost = 1});
  verify_input in = input();
  omit(&in, 0); /* the list starts with alpha's deal */
  mpc_fails(&in, "the first key transaction is not the creation of the results key");
  /* a key_create of another key */
  key_redo(0, 2, rename_beacon);
  in = input();
  mpc_fails(&in, "the first key transaction is not the creation of the results key");
  teardown();
  /* the results key created by a genesis member that is no validator */
  build(&(opts){.frost = 1});
  key_redo(0, 2, by_insurer);
  in = input();
  mpc_fails(&in, "the results key's creation is refused by the rules with the 4 genesis validators as its parties: "
                "not_validator, though the chain accepted it");
  teardown();
}
END_TEST

START_TEST(frost_signature_flipped) {
  build(&(opts){.frost = 1, .frost_sig_flip = 1});
  verify_input in = input();
  char gpk[17], want[80];
  hex_encode(W.gpk.b, 8, gpk);
  snprintf(want, sizeof want, "under the results key %s...", gpk);
  mpc_fails(&in, "the FROST signature does not verify over the statement");
  mpc_fails(&in, want);
  teardown();
}
END_TEST

START_TEST(frost_blob_changed) {
  build(&(opts){.frost = 1, .frost_blob_changed = 1});
  verify_input in = input();
  mpc_fails(&in, "the FROST signature does not verify over the statement");
  teardown();
}
END_TEST

/* FROST_BATCH (docs/keys.md §8): the key signed the root of a batch of 3
 * results, this one at leaf 1 with its path. The auditor climbs the path
 * and checks the one signature over the root; the mpc check says so. A
 * byte of the path flipped climbs to another root, whose signature there
 * is none; a leaf the path does not fit is refused before any signature. */
START_TEST(frost_batch_honest) {
  build(&(opts){.frost = 1, .batch = 1});
  verify_input in = input();
  frost_passes(&in, "alpha, bravo, charlie, delta");
  verify_report *r = run(&in);
  ck_assert_int_eq(r->status, CX_CALL_DONE);
  const char *d = verify_find(r, "mpc")->detail;
  ck_assert_msg(strstr(d, "done; statement ") != NULL, "%s", d);
  ck_assert_msg(strstr(d, "over the root of a batch of 3 results (this one leaf 1, its path checked)") != NULL, "%s",
                d);
  teardown();
  /* an aborted result in a batch alike */
  build(&(opts){.frost = 1, .batch = 1, .aborted = 1});
  in = input();
  frost_passes(&in, "alpha, bravo, charlie, delta");
  ck_assert_ptr_nonnull(strstr(verify_find(run(&in), "mpc")->detail, "a batch of 3 results"));
  teardown();
  /* a single FROST result names no batch */
  build(&(opts){.frost = 1});
  in = input();
  frost_passes(&in, "alpha, bravo, charlie, delta");
  ck_assert_ptr_null(strstr(verify_find(run(&in), "mpc")->detail, "batch"));
  teardown();
}
END_TEST

START_TEST(frost_batch_path_tampered) {
  build(&(opts){.frost = 1, .batch = 1, .batch_tamper = BATCH_PATH_FLIP});
  verify_input in = input();
  mpc_fails(&in, "the FROST signature does not verify over the statement");
  mpc_fails(&in, ", over the root of a batch of 3 results (this one leaf 1, its path checked) under the results key");
  teardown();
  build(&(opts){.frost = 1, .batch = 1, .batch_tamper = BATCH_OTHER_LEAF});
  in = input();
  mpc_fails(&in, "the result's batch path does not fit a tree of 3 leaves at leaf 2");
  teardown();
}
END_TEST

/* A result of a later epoch (after a reshare, docs/keys.md §10) is checked
 * against epoch 0's group key, which every reshare keeps: valid under it,
 * it passes and says so; a signature that does not verify fails, naming
 * the epoch. */
START_TEST(frost_key_epoch_1) {
  build(&(opts){.frost = 1, .key_epoch = 1});
  verify_input in = input();
  frost_passes(&in, "alpha, bravo, charlie, delta");
  const char *d = verify_find(run(&in), "mpc")->detail;
  ck_assert_msg(strstr(d, "signed at epoch 1: the DKG is epoch 0's") != NULL, "%s", d);
  teardown();
  build(&(opts){.frost = 1, .key_epoch = 7, .frost_sig_flip = 1});
  in = input();
  mpc_fails(&in, "the FROST signature does not verify over the statement");
  mpc_fails(&in, "signed at epoch 7");
  teardown();
}
END_TEST

START_TEST(frost_parties_not_genesis_validators) {
  /* five genesis validators; the key was made by the first four (as on a
   * chain whose validator set changed): replayed with the genesis's five
   * as parties, the creation itself does not fit */
  build(&(opts){.frost = 1, .five = 1});
  verify_input in = input();
  verify_report *r = run(&in);
  expect(r, (const char *const[]){"mpc"},
         (const char *const[]){"the results key's creation is refused by the rules with the 5 genesis validators as "
                               "its parties: bad_key_params"},
         1);
  ck_assert_ptr_nonnull(strstr(verify_find(r, "mpc")->detail, "a governance transaction the node left out"));
  ck_assert_int_eq(r->frost, 0);
  teardown();
}
END_TEST

START_TEST(frost_complaint_answered) {
  /* delta complains about bravo's share, bravo answers well: QUAL = 4 */
  build(&(opts){.frost = 1, .dkg = DKG_ANSWERED});
  ck_assert_uint_eq(W.nkey, 10);
  verify_input in = input();
  frost_passes(&in, "alpha, bravo, charlie, delta");
  /* without the answer the replay does not end */
  in.nkeytx = 9;
  mpc_fails(&in, "does not end READY");
  teardown();
}
END_TEST

START_TEST(frost_dealer_disqualified) {
  /* bravo's complaint unanswered, two advance votes: QUAL = 3 */
  build(&(opts){.frost = 1, .dkg = DKG_DISQUALIFIED, .signers = 0xd});
  ck_assert_uint_eq(W.nkey, 11);
  verify_input in = input();
  frost_passes(&in, "alpha, charlie, delta");
  teardown();
  /* bravo still holds a share of the QUAL key and may sign */
  build(&(opts){.frost = 1, .dkg = DKG_DISQUALIFIED, .signers = 0x7});
  in = input();
  frost_passes(&in, "alpha, charlie, delta");
  /* one vote is not enough (f + 1 = 2) */
  in.nkeytx = 10;
  mpc_fails(&in, "does not end READY");
  teardown();
  /* signers whose shares count bravo's deal sign under another key */
  build(&(opts){.frost = 1, .dkg = DKG_DISQUALIFIED, .signers = 0xd, .wrong_shares = 1});
  in = input();
  mpc_fails(&in, "the FROST signature does not verify");
  teardown();
}
END_TEST

START_TEST(call_dealt_to_other_parties) {
  /* a call dealt to 4 parties: the genesis's 4 validators (both modes) */
  build(&(opts){.call_parties = 4});
  verify_input in = input();
  expect(run(&in), NULL, NULL, 0);
  teardown();
  build(&(opts){.frost = 1, .call_parties = 4});
  in = input();
  frost_passes(&in, "alpha, bravo, charlie, delta");
  teardown();
  /* dealt to 5: not the genesis's validators */
  build(&(opts){.call_parties = 5});
  in = input();
  expect(run(&in), (const char *const[]){"mpc"},
         (const char *const[]){"the call was dealt to 5 parties, not to the 4 genesis validators"}, 1);
  teardown();
  /* FROST mode: the results key is the same at every epoch (resharing
   * keeps it, docs/keys.md §10), so a call of another validator set is
   * verified by its one signature */
  build(&(opts){.frost = 1, .call_parties = 5});
  in = input();
  frost_passes(&in, "alpha, bravo, charlie, delta");
  teardown();
}
END_TEST

START_TEST(frost_needs_result_place) {
  build(&(opts){.frost = 1});
  W.result.tx_path[0].b[1] ^= 1;
  verify_input in = input();
  expect(run(&in), (const char *const[]){"result inclusion", "mpc"},
         (const char *const[]){"not in the tx_root", "needs the result's block and inclusion"}, 2);
  teardown();
}
END_TEST

/* ---- validator-set changes (docs/calls.md §7 "Validator-set changes") ---- */

/* detail of check `name` contains want. */
static void detail_has(const verify_report *r, const char *name, const char *want) {
  const verify_check *c = verify_find(r, name);
  ck_assert_ptr_nonnull(c);
  ck_assert_msg(strstr(c->detail, want) != NULL, "%s: \"%s\" lacks \"%s\"", name, c->detail, want);
}

/* The node lists governance transactions first..first+n of the chain's. */
static void gov_list(verify_input *in, size_t first, size_t n) {
  in->govtx_ids = W.govids + first;
  in->govtx = W.govv + first;
  in->ngovtx = n;
}

/* The checks a fragment with a set change fails when the verifier does
 * not follow it: every block after the change (call 13, anchor 14, result
 * 15, grant 12), and the mpc when the signers need the new set. */
#define AFTER_CHANGE "call block", "result block", "consent block", "snapshot"

START_TEST(gov_add_echo) {
  /* echo proposed by alpha (block 1), approved by bravo (2) and charlie (3):
   * five validators from height 4; the result signed by charlie, delta and
   * echo (parties 2, 3, 4 of five) */
  build(&(opts){.gov = GOV_ADD_ECHO, .signers = 0x1c});
  ck_assert_uint_eq(W.ngov, 3);
  verify_input in = input();
  verify_report *r = run(&in);
  expect(r, NULL, NULL, 0);
  detail_has(r, "validators", "3 governance transactions replayed from the genesis");
  detail_has(r, "validators", "4 genesis validators; from height 4: 5 (+echo)");
  detail_has(r, "call block", "block 13 (");
  detail_has(r, "call block", "certified by 4 of the 5 validators in force at height 13 (quorum 4)");
  detail_has(r, "consent block", "of the 5 validators in force at height 12");
  detail_has(r, "mpc", "signed by charlie, delta, echo (3 of 5 parties, 2t+1 = 3; the validators in force at the call)");
  ck_assert_uint_eq(r->nsigners, 3);
  ck_assert_str_eq(r->signers[2], "echo");
  teardown();
  /* the three in one block (1): five from height 2 */
  build(&(opts){.gov = GOV_ADD_ECHO, .gov_early = 1, .signers = 0x1c});
  in = input();
  r = run(&in);
  expect(r, NULL, NULL, 0);
  detail_has(r, "validators", "from height 2: 5 (+echo)");
  detail_has(r, "call block", "certified by 4 of the 5 validators in force at height 3 (quorum 4)");
  teardown();
}
END_TEST

START_TEST(gov_change_in_call_block) {
  /* the approval that admits echo is in the call's block (13), before the
   * call: that block is still certified by the genesis's four (the change
   * counts from height 14), but the call rule ran after the approval, so
   * the call's parties are the five */
  build(&(opts){.gov = GOV_ADD_ECHO, .gov_in_call_block = 1, .signers = 0x1c});
  verify_input in = input();
  verify_report *r = run(&in);
  expect(r, NULL, NULL, 0);
  detail_has(r, "validators", "from height 14: 5 (+echo)");
  detail_has(r, "call block", "certified by 3 of the 4 genesis validators (quorum 3)");
  detail_has(r, "result block", "certified by 4 of the 5 validators in force at height 15");
  detail_has(r, "mpc", "signed by charlie, delta, echo (3 of 5 parties");
  teardown();
}
END_TEST

START_TEST(gov_omitted) {
  build(&(opts){.gov = GOV_ADD_ECHO, .signers = 0x1c});
  verify_input in = input();
  /* none listed: the genesis's four throughout; every block after the
   * change fails, naming its height, and echo's signature has no party */
  gov_list(&in, 0, 0);
  verify_report *r = run(&in);
  EXPECT(r, AFTER_CHANGE, "mpc");
  detail_has(r, "validators", "the 4 genesis validators throughout: the node lists no governance transaction");
  detail_has(r, "call block", "block 13: the certificate does not verify against the 4 genesis validators");
  detail_has(r, "result block", "block 15: the certificate does not verify");
  detail_has(r, "mpc", "party 4 signed, the parties are the 4 genesis validators");
  /* the last approval left out: the proposal never applies */
  in = input();
  gov_list(&in, 0, 2);
  r = run(&in);
  EXPECT(r, AFTER_CHANGE, "mpc");
  detail_has(r, "validators", "2 governance transactions replayed");
  detail_has(r, "validators", "the set never changed");
  /* the proposal left out: its approvals are refused on replay */
  in = input();
  gov_list(&in, 1, 2);
  r = run(&in);
  EXPECT(r, "validators", AFTER_CHANGE, "mpc");
  detail_has(r, "validators",
             "governance transaction 0 (member_approve, block 2) is refused by the rules on replay: proposal_unknown, "
             "though the chain accepted it");
  detail_has(r, "call block", "block 13: the validators in force there are not known");
  /* the node gave no list (an older node): the genesis's, said so */
  in = input();
  gov_list(&in, 0, 0);
  in.govtx_why = "member_history: Method not found (method_not_found)";
  r = run(&in);
  EXPECT(r, AFTER_CHANGE, "mpc");
  detail_has(r, "validators", "assumed throughout: the node gave no governance transactions (member_history: Method");
  teardown();
}
END_TEST

START_TEST(gov_tampered) {
  build(&(opts){.gov = GOV_ADD_ECHO, .signers = 0x1c});
  char want[128];
  snprintf(want, sizeof want, "governance transaction 1 (%02x", W.gov[1].txid.b[0]);
  /* the first approval's certificate with a flipped signature byte */
  W.gov[1].cert[W.gov[1].cert_len - 1] ^= 1;
  verify_input in = input();
  verify_report *r = run(&in);
  EXPECT(r, "validators", AFTER_CHANGE, "mpc");
  detail_has(r, "validators", want);
  detail_has(r, "validators", "block 2: the certificate does not verify against the 4 genesis validators");
  /* the sets are known up to the last transaction that checked (block 1) */
  detail_has(r, "call block", "the governance replay stopped after block 1 (see validators)");
  W.gov[1].cert[W.gov[1].cert_len - 1] ^= 1;
  /* its header changed: not the certified block */
  W.gov[1].header[W.gov[1].header_len - 1] ^= 1;
  in = input();
  r = run(&in);
  EXPECT(r, "validators", AFTER_CHANGE, "mpc");
  detail_has(r, "validators", want);
  W.gov[1].header[W.gov[1].header_len - 1] ^= 1;
  /* its audit path */
  W.gov[2].tx_path[0].b[0] ^= 1;
  in = input();
  r = run(&in);
  EXPECT(r, "validators", AFTER_CHANGE, "mpc");
  detail_has(r, "validators", "is not in the tx_root of block 3");
  W.gov[2].tx_path[0].b[0] ^= 1;
  /* its bytes */
  W.gov[0].raw[W.gov[0].raw_len - 70] ^= 1;
  in = input();
  r = run(&in);
  EXPECT(r, "validators", AFTER_CHANGE, "mpc");
  detail_has(r, "validators", "hash to txid");
  W.gov[0].raw[W.gov[0].raw_len - 70] ^= 1;
  /* the grant listed among them */
  in = input();
  W.govids[1] = W.grant.txid;
  W.govv[1] = vtx(&W.grant);
  r = run(&in);
  EXPECT(r, "validators", AFTER_CHANGE, "mpc");
  detail_has(r, "validators", "a consent_grant transaction, not a governance (member_propose or member_approve)");
  /* and all is well again */
  in = input();
  expect(run(&in), NULL, NULL, 0);
  teardown();
}
END_TEST

START_TEST(gov_rejected_listed) {
  /* a fourth approval, by delta, after the proposal applied: the chain
   * refused it (proposal_closed); a node listing it proves nothing */
  build(&(opts){.gov = GOV_ADD_ECHO, .signers = 0x1c});
  cx_tx tx;
  uint8_t *raw;
  size_t len;
  tx_init(&tx);
  tx.type = TX_MEMBER_APPROVE;
  tx.u.approve.proposal = W.gov[0].txid;
  sign_encode(&tx, W.val[3], &raw, &len);
  tx_clear(&tx);
  block_with(4, raw, len, 0, 2, CX_E_PROPOSAL_CLOSED, W.val, &W.chain_id, &W.gov[W.ngov]);
  W.ngov++;
  verify_input in = input();
  verify_report *r = run(&in);
  /* known up to the third: every block after block 3 has no known set */
  EXPECT(r, "validators", AFTER_CHANGE, "mpc");
  detail_has(r, "validators", "the receipt in block 4 is proposal_closed");
  /* its block is certified by the five: the set from height 4 was used */
  ck_assert_ptr_null(strstr(verify_find(r, "validators")->detail, "does not verify"));
  teardown();
}
END_TEST

START_TEST(gov_reordered) {
  build(&(opts){.gov = GOV_ADD_ECHO, .signers = 0x1c});
  verify_input in = input();
  /* the two approvals (blocks 2 and 3) in each other's place */
  cx_hash id = W.govids[1];
  verify_tx t = W.govv[1];
  W.govids[1] = W.govids[2];
  W.govv[1] = W.govv[2];
  W.govids[2] = id;
  W.govv[2] = t;
  verify_report *r = run(&in);
  EXPECT(r, "validators", AFTER_CHANGE, "mpc");
  detail_has(r, "validators", "governance transaction 2 (block 2) is not after the one before it in chain order");
  teardown();
  /* in one block (indexes 0, 2, 3): the two approvals swapped */
  build(&(opts){.gov = GOV_ADD_ECHO, .gov_early = 1, .signers = 0x1c});
  in = input();
  id = W.govids[1];
  t = W.govv[1];
  W.govids[1] = W.govids[2];
  W.govv[1] = W.govv[2];
  W.govids[2] = id;
  W.govv[2] = t;
  r = run(&in);
  EXPECT(r, "validators", AFTER_CHANGE, "mpc");
  detail_has(r, "validators", "governance transaction 2 (block 1) is not after the one before it in chain order");
  teardown();
}
END_TEST

START_TEST(gov_removal) {
  /* five genesis validators; bravo removed by alpha's proposal and the
   * approvals of charlie, delta and echo (blocks 1..4): four from height 5,
   * the result signed by the first three of them */
  build(&(opts){.five = 1, .gov = GOV_REMOVE_ONE});
  ck_assert_uint_eq(W.ngov, 4);
  verify_input in = input();
  verify_report *r = run(&in);
  expect(r, NULL, NULL, 0);
  detail_has(r, "validators", "5 genesis validators; from height 5: 4 (-bravo)");
  detail_has(r, "call block", "certified by 3 of the 4 validators in force at height 13 (quorum 3)");
  ck_assert_uint_eq(r->nsigners, 3);
  ck_assert_str_eq(r->signers[0], "alpha");
  ck_assert_str_eq(r->signers[1], "charlie");
  ck_assert_str_eq(r->signers[2], "delta");
  gov_list(&in, 0, 0);
  r = run(&in);
  EXPECT(r, AFTER_CHANGE, "mpc");
  detail_has(r, "mpc", "the signature of party 1 (bravo) does not verify");
  teardown();
}
END_TEST

START_TEST(gov_rekey) {
  /* charlie's key replaced (alpha proposes, bravo and delta approve): from
   * height 4 charlie votes and signs with its new key */
  build(&(opts){.gov = GOV_REKEY_ONE});
  verify_input in = input();
  verify_report *r = run(&in);
  expect(r, NULL, NULL, 0);
  detail_has(r, "validators", "4 genesis validators; from height 4: 4 (charlie rekeyed)");
  detail_has(r, "mpc", "signed by alpha, bravo, charlie (3 of 4 parties, 2t+1 = 3; the validators in force at the call)");
  gov_list(&in, 0, 0);
  r = run(&in);
  EXPECT(r, AFTER_CHANGE, "mpc");
  detail_has(r, "mpc", "the signature of party 2 (charlie) does not verify");
  teardown();
}
END_TEST

START_TEST(gov_bound) {
  build(&(opts){0});
  verify_input in = input();
  in.ngovtx = VERIFY_MAX_GOVTX + 1; /* not read: the count alone fails */
  in.govtx_ids = NULL;
  in.govtx = NULL;
  verify_report *r = run(&in);
  EXPECT(r, "validators", "call block", "result block", "mpc", "consent block", "snapshot");
  detail_has(r, "validators", "the node lists 4097 governance transactions, more than this verifier's bound of 4096");
  detail_has(r, "call block", "the validators in force there are not known");
  teardown();
}
END_TEST

START_TEST(frost_across_change) {
  /* the results key made by the genesis's four (blocks 2..8), echo admitted
   * after it (11..13), the call's blocks (22..25) certified by the five;
   * the result signed by the key, which the five hold after a reshare */
  build(&(opts){.frost = 1, .gov = GOV_ADD_ECHO});
  verify_input in = input();
  frost_passes(&in, "alpha, bravo, charlie, delta");
  verify_report *r = run(&in);
  detail_has(r, "validators", "from height 14: 5 (+echo)");
  detail_has(r, "result block", "block 25 (");
  detail_has(r, "result block", "of the 5 validators in force at height 25");
  gov_list(&in, 0, 0);
  EXPECT(run(&in), AFTER_CHANGE);
  teardown();
  /* echo removed from a genesis of five in block 1, before the key: its
   * parties are the four in force at its creation */
  build(&(opts){.frost = 1, .five = 1, .gov = GOV_REMOVE_ONE, .gov_who = 4, .gov_early = 1});
  in = input();
  frost_passes(&in, "alpha, bravo, charlie, delta");
  detail_has(run(&in), "validators", "5 genesis validators; from height 2: 4 (-echo)");
  /* without the removal every block after it fails, the key's first */
  gov_list(&in, 0, 0);
  r = run(&in);
  EXPECT(r, AFTER_CHANGE, "mpc");
  detail_has(r, "mpc", "key transaction 0 (");
  detail_has(r, "mpc", "block 2: the certificate does not verify against the 5 genesis validators");
  teardown();
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("verify");
  TCase *tc = tcase_create("result");
  tcase_add_test(tc, honest_done);
  tcase_add_test(tc, honest_aborted_all_four);
  tcase_add_test(tc, call_bytes_tampered);
  tcase_add_test(tc, call_id_other);
  tcase_add_test(tc, result_rewritten_and_resigned);
  tcase_add_test(tc, result_other_call);
  tcase_add_test(tc, header_tampered);
  tcase_add_test(tc, header_trailing_bytes);
  tcase_add_test(tc, cert_sig_flipped);
  tcase_add_test(tc, cert_other_validators);
  tcase_add_test(tc, cert_missing);
  tcase_add_test(tc, other_genesis);
  tcase_add_test(tc, tx_path_tampered);
  tcase_add_test(tc, index_lies);
  tcase_add_test(tc, receipt_rejected);
  tcase_add_test(tc, receipt_path_tampered);
  tcase_add_test(tc, mpc_no_quorum);
  tcase_add_test(tc, mpc_foreign_signer);
  tcase_add_test(tc, mpc_wrong_statement);
  tcase_add_test(tc, consent_other_insurer);
  tcase_add_test(tc, consent_other_subject);
  tcase_add_test(tc, consent_after_call);
  tcase_add_test(tc, consent_missing);
  tcase_add_test(tc, insurer_not_in_genesis);
  tcase_add_test(tc, pending_call);
  tcase_add_test(tc, tx_proof_alone);
  tcase_add_test(tc, snapshot_not_anchored);
  tcase_add_test(tc, snapshot_other_anchorer);
  tcase_add_test(tc, snapshot_after_result);
  tcase_add_test(tc, snapshot_count_differs);
  tcase_add_test(tc, snapshot_other_root);
  tcase_add_test(tc, snapshot_anchor_tampered);
  suite_add_tcase(s, tc);
  TCase *tf = tcase_create("frost");
  tcase_set_timeout(tf, 120);
  tcase_add_test(tf, frost_honest);
  tcase_add_test(tf, frost_aborted);
  tcase_add_test(tf, frost_no_key_transactions);
  tcase_add_test(tf, frost_deal_omitted);
  tcase_add_test(tf, frost_key_transactions_swapped);
  tcase_add_test(tf, frost_key_transaction_bad_proof);
  tcase_add_test(tf, frost_key_transaction_other_chain);
  tcase_add_test(tf, frost_key_transaction_not_a_key_one);
  tcase_add_test(tf, frost_key_transaction_after_result);
  tcase_add_test(tf, frost_first_not_results_create);
  tcase_add_test(tf, frost_signature_flipped);
  tcase_add_test(tf, frost_blob_changed);
  tcase_add_test(tf, frost_batch_honest);
  tcase_add_test(tf, frost_batch_path_tampered);
  tcase_add_test(tf, frost_key_epoch_1);
  tcase_add_test(tf, frost_parties_not_genesis_validators);
  tcase_add_test(tf, frost_complaint_answered);
  tcase_add_test(tf, frost_dealer_disqualified);
  tcase_add_test(tf, frost_needs_result_place);
  tcase_add_test(tf, call_dealt_to_other_parties);
  tcase_add_test(tf, frost_across_change);
  suite_add_tcase(s, tf);
  TCase *tg = tcase_create("governance");
  tcase_set_timeout(tg, 120);
  tcase_add_test(tg, gov_add_echo);
  tcase_add_test(tg, gov_change_in_call_block);
  tcase_add_test(tg, gov_omitted);
  tcase_add_test(tg, gov_tampered);
  tcase_add_test(tg, gov_rejected_listed);
  tcase_add_test(tg, gov_reordered);
  tcase_add_test(tg, gov_removal);
  tcase_add_test(tg, gov_rekey);
  tcase_add_test(tg, gov_bound);
  suite_add_tcase(s, tg);
  return s;
}

int main(void) { return tu_run(suite()); }
