/* config: custosd's configuration (node/config.h). A table of bad configs,
 * each refused with CX_E_CONFIG and a message that starts with the field's
 * path; good configs keep their values and defaults; the configs `custos
 * devnet init` writes load and pass --check-config's deeper checks; every
 * field the parser accepts is documented in docs/operator-guide.md. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "config.h"
#include "fileutil.h"
#include "keystore.h"
#include "log.h"
#include "nodeutil.h"
#include "testutil.h"

static char *g_dir;
static keystore_keys g_keys;

/* DIR/genesis.json naming member hrss (validator at tcp://127.0.0.1:26656)
 * with DIR/key.json's key, DIR/passphrase ("pw"). */
static void setup(void) {
  g_dir = tu_tmpdir("custos-cfg");
  cx_member m;
  ck_assert_int_eq(keystore_generate(&g_keys), CX_OK);
  nu_member(&m, "hrss", ROLE_BUREAU, &g_keys, "tcp://127.0.0.1:26656", "hrss");
  nu_genesis_write(g_dir, "cfgtest", &m, 1);
  nu_keystore_save(g_dir, &g_keys);
  char p[512];
  snprintf(p, sizeof p, "%s/passphrase", g_dir);
  ck_assert_int_eq(file_write_atomic(p, "pw\n", 3, 0600), CX_OK);
  unsetenv("CUSTOS_PASSPHRASE");
}

static void teardown(void) {
  keystore_keys_free(&g_keys);
  tu_rmrf(g_dir);
  free(g_dir);
  g_dir = NULL;
}

static cx_err parse(const char *text, node_config *c, char *err, size_t el) {
  err[0] = 0;
  return config_parse_buffer(text, strlen(text), g_dir, c, err, el);
}

#define BASE                                                                                  \
  "\"name\": \"hrss\", \"data_dir\": \"data\", \"genesis\": \"genesis.json\", "                \
  "\"keystore\": \"key.json\""

/* ---- refused configs ---- */

