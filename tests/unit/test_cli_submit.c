/* cli_submit: the CLI's sign-and-submit flow (node/cli_rpc.c,
 * cli_sign_submit) against a scripted node: an in-process JSON-RPC server
 * whose status / account_get / tx_submit / tx_get answer what each case
 * says. It proves the nonce retry of cli_rpc.c ("a client's nonce and the
 * node's own transactions"): a nonce taken by another transaction of the
 * key (duplicate or nonce_used at submit, superseded while waiting) is
 * re-signed under the next free one, unless --nonce fixed it, these very
 * bytes are already in, or the transaction's content is bound to its nonce;
 * at most SUBMIT_TRIES (5) submissions. */
#include <check.h>
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hash.h"
#include "keystore.h"
#include "log.h"
#include "rpc.h"
#include "testutil.h"
#include "tx.h"

#define N0 7u /* the signer's nonce when the command starts */
#define MAX_SUBS 8

/* ---------------------------------------------------------------------------
 * The scripted node
 * ------------------------------------------------------------------------- */

typedef enum { SUB_OK, SUB_DUPLICATE, SUB_NONCE_USED } sub_answer;
typedef enum { GET_NOT_FOUND, GET_PENDING, GET_COMMITTED } get_answer;

/* What the node does with the i-th submission (the last step repeats). */
typedef struct {
  sub_answer submit;
  get_answer first; /* tx_get of its txid answers this */
  int nfirst;       /* the first nfirst times, */
  get_answer then;  /* then this */
} step;

static struct {
  pthread_mutex_t mu;
  cx_hash chain_id;
  uint64_t nonce;   /* account_get "nonce": the committed next nonce */
  uint64_t pending; /* next_nonce = nonce + pending */
  step steps[MAX_SUBS];
  int nsteps;
  /* what the node saw */
  int nsubs;
  uint64_t sub_nonce[MAX_SUBS];
  char sub_txid[MAX_SUBS][CX_HASH_HEX_LEN];
  int sub_sig_ok[MAX_SUBS];
  int sub_polls[MAX_SUBS];
  int ngets, naccount;
} g;

static rpc_server *g_srv;
static char g_url[64];

/* A step whose txid always gets the same tx_get answer. */
#define PLAIN(sub, get) {sub, get, 0, get}

static const step *step_of(int i) { return &g.steps[i < g.nsteps ? i : g.nsteps - 1]; }

static cx_err m_status(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  (void)ctx, (void)params, (void)err;
  char hex[CX_HASH_HEX_LEN];
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "chain_id", hash_hex(&g.chain_id, hex));
  cJSON_AddNumberToObject(r, "height", 3);
  *result = r;
  return CX_OK;
}

static cx_err m_account_get(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  (void)ctx;
  if (!rpc_param_str(params, "key", 0, err)) return CX_E_RPC_PARAMS;
  pthread_mutex_lock(&g.mu);
  g.naccount++;
  cJSON *r = cJSON_CreateObject();
  cJSON_AddNumberToObject(r, "nonce", (double)g.nonce);
  cJSON_AddNumberToObject(r, "next_nonce", (double)(g.nonce + g.pending));
  pthread_mutex_unlock(&g.mu);
  *result = r;
  return CX_OK;
}

