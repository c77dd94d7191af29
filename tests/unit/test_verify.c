/* verify_result (node/verify.c): an auditor's checks of a call's result
 * from the genesis alone (docs/calls.md §7), on a chain fragment built by
 * hand: a genesis of four validators (listed out of name order, so signer
 * order is tested; alpha owns domain hrss) and an insurer; a consent grant,
 * a call, alpha's anchoring of the hrss snapshot the result names, and the
 * result, each in a block with other transactions, with headers, commit
 * certificates signed by the validators' keys and audit paths. Every piece
 * is then tampered with, and the check that guards it must fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "merkle.h"
#include "testutil.h"
#include "tx.h"
#include "verify.h"
#include "vm.h"

/* Validators in genesis order; by name they are alpha(0) bravo(1)
 * charlie(2) delta(3): party and signer i is the i-th by name. */
static const char *const VNAMES[4] = {"delta", "alpha", "charlie", "bravo"};
static const int BYNAME[4] = {1, 3, 2, 0}; /* genesis index of the i-th by name */

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
} opts;

typedef struct {
  vm_genesis *g;
  cx_hash chain_id;
  cx_seckey *val[4]; /* by name */
  cx_seckey *insurer, *subject;
  cx_hash contract, did;
  piece grant, call, anchor, result;
  cx_hash root; /* the hrss snapshot the result names */
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

/* A block at height of ntx transactions, txs[target] being *out's; signed
 * by the first 3 of keys (a quorum of 4). Fills out's proof. */
static void build_block(uint64_t height, uint8_t **txs, size_t *lens, const int32_t *codes, size_t ntx,
                        size_t target, cx_seckey *const *keys, const cx_hash *chain_id, piece *out) {
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
  block_header_encode(&h, &out->header, &out->header_len);
  cx_cert c;
  memset(&c, 0, sizeof c);
  c.height = height;
  block_hash(&h, &c.block_hash);
  cx_hash msg;
  vote_message(chain_id, height, 0, &c.block_hash, &msg);
  for (uint16_t i = 0; i < 3; i++) {
    c.votes[c.nvotes].signer = i;
    ck_assert_int_eq(key_sign32(keys[i], msg.b, NULL, &c.votes[c.nvotes].sig), CX_OK);
    c.nvotes++;
  }
  ck_assert_int_eq(cert_encode(&c, &out->cert, &out->cert_len), CX_OK);
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

static void add_member(vm_genesis *g, const char *name, int role, const cx_seckey *k, int validator) {
  cx_member *m = &g->members[g->nmembers++];
  memset(m, 0, sizeof *m);
  snprintf(m->name, sizeof m->name, "%s", name);
  m->role = (uint8_t)role;
  key_public(k, &m->key);
  tu_randbytes(m->enc_key, 32);
  m->validator = (uint8_t)validator;
  if (validator) snprintf(m->address, sizeof m->address, "tcp://127.0.0.1:%d", 26600 + (int)g->nmembers);
}

static void build(const opts *o) {
  memset(&W, 0, sizeof W);
  W.g = calloc(1, sizeof *W.g);
  ck_assert_ptr_nonnull(W.g);
  strcpy(W.g->chain_name, "verifytest");
  W.g->time_ms = 1795000000000ull;
  W.g->block_max_txs = 100;
  for (int i = 0; i < 4; i++) ck_assert_ptr_nonnull(W.val[i] = key_generate());
  ck_assert_ptr_nonnull(W.insurer = key_generate());
  ck_assert_ptr_nonnull(W.subject = key_generate());
  for (int gi = 0; gi < 4; gi++) {
    int byname = 0;
    while (BYNAME[byname] != gi) byname++;
    add_member(W.g, VNAMES[gi], ROLE_BUREAU, W.val[byname], 1);
    if (byname == 0) ck_assert_int_eq(domain_set_add(&W.g->members[gi].domains, "hrss"), CX_OK);
  }
  if (!o->insurer_not_genesis) add_member(W.g, "insurer", ROLE_INSURER, W.insurer, 0);
  char err[256] = "";
  ck_assert_msg(vm_genesis_validate(W.g, err, sizeof err) == CX_OK, "genesis: %s", err);
  vm_genesis_hash(W.g, &W.chain_id);
  tu_randbytes(W.contract.b, 32);
  tu_randbytes(W.did.b, 32);

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
  uint64_t gh = o->grant_height ? o->grant_height : 2;
  block_with(gh, raw, len, 1, 2, CX_OK, W.val, &W.chain_id, &W.grant);

  /* the call, signed by the insurer (no params: no dealing) */
  tx_init(&tx);
  tx.type = TX_CALL;
  tx.u.call.contract = W.contract;
  tx.u.call.did = W.did;
  tx.u.call.consent = W.grant.txid;
  sign_encode(&tx, W.insurer, &raw, &len);
  tx_clear(&tx);
  block_with(3, raw, len, 0, 3, o->call_code, W.val, &W.chain_id, &W.call);

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
  block_with(o->anchor_height ? o->anchor_height : 4, raw, len, 1, 3, CX_OK, W.val, &W.chain_id, &W.anchor);

  /* the result, submitted by alpha, signed by the first nsig parties */
  tx_init(&tx);
  tx.type = TX_CALL_RESULT;
  cx_tx_call_result *r = &tx.u.result;
  r->call = W.call.txid;
  size_t nsig = o->nsig ? o->nsig : 3;
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
  for (size_t i = 0; i < nsig; i++) {
    uint8_t blob[64];
    tu_randbytes(blob, sizeof blob);
    r->sigs[i].party = (uint8_t)i;
    if (!o->aborted) ck_assert_int_eq(tx_result_set_blob(&tx, i, blob, sizeof blob), CX_OK);
    tx_result_sig_msg(&st, r->sigs[i].blob, r->sigs[i].blob_len, &msg);
    cx_seckey *k = W.val[i], *foreign = NULL;
    if (o->foreign_signer && i == nsig - 1) k = foreign = key_generate();
    ck_assert_int_eq(key_sign32(k, msg.b, NULL, &r->sigs[i].sig), CX_OK);
    key_free(foreign);
  }
  sign_encode(&tx, W.val[0], &raw, &len);
  tx_clear(&tx);
  cx_seckey *other[4] = {NULL};
  if (o->result_cert_foreign)
    for (int i = 0; i < 4; i++) other[i] = key_generate();
  block_with(5, raw, len, 2, 4, CX_OK, o->result_cert_foreign ? other : W.val, &W.chain_id, &W.result);
  for (int i = 0; i < 4; i++) key_free(other[i]);
}

static void piece_free(piece *p) {
  free(p->raw);
  free(p->header);
  free(p->cert);
}

static void teardown(void) {
  for (int i = 0; i < 4; i++) key_free(W.val[i]);
  key_free(W.insurer);
  key_free(W.subject);
  piece_free(&W.grant);
  piece_free(&W.call);
  piece_free(&W.result);
  piece_free(&W.anchor);
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
  return in;
}

static const char *const ALL[] = {"call",         "result", "call block",    "call inclusion",
                                  "result block", "result inclusion", "mpc", "consent",
                                  "consent block", "consent inclusion", "snapshot"};
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
         (const char *const[]){"validator set differs from genesis: not verifiable from genesis alone"}, 1);
  teardown();
}
END_TEST

START_TEST(cert_other_validators) {
  build(&(opts){.result_cert_foreign = 1});
  verify_input in = input();
  expect(run(&in), (const char *const[]){"result block"}, (const char *const[]){"validator set differs"}, 1);
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
  return s;
}

int main(void) { return tu_run(suite()); }