static const struct {
  const char *text;
  const char *field;  /* the message starts with "field: " */
  const char *detail; /* and contains this */
} BAD[] = {
    /* unknown fields, with and without a suggestion */
    {"{" BASE ", \"nmae\": \"x\"}", "nmae", "unknown field (did you mean name?)"},
    {"{" BASE ", \"rpc\": {\"prot\": 1}}", "rpc.prot", "unknown field (did you mean rpc.port?)"},
    {"{" BASE ", \"mpc\": {\"pool_cap\": \"x\"}}", "mpc.pool_cap", "unknown field"},
    {"{" BASE ", \"bogus_thing\": 1}", "bogus_thing", "unknown field"},
    {"{" BASE ", \"port\": 1}", "port", "did you mean rpc.port?"},
    {"{" BASE ", \"mpcc\": {}}", "mpcc", "did you mean mpc?"},
    {"{" BASE ", \"rpc.port\": 1}", "rpc.port", "did you mean \"rpc\": {\"port\": ...}?"},
    {"{" BASE ", \"\\u0001x\": 1}", "?x", "unknown field"},
    /* repeated keys */
    {"{" BASE ", \"name\": \"civil\"}", "name", "given twice"},
    {"{" BASE ", \"rpc\": {\"port\": 1, \"port\": 2}}", "rpc.port", "given twice"},
    {"{" BASE ", \"rpc\": {}, \"rpc\": {}}", "rpc", "given twice"},
    /* structure */
    {"[1, 2]", "(top level)", "expected a JSON object {...}, got [1,2]"},
    {"{" BASE ", \"rpc\": 5}", "rpc", "expected an object {...}, got 5"},
    {"{" BASE ", \"mpc\": [true]}", "mpc", "got [true]"},
    /* required fields, types, empty strings */
    {"{\"data_dir\": \"d\", \"genesis\": \"genesis.json\", \"keystore\": \"key.json\"}", "name",
     "missing"},
    {"{\"name\": \"hrss\", \"data_dir\": \"d\", \"genesis\": \"genesis.json\"}", "keystore",
     "missing"},
    {"{\"name\": 5, \"data_dir\": \"d\", \"genesis\": \"g\", \"keystore\": \"k\"}", "name",
     "expected a member name (1-32 characters of a-z 0-9 _ -), got 5"},
    {"{\"name\": \"Hrss!\", \"data_dir\": \"d\", \"genesis\": \"g\", \"keystore\": \"k\"}", "name",
     "got \"Hrss!\""},
    {"{\"name\": \"\", \"data_dir\": \"d\", \"genesis\": \"g\", \"keystore\": \"k\"}", "name",
     "got \"\""},
    {"{\"name\": \"hrss\", \"data_dir\": \"d\", \"genesis\": \"\", \"keystore\": \"k\"}", "genesis",
     "expected a non-empty path, got \"\""},
    {"{\"name\": \"hrss\", \"data_dir\": [], \"genesis\": \"g\", \"keystore\": \"k\"}", "data_dir",
     "expected a non-empty path, got []"},
    {"{" BASE ", \"passphrase_file\": \"\"}", "passphrase_file", "non-empty path"},
    {"{" BASE ", \"log_level\": \"loud\"}", "log_level",
     "expected one of trace, debug, info, warn, error, off, got \"loud\""},
    {"{" BASE ", \"log_level\": 3}", "log_level", "got 3"},
    {"{" BASE ", \"mpc\": {\"enabled\": \"yes\"}}", "mpc.enabled",
     "expected true or false, got \"yes\""},
    {"{" BASE ", \"mpc\": {\"enabled\": 1}}", "mpc.enabled", "got 1"},
    /* numbers */
    {"{" BASE ", \"rpc\": {\"port\": 70000}}", "rpc.port", "expected an integer 0..65535, got 70000"},
    {"{" BASE ", \"rpc\": {\"port\": -1}}", "rpc.port", "got -1"},
    {"{" BASE ", \"rpc\": {\"port\": 1.5}}", "rpc.port", "got 1.5"},
    {"{" BASE ", \"rpc\": {\"port\": \"26657\"}}", "rpc.port", "got \"26657\""},
    {"{" BASE ", \"rpc\": {\"max_body\": 100}}", "rpc.max_body", "1024..67108864, got 100"},
    {"{" BASE ", \"rpc\": {\"max_conns\": 0}}", "rpc.max_conns", "1..4096"},
    {"{" BASE ", \"rpc\": {\"threads\": 65}}", "rpc.threads", "1..64"},
    {"{" BASE ", \"p2p\": {\"keepalive_ms\": 10}}", "p2p.keepalive_ms", "50..60000"},
    {"{" BASE ", \"p2p\": {\"dead_ms\": 100}}", "p2p.dead_ms", "200..600000"},
    {"{" BASE ", \"p2p\": {\"queue_ttl_ms\": 600001}}", "p2p.queue_ttl_ms", "0..600000"},
    {"{" BASE ", \"block\": {\"interval_ms\": 1e9}}", "block.interval_ms", "1..60000"},
    {"{" BASE ", \"block\": {\"interval_ms\": null}}", "block.interval_ms", "got null"},
    {"{" BASE ", \"mempool\": {\"max_txs\": 0}}", "mempool.max_txs", "1..1000000, got 0"},
    {"{" BASE ", \"mempool\": {\"max_per_sender\": 100001}}", "mempool.max_per_sender",
     "1..100000"},
    {"{" BASE ", \"mpc\": {\"every_blocks\": 0}}", "mpc.every_blocks", "1..1000000"},
    {"{" BASE ", \"mpc\": {\"batch\": \"x\"}}", "mpc.batch",
     "expected an integer 1..100000, got \"x\""},
    {"{" BASE ", \"mpc\": {\"pool_triples\": 4000001}}", "mpc.pool_triples", "1..4000000"},
    {"{" BASE ", \"mpc\": {\"pool_rands\": 0}}", "mpc.pool_rands", "1..4000000"},
    {"{" BASE ", \"mpc\": {\"low_water\": 1e20}}", "mpc.low_water", "0..4000000"},
    {"{" BASE ", \"mpc\": {\"round_timeout_ms\": 99}}", "mpc.round_timeout_ms", "100..600000"},
    /* addresses */
    {"{" BASE ", \"rpc\": {\"listen\": \"127.0.0.1:26657\"}}", "rpc.listen",
     "an IPv4 address such as 127.0.0.1 (the port goes in rpc.port), got \"127.0.0.1:26657\""},
    {"{" BASE ", \"rpc\": {\"listen\": \"localhost\"}}", "rpc.listen", "got \"localhost\""},
    {"{" BASE ", \"rpc\": {\"listen\": \"\"}}", "rpc.listen", "got \"\""},
    {"{" BASE ", \"p2p\": {\"listen\": \"127.0.0.1:26656\"}}", "p2p.listen",
     "expected tcp://HOST:PORT with PORT 1..65535"},
    {"{" BASE ", \"p2p\": {\"listen\": \"tcp://127.0.0.1:0\"}}", "p2p.listen", "got"},
    {"{" BASE ", \"p2p\": {\"listen\": \"tcp://127.0.0.1:65536\"}}", "p2p.listen", "got"},
    {"{" BASE ", \"p2p\": {\"listen\": \"tcp://:26656\"}}", "p2p.listen", "got"},
    {"{" BASE ", \"p2p\": {\"listen\": \"tcp://127.0.0.1\"}}", "p2p.listen", "got"},
    {"{" BASE ", \"p2p\": {\"listen\": \"tcp://127.0.0.1:2x\"}}", "p2p.listen", "got"},
    {"{" BASE ", \"p2p\": {\"listen\": \"tcp://a b:1\"}}", "p2p.listen", "got"},
    {"{" BASE ", \"p2p\": {\"listen\": \"ipc://\"}}", "p2p.listen", "got"},
    /* across fields */
    {"{" BASE ", \"rpc\": {\"port\": 26656}, \"p2p\": {\"listen\": \"tcp://127.0.0.1:26656\"}}",
     "p2p.listen", "port 26656 is also rpc.port"},
    {"{" BASE ", \"rpc\": {\"listen\": \"0.0.0.0\", \"port\": 5000}, \"p2p\": {\"listen\": "
     "\"tcp://10.0.0.1:5000\"}}",
     "p2p.listen", "port 5000 is also rpc.port"},
    {"{" BASE ", \"rpc\": {\"port\": 5000}, \"p2p\": {\"listen\": \"tcp://*:5000\"}}", "p2p.listen",
     "also rpc.port"},
    {"{" BASE ", \"p2p\": {\"keepalive_ms\": 1000, \"dead_ms\": 1000}}", "p2p.dead_ms",
     "expected more than p2p.keepalive_ms (1000), got 1000"},
    {"{" BASE ", \"p2p\": {\"keepalive_ms\": 6000}}", "p2p.dead_ms", "got 5000"},
    {"{" BASE ", \"mpc\": {\"batch\": 300, \"pool_rands\": 200}}", "mpc.batch",
     "at most mpc.pool_triples (200000) and mpc.pool_rands (200)"},
    {"{" BASE ", \"mpc\": {\"pool_triples\": 100, \"batch\": 50, \"low_water\": 101}}",
     "mpc.low_water", "expected at most mpc.pool_triples (100), got 101"},
    /* files */
    {"{\"name\": \"hrss\", \"data_dir\": \"data\", \"genesis\": \"nope.json\", \"keystore\": "
     "\"key.json\"}",
     "genesis", "nope.json: No such file or directory"},
    {"{\"name\": \"hrss\", \"data_dir\": \"data\", \"genesis\": \"genesis.json\", \"keystore\": "
     "\"/nonexistent/k.json\"}",
     "keystore", "/nonexistent/k.json: No such file or directory"},
    {"{\"name\": \"hrss\", \"data_dir\": \"data\", \"genesis\": \"genesis.json\", \"keystore\": "
     "\"sub/..\"}",
     "keystore", "is not a regular file"},
    {"{" BASE ", \"passphrase_file\": \"pass.txt\"}", "passphrase_file",
     "pass.txt: No such file or directory"},
    {"{\"name\": \"hrss\", \"data_dir\": \".\", \"genesis\": \"genesis.json\", \"keystore\": "
     "\"key.json\"}",
     "genesis", "lies inside data_dir"},
    {"{\"name\": \"hrss\", \"data_dir\": \"genesis.json\", \"genesis\": \"genesis.json\", "
     "\"keystore\": \"key.json\"}",
     "data_dir", "exists and is not a directory"},
};