/* Decodes and records the transaction, then answers per script. */
static cx_err m_tx_submit(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  (void)ctx;
  const char *hex = rpc_param_str(params, "tx", 0, err);
  if (!hex) return CX_E_RPC_PARAMS;
  size_t cap = strlen(hex) / 2 + 1, len = 0;
  uint8_t *buf = malloc(cap);
  if (!buf) return CX_E_NOMEM;
  cx_tx tx;
  cx_err e = hex_decode_var(hex, buf, cap, &len);
  if (!e) e = tx_decode(buf, len, &tx, NULL);
  if (e) {
    free(buf);
    snprintf(err->detail, sizeof err->detail, "params.tx: not a transaction");
    return e;
  }
  cx_hash id;
  tx_id_of_bytes(buf, len, &id);
  free(buf);
  pthread_mutex_lock(&g.mu);
  int i = g.nsubs++;
  sub_answer a = step_of(i)->submit;
  if (i < MAX_SUBS) {
    g.sub_nonce[i] = tx.nonce;
    hash_hex(&id, g.sub_txid[i]);
    g.sub_sig_ok[i] = tx_verify_sig(&tx) == CX_OK && hash_eq(&tx.chain_id, &g.chain_id);
  }
  pthread_mutex_unlock(&g.mu);
  uint64_t nonce = tx.nonce;
  tx_clear(&tx);
  switch (a) {
    case SUB_DUPLICATE:
      snprintf(err->detail, sizeof err->detail, "nonce %llu is pending", (unsigned long long)nonce);
      return CX_E_DUPLICATE;
    case SUB_NONCE_USED:
      snprintf(err->detail, sizeof err->detail, "nonce %llu, account is past it",
               (unsigned long long)nonce);
      return CX_E_NONCE_USED;
    case SUB_OK:
      break;
  }
  char txid[CX_HASH_HEX_LEN];
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "txid", hash_hex(&id, txid));
  *result = r;
  return CX_OK;
}

static cx_err m_tx_get(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  (void)ctx;
  const char *txid = rpc_param_str(params, "txid", 0, err);
  if (!txid) return CX_E_RPC_PARAMS;
  pthread_mutex_lock(&g.mu);
  g.ngets++;
  int i = -1;
  for (int k = 0; k < g.nsubs && k < MAX_SUBS; k++)
    if (strcmp(g.sub_txid[k], txid) == 0) i = k;
  get_answer a = GET_NOT_FOUND;
  if (i >= 0) a = g.sub_polls[i]++ < step_of(i)->nfirst ? step_of(i)->first : step_of(i)->then;
  pthread_mutex_unlock(&g.mu);
  if (a == GET_NOT_FOUND) {
    snprintf(err->detail, sizeof err->detail, "no transaction %s", txid);
    return CX_E_NOT_FOUND;
  }
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "txid", txid);
  if (a == GET_PENDING) {
    cJSON_AddStringToObject(r, "status", "pending");
  } else {
    cJSON_AddStringToObject(r, "status", "committed");
    cJSON_AddNumberToObject(r, "height", 4);
    cJSON *rec = cJSON_AddObjectToObject(r, "receipt");
    cJSON_AddBoolToObject(rec, "ok", 1);
    cJSON_AddNumberToObject(rec, "code", 0);
  }
  *result = r;
  return CX_OK;
}

static const rpc_method g_methods[] = {
    {"status", m_status, 0},
    {"account_get", m_account_get, 0},
    {"tx_submit", m_tx_submit, 0},
    {"tx_get", m_tx_get, 0},
};

static void setup(void) {
  memset(&g, 0, sizeof g);
  pthread_mutex_init(&g.mu, NULL);
  randombytes_buf(g.chain_id.b, sizeof g.chain_id.b);
  rpc_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.bind_addr = "127.0.0.1";
  cfg.threads = 2;
  size_t n = sizeof g_methods / sizeof g_methods[0];
  ck_assert_int_eq(rpc_server_start(&cfg, g_methods, n, NULL, &g_srv), CX_OK);
  snprintf(g_url, sizeof g_url, "http://127.0.0.1:%u", (unsigned)rpc_server_port(g_srv));
}

static void teardown(void) {
  rpc_server_stop(g_srv);
  g_srv = NULL;
  pthread_mutex_destroy(&g.mu);
}

/* ---------------------------------------------------------------------------
 * The client side
 * ------------------------------------------------------------------------- */

static cli_ctx make_ctx(int wait) {
  cli_ctx c;
  memset(&c, 0, sizeof c);
  c.node = g_url;
  c.json = 1;
  c.wait = wait;
  c.timeout_s = 3.0;
  return c;
}

/* A signer as cli_signer_open leaves it, without keystore or network. */
static void make_signer(cli_signer *s, uint64_t nonce, int forced) {
  memset(s, 0, sizeof *s);
  ck_assert_int_eq(keystore_generate(&s->keys), CX_OK);
  s->chain_id = g.chain_id;
  s->height = 3;
  s->nonce = nonce;
  s->nonce_forced = forced;
}

