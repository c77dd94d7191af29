/* Benchmark commands (TX_COMMAND, docs/transactions.md "Commands"): the
 * 34-byte encoding, the genesis flag and chain id, the mempool's FIFO lane,
 * admission, and blocks (built, executed, refused). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "genesis.h"
#include "keystore.h"
#include "log.h"
#include "mempool.h"
#include "node.h"
#include "node_internal.h"
#include "nodeutil.h"
#include "store.h"
#include "testutil.h"
#include "tx.h"
#include "vm.h"

static void payload_of(uint64_t i, uint8_t p[CX_COMMAND_PAYLOAD]) {
  memset(p, 0xab, CX_COMMAND_PAYLOAD);
  for (int j = 0; j < 8; j++) p[j] = (uint8_t)(i >> (56 - 8 * j));
}

static void command_raw(uint64_t i, uint8_t raw[CX_COMMAND_BYTES], cx_hash *txid) {
  uint8_t p[CX_COMMAND_PAYLOAD];
  payload_of(i, p);
  tx_command_encode(p, raw);
  if (txid) tx_id_of_bytes(raw, CX_COMMAND_BYTES, txid);
}

/* ---- core: encoding ---- */

START_TEST(test_command_roundtrip) {
  uint8_t raw[CX_COMMAND_BYTES], *out = NULL;
  size_t len = 0, off = 0;
  cx_tx tx;
  command_raw(7, raw, NULL);
  ck_assert_uint_eq(raw[0], CX_TX_VERSION);
  ck_assert_uint_eq(raw[1], TX_COMMAND);
  ck_assert_int_eq(tx_decode(raw, sizeof raw, &tx, &off), CX_OK);
  ck_assert_uint_eq(tx.type, TX_COMMAND);
  ck_assert_mem_eq(tx.u.cmd.payload, raw + 2, CX_COMMAND_PAYLOAD);
  ck_assert_str_eq(tx_type_name(TX_COMMAND), "command");
  ck_assert_int_eq(tx_type_parse("command"), TX_COMMAND);
  /* both encodings are the 34 bytes: nothing is signed */
  for (int with_sig = 0; with_sig <= 1; with_sig++) {
    ck_assert_int_eq(tx_encode(&tx, with_sig, &out, &len), CX_OK);
    ck_assert_uint_eq(len, CX_COMMAND_BYTES);
    ck_assert_mem_eq(out, raw, CX_COMMAND_BYTES);
    free(out);
  }
  cx_hash h, want;
  ck_assert_int_eq(tx_sighash(&tx, &h), CX_E_INVALID_ARG);
  ck_assert_int_eq(tx_verify_sig(&tx), CX_E_BAD_SIG);
  ck_assert_int_eq(tx_verify_sig_raw(&tx, raw, sizeof raw), CX_E_BAD_SIG);
  /* txid: the tagged hash of the bytes, as for every transaction */
  tx_id_of_bytes(raw, sizeof raw, &h);
  hash_tagged(CX_TAG_TX, raw, sizeof raw, &want);
  ck_assert(hash_eq(&h, &want));
  tx_clear(&tx);
}
END_TEST

START_TEST(test_command_lengths_refused) {
  uint8_t buf[CX_COMMAND_BYTES + 8];
  cx_tx tx;
  size_t off = 0;
  command_raw(1, buf, NULL);
  memset(buf + CX_COMMAND_BYTES, 0, 8);
  for (size_t len = 0; len <= sizeof buf; len++) {
    cx_err e = tx_decode(buf, len, &tx, &off);
    if (len == CX_COMMAND_BYTES) {
      ck_assert_int_eq(e, CX_OK);
      tx_clear(&tx);
      continue;
    }
    ck_assert_msg(e != CX_OK, "a command of %zu bytes was accepted", len);
    ck_assert_int_eq(e, len < CX_COMMAND_BYTES ? CX_E_TRUNCATED : CX_E_TRAILING);
    ck_assert_uint_eq(tx.type, 0);
  }
  buf[0] = 2; /* another version */
  ck_assert_int_eq(tx_decode(buf, CX_COMMAND_BYTES, &tx, &off), CX_E_BAD_VERSION);
}
END_TEST