START_TEST(bad_config_names_the_field) {
  const char *text = BAD[_i].text;
  char err[512], want[96];
  node_config c;
  cx_err e = parse(text, &c, err, sizeof err);
  ck_assert_msg(e == CX_E_CONFIG, "case %d (%s): code %d, expected CX_E_CONFIG; err: %s", _i,
                text, (int)e, err);
  snprintf(want, sizeof want, "%s: ", BAD[_i].field);
  ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "case %d: message does not start with '%s': %s",
                _i, want, err);
  ck_assert_msg(strstr(err, BAD[_i].detail) != NULL, "case %d: '%s' not in: %s", _i,
                BAD[_i].detail, err);
  for (const char *p = err; *p; p++)
    ck_assert_msg((unsigned char)*p >= 0x20, "case %d: control byte in the message", _i);
}
END_TEST

/* Syntax errors name where they are. */
START_TEST(malformed_json_has_a_position) {
  static const struct {
    const char *text, *want;
  } cases[] = {
      {"{\"name\": }", "malformed JSON at line 1, column 10"},
      {"{\n  \"name\": \"hrss\",\n  oops\n}", "malformed JSON at line 3, column "},
      {"{" BASE "} trailing", "malformed JSON at line 1, column "},
      {"", "malformed JSON at line 1, column 1"},
  };
  char err[512];
  node_config c;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ck_assert_int_eq(parse(cases[i].text, &c, err, sizeof err), CX_E_CONFIG);
    ck_assert_msg(strstr(err, cases[i].want) == err, "%zu: %s", i, err);
  }
  /* a NUL byte inside the text (a length-delimited buffer) */
  const char nul[] = "{\"name\": \"a\0b\"}";
  ck_assert_int_eq(config_parse_buffer(nul, sizeof nul - 1, g_dir, &c, err, sizeof err),
                   CX_E_CONFIG);
  ck_assert_ptr_nonnull(strstr(err, "NUL byte"));
  ck_assert_ptr_nonnull(strstr(err, "column 12"));
}
END_TEST