static void make_register(cx_tx *tx) {
  tx_init(tx);
  tx->type = TX_ID_REGISTER;
  randombytes_buf(tx->u.reg.did.b, sizeof tx->u.reg.did.b);
}

/* A call whose params are dealt: the dealing is sealed under a context
 * that includes the nonce (tx_call_context). */
static void make_dealt_call(cx_tx *tx) {
  tx_init(tx);
  tx->type = TX_CALL;
  randombytes_buf(tx->u.call.contract.b, 32);
  randombytes_buf(tx->u.call.did.b, 32);
  randombytes_buf(tx->u.call.consent.b, 32);
  size_t bl = tx_call_blob_len(1);
  uint8_t *blob = calloc(1, bl);
  cx_hash commit;
  ck_assert_ptr_nonnull(blob);
  memset(&commit, 0, sizeof commit);
  ck_assert_int_eq(tx_call_set_dealing(tx, 1, 1, blob, bl, &commit), CX_OK);
  free(blob);
}

typedef struct {
  int rc;
  char out[8192], err[8192]; /* what the command printed */
} run_result;

static void slurp(FILE *f, char *buf, size_t cap) {
  rewind(f);
  size_t n = fread(buf, 1, cap - 1, f);
  buf[n] = 0;
  fclose(f);
}

/* cli_sign_submit with stdout and stderr captured. */
static void run(const cli_ctx *c, cli_signer *s, cx_tx *tx, cJSON *extras, run_result *r) {
  FILE *fo = tmpfile(), *fe = tmpfile();
  ck_assert(fo && fe);
  fflush(stdout);
  fflush(stderr);
  int so = dup(STDOUT_FILENO), se = dup(STDERR_FILENO);
  ck_assert(so >= 0 && se >= 0);
  dup2(fileno(fo), STDOUT_FILENO);
  dup2(fileno(fe), STDERR_FILENO);
  r->rc = cli_sign_submit(c, s, tx, extras);
  fflush(stdout);
  fflush(stderr);
  dup2(so, STDOUT_FILENO);
  dup2(se, STDERR_FILENO);
  close(so);
  close(se);
  slurp(fo, r->out, sizeof r->out);
  slurp(fe, r->err, sizeof r->err);
}

static void script(const step *steps, int n) {
  ck_assert_int_le(n, MAX_SUBS);
  memcpy(g.steps, steps, (size_t)n * sizeof *steps);
  g.nsteps = n;
}

/* The node saw submissions with these nonces, each validly signed, with
 * pairwise different txids. */
static void expect_subs(const uint64_t *nonces, int n) {
  ck_assert_int_eq(g.nsubs, n);
  for (int i = 0; i < n; i++) {
    ck_assert_uint_eq(g.sub_nonce[i], nonces[i]);
    ck_assert_int_eq(g.sub_sig_ok[i], 1);
    for (int k = 0; k < i; k++) ck_assert_str_ne(g.sub_txid[k], g.sub_txid[i]);
  }
}

/* ---------------------------------------------------------------------------
 * Cases
 * ------------------------------------------------------------------------- */

/* 1. duplicate at submit, the node does not know these bytes: another
 * transaction holds nonce N; re-signed under N + 1 and committed. */
START_TEST(duplicate_resigns) {
  static const step steps[] = {PLAIN(SUB_DUPLICATE, GET_NOT_FOUND),
                               {SUB_OK, GET_PENDING, 1, GET_COMMITTED}};
  script(steps, 2);
  g.nonce = N0;
  g.pending = 1; /* the node's own transaction at N */
  cli_ctx c = make_ctx(1);
  cli_signer s;
  cx_tx tx;
  run_result r;
  make_signer(&s, N0, 0);
  make_register(&tx);
  run(&c, &s, &tx, NULL, &r);
  ck_assert_msg(r.rc == CLI_OK, "rc %d, stderr: %s", r.rc, r.err);
  expect_subs((const uint64_t[]){N0, N0 + 1}, 2);
  ck_assert_uint_eq(s.nonce, N0 + 1);
  ck_assert_ptr_nonnull(strstr(r.out, g.sub_txid[1])); /* the receipt of the second */
  ck_assert_ptr_null(strstr(r.out, g.sub_txid[0]));
  ck_assert_ptr_nonnull(strstr(r.out, "\"committed\""));
  ck_assert_ptr_nonnull(strstr(r.err, "nonce 7 is taken by a pending transaction"));
  ck_assert_ptr_nonnull(strstr(r.err, "under nonce 8"));
  tx_clear(&tx);
  cli_signer_close(&s);
}
END_TEST