/* ---- genesis: the flag and the chain id ---- */

START_TEST(test_genesis_flag) {
  vm_genesis *g = calloc(1, sizeof *g), *back = calloc(1, sizeof *back);
  keystore_keys k;
  char err[256];
  ck_assert_ptr_nonnull(g);
  ck_assert_int_eq(keystore_generate(&k), CX_OK);
  snprintf(g->chain_name, sizeof g->chain_name, "flagtest");
  g->time_ms = 1;
  g->block_max_txs = 400;
  g->nmembers = 1;
  nu_member(&g->members[0], "hrss", ROLE_BUREAU, &k, "tcp://127.0.0.1:1", "hrss");
  cx_hash off_id, on_id;
  vm_genesis_hash(g, &off_id);
  cJSON *j = genesis_to_json(g);
  ck_assert_ptr_null(cJSON_GetObjectItem(j, "bench_commands")); /* absent = false */
  cJSON_Delete(j);
  g->bench_commands = 1;
  vm_genesis_hash(g, &on_id);
  ck_assert(!hash_eq(&off_id, &on_id)); /* the chain id covers the flag */
  j = genesis_to_json(g);
  ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "bench_commands")));
  ck_assert_int_eq(genesis_from_json(j, back, err, sizeof err), CX_OK);
  ck_assert_uint_eq(back->bench_commands, 1);
  cx_hash again;
  vm_genesis_hash(back, &again);
  ck_assert(hash_eq(&again, &on_id));
  cJSON_ReplaceItemInObject(j, "bench_commands", cJSON_CreateString("yes"));
  ck_assert_int_ne(genesis_from_json(j, back, err, sizeof err), CX_OK);
  cJSON_Delete(j);
  keystore_keys_free(&k);
  free(g);
  free(back);
}
END_TEST

/* ---- mempool: the FIFO lane ---- */

typedef struct {
  cx_hash got[64];
  size_t n, stop_at;
} take_log;

static int take_cmd(void *ctx, const cx_hash *txid, const uint8_t *raw, size_t len) {
  take_log *t = ctx;
  ck_assert_uint_eq(len, CX_COMMAND_BYTES);
  ck_assert_uint_eq(raw[1], TX_COMMAND);
  if (t->stop_at && t->n == t->stop_at) return -1;
  t->got[t->n++] = *txid;
  return 1;
}