/* config_load on a missing or oversized file, and on a good one. */
START_TEST(load_from_file) {
  char path[600], err[512];
  node_config c;
  snprintf(path, sizeof path, "%s/missing.json", g_dir);
  ck_assert_int_eq(config_load(path, &c, err, sizeof err), CX_E_NOT_FOUND);
  ck_assert_ptr_nonnull(strstr(err, path));
  snprintf(path, sizeof path, "%s/big.json", g_dir);
  size_t n = CFG_FILE_MAX + 1;
  char *big = malloc(n);
  ck_assert_ptr_nonnull(big);
  memset(big, ' ', n);
  ck_assert_int_eq(file_write_atomic(path, big, n, 0644), CX_OK);
  free(big);
  ck_assert_int_eq(config_load(path, &c, err, sizeof err), CX_E_TOO_LONG);
  ck_assert_ptr_nonnull(strstr(err, "larger than 1 MiB"));
  snprintf(path, sizeof path, "%s/config.json", g_dir);
  const char *text = "\xef\xbb\xbf{" BASE ", \"passphrase_file\": \"passphrase\"}\n";
  ck_assert_int_eq(file_write_atomic(path, text, strlen(text), 0644), CX_OK);
  ck_assert_int_eq(config_load(path, &c, err, sizeof err), CX_OK);
  char want[600];
  snprintf(want, sizeof want, "%s/genesis.json", g_dir);
  ck_assert_str_eq(c.genesis, want);
  snprintf(want, sizeof want, "%s/passphrase", g_dir);
  ck_assert_str_eq(c.passphrase_file, want);
}
END_TEST