/* 2. duplicate, but tx_get knows these very bytes (an earlier copy of the
 * same transaction): never signed twice, it waits for that txid. */
START_TEST(duplicate_same_bytes_waits) {
  static const step steps[] = {{SUB_DUPLICATE, GET_PENDING, 2, GET_COMMITTED}};
  script(steps, 1);
  g.nonce = N0;
  g.pending = 1;
  cli_ctx c = make_ctx(1);
  cli_signer s;
  cx_tx tx;
  run_result r;
  make_signer(&s, N0, 0);
  make_register(&tx);
  run(&c, &s, &tx, NULL, &r);
  ck_assert_msg(r.rc == CLI_OK, "rc %d, stderr: %s", r.rc, r.err);
  expect_subs((const uint64_t[]){N0}, 1);
  ck_assert_int_eq(g.sub_polls[0], 3); /* known_tx, a pending poll, the committed one */
  ck_assert_int_eq(g.naccount, 0);
  ck_assert_ptr_nonnull(strstr(r.out, g.sub_txid[0]));
  ck_assert_ptr_null(strstr(r.err, "signing again"));
  tx_clear(&tx);
  cli_signer_close(&s);
}
END_TEST

/* 3. accepted, then superseded while waiting: the node knows the txid no
 * more and the account's committed nonce has passed N. */
START_TEST(superseded_resigns) {
  static const step steps[] = {{SUB_OK, GET_PENDING, 1, GET_NOT_FOUND},
                               PLAIN(SUB_OK, GET_COMMITTED)};
  script(steps, 2);
  g.nonce = N0 + 1; /* another transaction committed at N */
  g.pending = 0;
  cli_ctx c = make_ctx(1);
  cli_signer s;
  cx_tx tx;
  run_result r;
  make_signer(&s, N0, 0);
  make_register(&tx);
  run(&c, &s, &tx, NULL, &r);
  ck_assert_msg(r.rc == CLI_OK, "rc %d, stderr: %s", r.rc, r.err);
  expect_subs((const uint64_t[]){N0, N0 + 1}, 2);
  ck_assert_ptr_nonnull(strstr(r.out, g.sub_txid[1]));
  ck_assert_ptr_nonnull(strstr(r.err, "nonce 7 was used"));
  tx_clear(&tx);
  cli_signer_close(&s);
}
END_TEST

/* While the committed nonce has not passed N, not_found is the instant
 * between mempool and store: no re-sign, it keeps polling. */
START_TEST(not_found_before_nonce_passes_keeps_waiting) {
  static const step steps[] = {PLAIN(SUB_OK, GET_NOT_FOUND)};
  script(steps, 1);
  g.nonce = N0;
  g.pending = 1;
  cli_ctx c = make_ctx(1);
  c.timeout_s = 0.5;
  cli_signer s;
  cx_tx tx;
  run_result r;
  make_signer(&s, N0, 0);
  make_register(&tx);
  run(&c, &s, &tx, NULL, &r);
  ck_assert_int_eq(r.rc, CLI_UNREACHABLE);
  expect_subs((const uint64_t[]){N0}, 1);
  ck_assert_int_ge(g.ngets, 3);
  ck_assert_ptr_nonnull(strstr(r.err, "not committed within"));
  tx_clear(&tx);
  cli_signer_close(&s);
}
END_TEST

/* not_found, the committed nonce past N, but the second read finds the
 * transaction committed (the commit fell between tx_get and account_get):
 * it is the one that used N, nothing is re-signed. */