START_TEST(test_mempool_lane) {
  mempool *m = mempool_new(8, 4);
  ck_assert_ptr_nonnull(m);
  uint8_t raw[CX_COMMAND_BYTES];
  cx_hash id[10];
  for (uint64_t i = 0; i < 8; i++) {
    command_raw(i, raw, &id[i]);
    ck_assert_int_eq(mempool_add_command(m, &id[i], raw), CX_OK);
  }
  /* duplicate by txid; then the shared bound */
  command_raw(3, raw, &id[9]);
  ck_assert_int_eq(mempool_add_command(m, &id[9], raw), CX_E_DUPLICATE);
  command_raw(8, raw, &id[8]);
  ck_assert_int_eq(mempool_add_command(m, &id[8], raw), CX_E_MEMPOOL_FULL);
  mempool_stats st;
  mempool_stats_get(m, &st);
  ck_assert_uint_eq(st.size, 8);
  ck_assert_uint_eq(st.commands, 8);
  ck_assert_uint_eq(st.rejected, 2);
  ck_assert(mempool_has(m, &id[5]));
  uint8_t *back = NULL;
  size_t bl = 0;
  ck_assert_int_eq(mempool_get_raw(m, &id[5], &back, &bl), CX_OK);
  ck_assert_uint_eq(bl, CX_COMMAND_BYTES);
  free(back);
  /* arrival order, capped at max */
  take_log t = {0};
  ck_assert_uint_eq(mempool_select_commands(m, 5, take_cmd, &t), 5);
  ck_assert_uint_eq(t.n, 5);
  for (size_t i = 0; i < 5; i++) ck_assert(hash_eq(&t.got[i], &id[i]));
  /* removal by txid, from the middle and the head; ids not pending ignored */
  cx_hash rm[3] = {id[0], id[4], id[8]};
  mempool_remove_commands(m, rm, 3);
  mempool_stats_get(m, &st);
  ck_assert_uint_eq(st.size, 6);
  ck_assert_uint_eq(st.commands, 6);
  ck_assert_uint_eq(st.committed, 2);
  ck_assert(!mempool_has(m, &id[4]));
  memset(&t, 0, sizeof t);
  ck_assert_uint_eq(mempool_select_commands(m, 100, take_cmd, &t), 6);
  uint64_t want[] = {1, 2, 3, 5, 6, 7};
  for (size_t i = 0; i < 6; i++) ck_assert(hash_eq(&t.got[i], &id[want[i]]));
  /* -1 stops */
  memset(&t, 0, sizeof t);
  t.stop_at = 2;
  ck_assert_uint_eq(mempool_select_commands(m, 100, take_cmd, &t), 2);
  /* room again after removal: a removed command can come back */
  command_raw(0, raw, &id[0]);
  ck_assert_int_eq(mempool_add_command(m, &id[0], raw), CX_OK);
  command_raw(8, raw, &id[8]);
  ck_assert_int_eq(mempool_add_command(m, &id[8], raw), CX_OK);
  ck_assert_int_eq(mempool_add_command(m, &id[4], raw), CX_E_MEMPOOL_FULL);
  mempool_free(m);
}
END_TEST

/* Many add/remove cycles: tombstones are rebuilt, nothing leaks or loops. */
START_TEST(test_mempool_lane_churn) {
  mempool *m = mempool_new(64, 4);
  uint8_t raw[CX_COMMAND_BYTES];
  cx_hash ids[64];
  for (uint64_t round = 0; round < 200; round++) {
    for (uint64_t i = 0; i < 64; i++) {
      command_raw(round * 64 + i, raw, &ids[i]);
      ck_assert_int_eq(mempool_add_command(m, &ids[i], raw), CX_OK);
    }
    mempool_remove_commands(m, ids, 64);
  }
  mempool_stats st;
  mempool_stats_get(m, &st);
  ck_assert_uint_eq(st.size, 0);
  ck_assert_uint_eq(st.committed, 200 * 64);
  mempool_free(m);
}
END_TEST

/* ---- a node: admission and blocks ---- */

static char *g_dir;
static node *g_node;
static keystore_keys g_keys;

static node *open_node(int bench) {
  char err[256] = "", path[512];
  ck_assert_int_eq(keystore_generate(&g_keys), CX_OK);
  nu_keystore_save(g_dir, &g_keys);
  vm_genesis *g = calloc(1, sizeof *g);
  snprintf(g->chain_name, sizeof g->chain_name, "cmdtest");
  g->time_ms = 1;
  g->block_max_txs = 400;
  g->bench_commands = (uint8_t)bench;
  g->nmembers = 1;
  nu_member(&g->members[0], "hrss", ROLE_BUREAU, &g_keys, "tcp://127.0.0.1:1", "hrss");
  cJSON *gj = genesis_to_json(g);
  char *text = cJSON_Print(gj);
  snprintf(path, sizeof path, "%s/genesis.json", g_dir);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  free(text);
  cJSON_Delete(gj);
  free(g);
  node_config cfg;
  nu_config(&cfg, g_dir, "hrss");
  cfg.keys_enabled = 0;
  node *n = NULL;
  ck_assert_msg(node_open(&cfg, &n, err, sizeof err) == CX_OK, "node_open: %s", err);
  return n;
}