/* The smallest config keeps every default. */
START_TEST(minimal_config_keeps_defaults) {
  char err[512];
  node_config c, d;
  ck_assert_int_eq(parse("{" BASE "}", &c, err, sizeof err), CX_OK);
  config_defaults(&d);
  ck_assert_str_eq(c.name, "hrss");
  char want[600];
  snprintf(want, sizeof want, "%s/data", g_dir);
  ck_assert_str_eq(c.data_dir, want);
  ck_assert_str_eq(c.passphrase_file, "");
  ck_assert_str_eq(c.rpc_listen, d.rpc_listen);
  ck_assert_uint_eq(c.rpc_port, 26657);
  ck_assert_uint_eq(c.rpc_max_body, d.rpc_max_body);
  ck_assert_uint_eq(c.rpc_threads, d.rpc_threads);
  ck_assert_str_eq(c.p2p_listen, "");
  ck_assert_uint_eq(c.p2p_dead_ms, d.p2p_dead_ms);
  ck_assert_uint_eq(c.block_interval_ms, 200);
  ck_assert_uint_eq(c.mempool_max_txs, d.mempool_max_txs);
  ck_assert_int_eq(c.log_level, LOG_INFO);
  ck_assert_int_eq(c.mpc_enabled, 0);
  ck_assert_uint_eq(c.mpc_low_water, 100000);
  ck_assert_int_eq(c.sync, 1);
}
END_TEST

/* Every field set: each lands where it belongs; low_water defaults to half
 * the given pool; paths given absolute stay so (normalised). */
START_TEST(full_config_sets_every_field) {
  char text[2048], err[512];
  node_config c;
  snprintf(text, sizeof text,
           "{\"name\": \"node-7\", \"data_dir\": \"%s/./x/../data\", \"genesis\": \"genesis.json\","
           " \"keystore\": \"%s//key.json\", \"passphrase_file\": \"passphrase\","
           " \"log_level\": \"warn\","
           " \"rpc\": {\"listen\": \"0.0.0.0\", \"port\": 0, \"max_body\": 2048, \"max_conns\": 7,"
           " \"threads\": 3},"
           " \"p2p\": {\"listen\": \"tcp://[::1]:9000\", \"keepalive_ms\": 60, \"dead_ms\": 300,"
           " \"queue_ttl_ms\": 0},"
           " \"block\": {\"interval_ms\": 60000},"
           " \"mempool\": {\"max_txs\": 10, \"max_per_sender\": 5},"
           " \"mpc\": {\"enabled\": true, \"every_blocks\": 3, \"batch\": 40, \"pool_triples\": 100,"
           " \"pool_rands\": 50, \"round_timeout_ms\": 100}}",
           g_dir, g_dir);
  ck_assert_msg(parse(text, &c, err, sizeof err) == CX_OK, "%s", err);
  char want[600];
  snprintf(want, sizeof want, "%s/data", g_dir);
  ck_assert_str_eq(c.data_dir, want);
  snprintf(want, sizeof want, "%s/key.json", g_dir);
  ck_assert_str_eq(c.keystore, want);
  ck_assert_str_eq(c.name, "node-7");
  ck_assert_int_eq(c.log_level, LOG_WARN);
  ck_assert_str_eq(c.rpc_listen, "0.0.0.0");
  ck_assert_uint_eq(c.rpc_port, 0);
  ck_assert_uint_eq(c.rpc_max_body, 2048);
  ck_assert_uint_eq(c.rpc_max_conns, 7);
  ck_assert_uint_eq(c.rpc_threads, 3);
  ck_assert_str_eq(c.p2p_listen, "tcp://[::1]:9000");
  ck_assert_uint_eq(c.p2p_keepalive_ms, 60);
  ck_assert_uint_eq(c.p2p_dead_ms, 300);
  ck_assert_uint_eq(c.p2p_queue_ttl_ms, 0);
  ck_assert_uint_eq(c.block_interval_ms, 60000);
  ck_assert_uint_eq(c.mempool_max_txs, 10);
  ck_assert_uint_eq(c.mempool_max_per_sender, 5);
  ck_assert_int_eq(c.mpc_enabled, 1);
  ck_assert_uint_eq(c.mpc_every_blocks, 3);
  ck_assert_uint_eq(c.mpc_batch, 40);
  ck_assert_uint_eq(c.mpc_pool_triples, 100);
  ck_assert_uint_eq(c.mpc_pool_rands, 50);
  ck_assert_uint_eq(c.mpc_low_water, 50);
  ck_assert_uint_eq(c.mpc_round_timeout_ms, 100);
}
END_TEST