START_TEST(commit_between_reads_not_superseded) {
  static const step steps[] = {{SUB_OK, GET_NOT_FOUND, 1, GET_COMMITTED}};
  script(steps, 1);
  g.nonce = N0 + 1;
  g.pending = 0;
  cli_ctx c = make_ctx(1);
  cli_signer s;
  cx_tx tx;
  run_result r;
  make_signer(&s, N0, 0);
  make_register(&tx);
  run(&c, &s, &tx, NULL, &r);
  ck_assert_msg(r.rc == CLI_OK, "rc %d, stderr: %s", r.rc, r.err);
  expect_subs((const uint64_t[]){N0}, 1);
  ck_assert_int_eq(g.sub_polls[0], 2);
  ck_assert_ptr_nonnull(strstr(r.out, g.sub_txid[0]));
  tx_clear(&tx);
  cli_signer_close(&s);
}
END_TEST

/* 4. as 3 with --nonce: never re-signed; refused, saying why. */
START_TEST(superseded_forced_refused) {
  static const step steps[] = {PLAIN(SUB_OK, GET_NOT_FOUND), PLAIN(SUB_OK, GET_COMMITTED)};
  script(steps, 2);
  g.nonce = N0 + 1;
  g.pending = 0;
  cli_ctx c = make_ctx(1);
  cli_signer s;
  cx_tx tx;
  run_result r;
  make_signer(&s, N0, 1);
  make_register(&tx);
  run(&c, &s, &tx, NULL, &r);
  ck_assert_int_eq(r.rc, CLI_REFUSED);
  expect_subs((const uint64_t[]){N0}, 1);
  ck_assert_uint_eq(s.nonce, N0);
  ck_assert_ptr_nonnull(strstr(r.err, "superseded: nonce 7"));
  ck_assert_str_eq(r.out, "");
  tx_clear(&tx);
  cli_signer_close(&s);
}
END_TEST

/* With --nonce, a duplicate at submit is the node's error, as is. */
START_TEST(duplicate_forced_refused) {
  static const step steps[] = {PLAIN(SUB_DUPLICATE, GET_NOT_FOUND), PLAIN(SUB_OK, GET_COMMITTED)};
  script(steps, 2);
  g.nonce = N0;
  g.pending = 1;
  cli_ctx c = make_ctx(1);
  cli_signer s;
  cx_tx tx;
  run_result r;
  make_signer(&s, N0, 1);
  make_register(&tx);
  run(&c, &s, &tx, NULL, &r);
  ck_assert_int_eq(r.rc, CLI_REFUSED);
  expect_subs((const uint64_t[]){N0}, 1);
  ck_assert_ptr_nonnull(strstr(r.err, "tx_submit: "));
  ck_assert_ptr_nonnull(strstr(r.err, "(duplicate, code 205)"));
  tx_clear(&tx);
  cli_signer_close(&s);
}
END_TEST

/* 5. nonce_used at submit: re-signed, under next_nonce when the account is
 * further on than N + 1. */
START_TEST(nonce_used_resigns) {
  static const step steps[] = {PLAIN(SUB_NONCE_USED, GET_NOT_FOUND), PLAIN(SUB_OK, GET_COMMITTED)};
  script(steps, 2);
  g.nonce = N0 + 2; /* two transactions of the key committed meanwhile */
  g.pending = 0;
  cli_ctx c = make_ctx(1);
  cli_signer s;
  cx_tx tx;
  run_result r;
  make_signer(&s, N0, 0);
  make_register(&tx);
  run(&c, &s, &tx, NULL, &r);
  ck_assert_msg(r.rc == CLI_OK, "rc %d, stderr: %s", r.rc, r.err);
  expect_subs((const uint64_t[]){N0, N0 + 2}, 2);
  ck_assert_ptr_nonnull(strstr(r.err, "nonce 7 was used"));
  ck_assert_ptr_nonnull(strstr(r.err, "under nonce 9"));
  tx_clear(&tx);
  cli_signer_close(&s);
}
END_TEST

/* 6. a collision every time: SUBMIT_TRIES (5) submissions, then the node's
 * error. The node's next_nonce lags (stays at N): the client still moves
 * on by one each time. */