static void setup(void) {
  log_set_level(LOG_WARN);
  g_dir = tu_tmpdir("commands");
  g_node = NULL;
}

static void teardown(void) {
  node_close(g_node);
  keystore_keys_free(&g_keys);
  tu_rmrf(g_dir);
  free(g_dir);
}

/* A block at the next height over our tip, by us, with these encodings
 * (roots left zero: the command checks come first), in a cache entry. */
static bcache_ent *make_block(node *n, uint8_t (*raws)[CX_COMMAND_BYTES], size_t k) {
  cx_block b;
  block_init(&b);
  b.h.chain_id = n->chain_id;
  b.h.height = store_height(n->st) + 1;
  store_tip_hash(n->st, &b.h.parent);
  b.h.time_ms = n->tip_time + 1;
  b.h.proposer = n->keys.pub;
  for (size_t i = 0; i < k; i++) ck_assert_int_eq(block_add_tx(&b, raws[i], CX_COMMAND_BYTES), CX_OK);
  bcache_ent *e = blocks_cache_slot(n);
  ck_assert_int_eq(block_encode(&b, &e->bytes, &e->len), CX_OK);
  block_hash(&b.h, &e->hash);
  block_clear(&b);
  return e;
}

START_TEST(test_node_commands) {
  g_node = open_node(1);
  node *n = g_node;
  uint8_t raw[CX_COMMAND_BYTES];
  char detail[160] = "";
  cx_hash id[5];
  for (uint64_t i = 0; i < 5; i++) {
    command_raw(i, raw, NULL);
    ck_assert_int_eq(node_submit(n, raw, sizeof raw, &id[i], detail, sizeof detail), CX_OK);
  }
  command_raw(2, raw, NULL);
  ck_assert_int_eq(node_submit(n, raw, sizeof raw, &id[2], detail, sizeof detail), CX_E_DUPLICATE);
  cx_hash root0;
  store_state_root(n->st, &root0);
  uint64_t h0 = store_height(n->st);
  size_t ntx = 0;
  ck_assert_int_eq(node_produce_block(n, &ntx), CX_OK);
  ck_assert_uint_eq(ntx, 5);
  ck_assert_uint_eq(store_height(n->st), h0 + 1);
  cx_hash root1;
  store_state_root(n->st, &root1);
  ck_assert(hash_eq(&root0, &root1)); /* commands touch no state */
  /* persisted: in the txid index, in arrival order, receipt OK */
  for (uint32_t i = 0; i < 5; i++) {
    store_txloc loc;
    ck_assert_int_eq(store_tx_get(n->st, &id[i], &loc), CX_OK);
    ck_assert_uint_eq(loc.height, h0 + 1);
    ck_assert_uint_eq(loc.index, i);
    ck_assert_int_eq(loc.code, CX_OK);
  }
  mempool_stats st;
  mempool_stats_get(n->mp, &st);
  ck_assert_uint_eq(st.size, 0);
  /* a replay of a committed command: duplicate, with its height */
  command_raw(3, raw, NULL);
  ck_assert_int_eq(node_submit(n, raw, sizeof raw, &id[3], detail, sizeof detail), CX_E_DUPLICATE);
  ck_assert_msg(strstr(detail, "committed at height"), "detail: %s", detail);

  /* received blocks: a command twice in one block, a committed command */
  uint8_t raws[2][CX_COMMAND_BYTES];
  char why[256];
  command_raw(100, raws[0], NULL);
  command_raw(100, raws[1], NULL);
  bcache_ent *e = make_block(n, raws, 2);
  ck_assert_int_eq(blocks_exec(n, e, 0, why, sizeof why), CX_E_BAD_BLOCK);
  ck_assert_msg(strstr(why, "already in this block"), "why: %s", why);
  command_raw(1, raws[0], NULL);
  e = make_block(n, raws, 1);
  ck_assert_int_eq(blocks_exec(n, e, 0, why, sizeof why), CX_E_BAD_BLOCK);
  ck_assert_msg(strstr(why, "committed at height"), "why: %s", why);
  /* a fresh command passes those checks (then fails on our zero roots) */
  command_raw(101, raws[0], NULL);
  e = make_block(n, raws, 1);
  ck_assert_int_eq(blocks_exec(n, e, 0, why, sizeof why), CX_E_BAD_ROOT);

  /* A replay caught in the mempool for a moment (admit_command adds before
   * it reads the txid index): a block with it is still refused, and our
   * own next block leaves it out. */
  command_raw(1, raws[0], NULL);
  cx_hash rid;
  tx_id_of_bytes(raws[0], CX_COMMAND_BYTES, &rid);
  ck_assert_int_eq(mempool_add_command(n->mp, &rid, raws[0]), CX_OK);
  e = make_block(n, raws, 1);
  ck_assert_int_eq(blocks_exec(n, e, 0, why, sizeof why), CX_E_BAD_BLOCK);
  ck_assert_msg(strstr(why, "committed at height"), "why: %s", why);
  command_raw(6, raw, NULL);
  ck_assert_int_eq(node_submit(n, raw, sizeof raw, &id[0], detail, sizeof detail), CX_OK);
  ck_assert_int_eq(node_produce_block(n, &ntx), CX_OK);
  ck_assert_uint_eq(ntx, 1); /* the fresh one only */
  store_txloc loc;
  ck_assert_int_eq(store_tx_get(n->st, &rid, &loc), CX_OK);
  ck_assert_uint_eq(loc.height, h0 + 1); /* still where it was first committed */
}
END_TEST