/* Addresses and ports that are fine. */
START_TEST(good_addresses) {
  static const char *const ok[] = {
      /* different hosts, same port */
      "{" BASE ", \"rpc\": {\"port\": 5000}, \"p2p\": {\"listen\": \"tcp://10.0.0.1:5000\"}}",
      /* port 0: any free RPC port, never a clash */
      "{" BASE ", \"rpc\": {\"port\": 0}, \"p2p\": {\"listen\": \"tcp://127.0.0.1:1\"}}",
      "{" BASE ", \"p2p\": {\"listen\": \"tcp://*:65535\"}}",
      "{" BASE ", \"p2p\": {\"listen\": \"tcp://eth0:26656\"}}",
      "{" BASE ", \"p2p\": {\"listen\": \"tcp://node-1.example.org:26656\"}}",
      "{" BASE ", \"p2p\": {\"listen\": \"ipc:///tmp/custos.ipc\"}}",
      "{" BASE ", \"rpc\": {}, \"p2p\": {}, \"block\": {}, \"mempool\": {}, \"mpc\": {}}",
  };
  char err[512];
  node_config c;
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    ck_assert_msg(parse(ok[i], &c, err, sizeof err) == CX_OK, "%zu: %s", i, err);
}
END_TEST

/* ---- --check-config ---- */

static void load_base(node_config *c, const char *extra) {
  char text[1024], err[512];
  snprintf(text, sizeof text, "{" BASE "%s}", extra);
  ck_assert_msg(parse(text, c, err, sizeof err) == CX_OK, "%s", err);
}

START_TEST(deep_check_unlocks_with_a_passphrase) {
  node_config c;
  char err[512] = "", note[256] = "x";
  int unlocked = -1;
  load_base(&c, ", \"passphrase_file\": \"passphrase\"");
  ck_assert_msg(config_check_deep(&c, &unlocked, note, sizeof note, err, sizeof err) == CX_OK,
                "%s", err);
  ck_assert_int_eq(unlocked, 1);
  ck_assert_str_eq(note, "");
  /* no file, no variable: checked but not unlocked */
  load_base(&c, "");
  ck_assert_int_eq(config_check_deep(&c, &unlocked, note, sizeof note, err, sizeof err), CX_OK);
  ck_assert_int_eq(unlocked, 0);
  /* the variable */
  setenv("CUSTOS_PASSPHRASE", "pw", 1);
  ck_assert_int_eq(config_check_deep(&c, &unlocked, note, sizeof note, err, sizeof err), CX_OK);
  ck_assert_int_eq(unlocked, 1);
  setenv("CUSTOS_PASSPHRASE", "wrong", 1);
  ck_assert_int_eq(config_check_deep(&c, &unlocked, note, sizeof note, err, sizeof err),
                   CX_E_PASSPHRASE);
  ck_assert_int_eq(unlocked, 0);
  ck_assert_msg(strncmp(err, "keystore: ", 10) == 0 && strstr(err, "$CUSTOS_PASSPHRASE"), "%s",
                err);
  unsetenv("CUSTOS_PASSPHRASE");
}
END_TEST