START_TEST(gives_up_after_five) {
  static const step steps[] = {PLAIN(SUB_DUPLICATE, GET_NOT_FOUND)};
  script(steps, 1);
  g.nonce = N0;
  g.pending = 0;
  cli_ctx c = make_ctx(1);
  cli_signer s;
  cx_tx tx;
  run_result r;
  make_signer(&s, N0, 0);
  make_register(&tx);
  run(&c, &s, &tx, NULL, &r);
  ck_assert_int_eq(r.rc, CLI_REFUSED);
  expect_subs((const uint64_t[]){N0, N0 + 1, N0 + 2, N0 + 3, N0 + 4}, 5);
  ck_assert_ptr_nonnull(strstr(r.err, "(duplicate, code 205)"));
  ck_assert_ptr_nonnull(strstr(r.err, "nonce 11 is pending"));
  ck_assert_str_eq(r.out, "");
  tx_clear(&tx);
  cli_signer_close(&s);
}
END_TEST

/* 7. without --wait: one submission, the txid (and the extras) printed,
 * no tx_get. */
START_TEST(no_wait_prints_txid) {
  static const step steps[] = {PLAIN(SUB_OK, GET_NOT_FOUND)};
  script(steps, 1);
  g.nonce = N0;
  cli_ctx c = make_ctx(0);
  cli_signer s;
  cx_tx tx;
  run_result r;
  make_signer(&s, N0, 0);
  make_register(&tx);
  cJSON *extras = cJSON_CreateObject();
  cJSON_AddStringToObject(extras, "did", "did:custos:test");
  run(&c, &s, &tx, extras, &r);
  ck_assert_msg(r.rc == CLI_OK, "rc %d, stderr: %s", r.rc, r.err);
  expect_subs((const uint64_t[]){N0}, 1);
  ck_assert_int_eq(g.ngets, 0);
  cJSON *o = cJSON_Parse(r.out);
  ck_assert_ptr_nonnull(o);
  const cJSON *txid = cJSON_GetObjectItemCaseSensitive(o, "txid");
  const cJSON *did = cJSON_GetObjectItemCaseSensitive(o, "did");
  ck_assert(cJSON_IsString(txid) && cJSON_IsString(did));
  ck_assert_str_eq(txid->valuestring, g.sub_txid[0]);
  ck_assert_str_eq(did->valuestring, "did:custos:test");
  ck_assert_str_eq(r.err, "");
  cJSON_Delete(o);
  tx_clear(&tx);
  cli_signer_close(&s);
}
END_TEST

/* A call with dealt params: its shares are sealed under a context that
 * includes the nonce (tx_call_context; node/call_service.c opens them under
 * the transaction's nonce), so a copy re-signed under another nonce could
 * never be opened by its parties. A collision is reported, never re-signed. */
START_TEST(dealt_call_not_resigned) {
  static const step steps[] = {PLAIN(SUB_DUPLICATE, GET_NOT_FOUND), PLAIN(SUB_OK, GET_COMMITTED)};
  script(steps, 2);
  g.nonce = N0;
  g.pending = 1;
  cli_ctx c = make_ctx(0); /* `custos call` without --wait */
  cli_signer s;
  cx_tx tx;
  run_result r;
  make_signer(&s, N0, 0);
  make_dealt_call(&tx);
  run(&c, &s, &tx, NULL, &r);
  ck_assert_int_eq(r.rc, CLI_REFUSED);
  expect_subs((const uint64_t[]){N0}, 1);
  ck_assert_ptr_nonnull(strstr(r.err, "(duplicate, code 205)"));
  tx_clear(&tx);
  cli_signer_close(&s);
}
END_TEST

static Suite *cli_submit_suite(void) {
  Suite *s = suite_create("cli_submit");
  TCase *tc = tcase_create("retry");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, duplicate_resigns);
  tcase_add_test(tc, duplicate_same_bytes_waits);
  tcase_add_test(tc, superseded_resigns);
  tcase_add_test(tc, not_found_before_nonce_passes_keeps_waiting);
  tcase_add_test(tc, commit_between_reads_not_superseded);
  tcase_add_test(tc, superseded_forced_refused);
  tcase_add_test(tc, duplicate_forced_refused);
  tcase_add_test(tc, nonce_used_resigns);
  tcase_add_test(tc, gives_up_after_five);
  tcase_add_test(tc, no_wait_prints_txid);
  tcase_add_test(tc, dealt_call_not_resigned);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  if (sodium_init() < 0) return 1;
  log_set_level(LOG_WARN); /* the server's start-up lines */
  return tu_run(cli_submit_suite());
}