START_TEST(test_node_without_flag) {
  g_node = open_node(0);
  node *n = g_node;
  uint8_t raw[CX_COMMAND_BYTES];
  char detail[160] = "", why[256];
  cx_hash id;
  command_raw(1, raw, NULL);
  ck_assert_int_eq(node_submit(n, raw, sizeof raw, &id, detail, sizeof detail), CX_E_WRONG_CHAIN);
  ck_assert_msg(strstr(detail, "bench_commands"), "detail: %s", detail);
  ck_assert(!mempool_has(n->mp, &id));
  uint8_t raws[1][CX_COMMAND_BYTES];
  memcpy(raws[0], raw, sizeof raw);
  bcache_ent *e = make_block(n, raws, 1);
  ck_assert_int_eq(blocks_exec(n, e, 0, why, sizeof why), CX_E_BAD_BLOCK);
  ck_assert_msg(strstr(why, "bench_commands"), "why: %s", why);
  /* the vm never executes a command */
  cx_tx tx;
  ck_assert_int_eq(tx_decode(raw, sizeof raw, &tx, NULL), CX_OK);
  cx_err receipt;
  store_ws *ws = store_ws_new(n->st);
  vm_state st = node_ws_state(ws);
  ck_assert_int_eq(vm_apply_tx(&st, &n->chain_id, &tx, &id, 1, &receipt), CX_E_INVALID_ARG);
  store_ws_free(ws);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("commands");
  TCase *c = tcase_create("core");
  tcase_add_test(c, test_command_roundtrip);
  tcase_add_test(c, test_command_lengths_refused);
  tcase_add_test(c, test_genesis_flag);
  suite_add_tcase(s, c);
  c = tcase_create("mempool");
  tcase_add_test(c, test_mempool_lane);
  tcase_add_test(c, test_mempool_lane_churn);
  suite_add_tcase(s, c);
  c = tcase_create("node");
  tcase_add_checked_fixture(c, setup, teardown);
  tcase_add_test(c, test_node_commands);
  tcase_add_test(c, test_node_without_flag);
  suite_add_tcase(s, c);
  return s;
}

int main(void) { return tu_run(suite()); }