START_TEST(deep_check_refusals) {
  node_config c;
  char err[512], note[256], p[600];
  int unlocked;
  /* wrong passphrase in the file */
  snprintf(p, sizeof p, "%s/badpass", g_dir);
  ck_assert_int_eq(file_write_atomic(p, "nope\n", 5, 0600), CX_OK);
  load_base(&c, ", \"passphrase_file\": \"badpass\"");
  ck_assert_int_eq(config_check_deep(&c, &unlocked, note, sizeof note, err, sizeof err),
                   CX_E_PASSPHRASE);
  ck_assert_ptr_nonnull(strstr(err, "badpass"));
  /* a member the genesis does not name (joining by governance): it needs
   * its own p2p.listen, and is then told it starts as an observer */
  load_base(&c, "");
  snprintf(c.name, sizeof c.name, "civil");
  ck_assert_int_eq(config_check_deep(&c, &unlocked, note, sizeof note, err, sizeof err),
                   CX_E_CONFIG);
  ck_assert_msg(strncmp(err, "p2p.listen: required, member 'civil' is not in the genesis", 58) == 0,
                "%s", err);
  load_base(&c, ", \"p2p\": {\"listen\": \"tcp://127.0.0.1:26999\"}");
  snprintf(c.name, sizeof c.name, "civil");
  ck_assert_int_eq(config_check_deep(&c, &unlocked, note, sizeof note, err, sizeof err), CX_OK);
  ck_assert_msg(strstr(note, "not in the genesis: custosd starts as an observer") != NULL, "%s", note);
  /* p2p.listen unset: the genesis address's port (26656) against rpc.port */
  load_base(&c, ", \"rpc\": {\"port\": 26656}");
  ck_assert_int_eq(config_check_deep(&c, &unlocked, note, sizeof note, err, sizeof err),
                   CX_E_CONFIG);
  ck_assert_msg(strncmp(err, "p2p.listen", 10) == 0 && strstr(err, "26656"), "%s", err);
  /* a genesis that does not parse */
  snprintf(p, sizeof p, "%s/bad-genesis.json", g_dir);
  ck_assert_int_eq(file_write_atomic(p, "{}", 2, 0644), CX_OK);
  load_base(&c, "");
  snprintf(c.genesis, sizeof c.genesis, "%s", p);
  ck_assert_int_eq(config_check_deep(&c, &unlocked, note, sizeof note, err, sizeof err),
                   CX_E_CONFIG);
  ck_assert_msg(strncmp(err, "genesis: ", 9) == 0 && strstr(err, p), "%s", err);
  /* a keystore that does not parse */
  snprintf(p, sizeof p, "%s/bad-key.json", g_dir);
  ck_assert_int_eq(file_write_atomic(p, "{}", 2, 0600), CX_OK);
  load_base(&c, "");
  snprintf(c.keystore, sizeof c.keystore, "%s", p);
  ck_assert_int_ne(config_check_deep(&c, &unlocked, note, sizeof note, err, sizeof err), CX_OK);
  ck_assert_msg(strncmp(err, "keystore: ", 10) == 0 && strstr(err, p), "%s", err);
  /* another member key (after a rekey): fine, with a note */
  keystore_keys other;
  ck_assert_int_eq(keystore_generate(&other), CX_OK);
  snprintf(p, sizeof p, "%s/other.json", g_dir);
  ck_assert_int_eq(keystore_save(p, &other, "pw", KS_KDF_FAST), CX_OK);
  keystore_keys_free(&other);
  load_base(&c, ", \"passphrase_file\": \"passphrase\"");
  snprintf(c.keystore, sizeof c.keystore, "%s", p);
  ck_assert_int_eq(config_check_deep(&c, &unlocked, note, sizeof note, err, sizeof err), CX_OK);
  ck_assert_int_eq(unlocked, 1);
  ck_assert_ptr_nonnull(strstr(note, "rekey"));
}
END_TEST

/* ---- the devnet's configs (node/cli_devnet.c, run in process) ---- */

static int flag_index(const cli_cmd *cmd, const char *name) {
  for (int i = 0; i < CLI_MAX_FLAGS && cmd->flags[i].name; i++)
    if (strcmp(cmd->flags[i].name, name) == 0) return i;
  ck_abort_msg("no flag --%s", name);
  return -1;
}

START_TEST(devnet_configs_load) {
  const cli_cmd *cmd = NULL;
  for (const cli_cmd *k = cli_devnet_cmds; k->path; k++)
    if (strcmp(k->path, "devnet init") == 0) cmd = k;
  ck_assert_ptr_nonnull(cmd);
  char dir[600], path[700], err[512], note[256];
  snprintf(dir, sizeof dir, "%s/devnet", g_dir);
  cli_ctx ctx = {.node = CLI_DEFAULT_NODE, .json = 1, .timeout_s = CLI_DEFAULT_TIMEOUT_S};
  cli_args a = {.cmd = cmd, .pos = {dir}, .npos = 1};
  a.val[flag_index(cmd, "members")] = "4";
  ck_assert_int_eq(cmd->run(&ctx, &a), 0);
  for (int i = 0; i < 4; i++) {
    node_config c;
    int unlocked = 0;
    snprintf(path, sizeof path, "%s/node%d/config.json", dir, i);
    ck_assert_msg(config_load(path, &c, err, sizeof err) == CX_OK, "%s: %s", path, err);
    ck_assert_msg(config_check_deep(&c, &unlocked, note, sizeof note, err, sizeof err) == CX_OK,
                  "%s: %s", path, err);
    ck_assert_int_eq(unlocked, 1); /* the devnet's passphrase files */
    ck_assert_str_eq(note, "");
    ck_assert_uint_eq(c.block_interval_ms, 10);
    ck_assert_uint_ne(c.rpc_port, 0);
    ck_assert_str_ne(c.p2p_listen, "");
  }
}
END_TEST

/* ---- the operator guide documents every field ---- */

static char *read_guide(void) {
  char path[1024], *text = NULL;
  snprintf(path, sizeof path, "%s/docs/operator-guide.md", CUSTOS_SOURCE_DIR);
  ck_assert_msg(file_read_all(path, 1 << 20, &text, NULL) == CX_OK, "cannot read %s", path);
  return text;
}

START_TEST(every_field_is_documented) {
  char *doc = read_guide(), want[96];
  size_t n = 0;
  for (const char *f; (f = config_field(n)); n++) {
    snprintf(want, sizeof want, "| `%s` |", f); /* a row of the field table */
    ck_assert_msg(strstr(doc, want) != NULL, "docs/operator-guide.md has no row \"%s\"", want);
  }
  ck_assert_uint_ge(n, 25);
  free(doc);
}
END_TEST

/* ... and no field the parser does not accept: every row of the table in
 * "## Configure" names a field of config_field(). */
START_TEST(documented_fields_exist) {
  char *doc = read_guide();
  const char *sec = strstr(doc, "\n## Configure");
  ck_assert_ptr_nonnull(sec);
  const char *end = strstr(sec + 1, "\n## ");
  if (!end) end = sec + strlen(sec);
  size_t rows = 0;
  for (const char *p = sec; p && p < end; p = strchr(p + 1, '\n')) {
    if (strncmp(p, "\n| `", 4) != 0) continue;
    const char *s = p + 4, *q = strchr(s, '`');
    ck_assert_ptr_nonnull(q);
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(q - s), s);
    int found = 0;
    for (size_t i = 0; config_field(i); i++)
      if (strcmp(config_field(i), name) == 0) found = 1;
    ck_assert_msg(found, "docs/operator-guide.md documents `%s`, which config.c does not accept",
                  name);
    rows++;
  }
  ck_assert_uint_ge(rows, 25);
  free(doc);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("config");
  TCase *t = tcase_create("config");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_add_loop_test(t, bad_config_names_the_field, 0, (int)(sizeof BAD / sizeof BAD[0]));
  tcase_add_test(t, malformed_json_has_a_position);
  tcase_add_test(t, load_from_file);
  tcase_add_test(t, minimal_config_keeps_defaults);
  tcase_add_test(t, full_config_sets_every_field);
  tcase_add_test(t, good_addresses);
  tcase_add_test(t, deep_check_unlocks_with_a_passphrase);
  tcase_add_test(t, deep_check_refusals);
  tcase_add_test(t, devnet_configs_load);
  tcase_add_test(t, every_field_is_documented);
  tcase_add_test(t, documented_fields_exist);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return tu_run(suite()); }
