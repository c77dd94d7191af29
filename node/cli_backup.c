/* cli_backup: `custos backup` (an online snapshot through the node's
 * admin_backup method) and `custos restore` (offline: puts a backup back
 * into a stopped node's data directory). docs/operations.md, "Backup and
 * restore"; docs/cli.md.
 *
 * Restore, step by step:
 *   1. reads DIR/MANIFEST.json (no manifest: an incomplete backup, refused);
 *   2. checks that no node holds DATA (the store's flock, storage/ldb.h);
 *   3. checks the chain: the manifest's chain id must be DATA's (when its
 *      store opens) and the --config genesis's (when given); one of the two
 *      is required;
 *   4. copies the backup into a staging directory beside DATA and verifies
 *      every database (key count and SHA-256 of the key/value stream) and
 *      every file (SHA-256) against the manifest, on the copy that will be
 *      used;
 *   5. chooses the safety record (below) and writes it into the staging copy;
 *   6. moves DATA aside to DATA.before-restore-<time> (or, with --force,
 *      deletes it) and renames the staging directory to DATA.
 *
 * The safety record. A backup's record covers what the node signed up to
 * the backup (api.c m_admin_backup), not what it signed afterwards: a node
 * restored with it could sign, at a height it had already voted on, a
 * second different vote (equivocation, which the chain punishes). So the
 * record kept is the highest (height, round, step) of: the backup's; DATA's
 * own record, if DATA still has one (it covers everything the node signed
 * before it stopped); and, with --chain-height H, a record "signed
 * everything up to height H + 2", under which the engine signs nothing at
 * heights <= H + 2 (consensus/bft.c may_sign) and follows the chain as a
 * non-signing node until it passes that height. Why H + 2: the old node had
 * committed at most what the chain had (H, read from any other validator
 * after the old node stopped) plus possibly one block the others had not
 * yet counted, and it signs only at its committed height + 1. Without
 * DATA's record (a wiped or lost disk) --chain-height is required. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bft.h"
#include "cli.h"
#include "config.h"
#include "fileutil.h"
#include "genesis.h"
#include "node_internal.h" /* node_safety_parse, node_block_txids, SAFETY_READ_MAX */
#include "store.h"
#include "vm.h"

#define MANIFEST_MAX (1u << 20)
#define COPY_FILE_MAX (2u * (CX_BLOCK_MAX_BYTES + 16) + 16)
#define HOLD_MARGIN 2 /* see the header comment */


/* a/b into out (PATH_MAX bytes); 1 if it does not fit (nothing is then
 * used: a truncated path could name another file). */
static int pjoin(char out[PATH_MAX], const char *a, const char *b) {
  int n = snprintf(out, PATH_MAX, "%s/%s", a, b);
  return n < 0 || n >= PATH_MAX;
}

static const char *const DB_NAMES[] = {"chain", "vault", NULL};
static const char *const FILE_NAMES[] = {"safety", "held", "vault.keyid", NULL};

/* ---- backup ---- */

static int cmd_backup(cli_ctx *c, const cli_args *a) {
  const char *out = cli_opt(a, "out");
  char abs[PATH_MAX];
  if (out[0] == '/') {
    snprintf(abs, sizeof abs, "%s", out);
  } else {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return cli_fail(CLI_LOCAL, "cannot read the current directory");
    if ((size_t)snprintf(abs, sizeof abs, "%s/%s", cwd, out) >= sizeof abs)
      return cli_fail(CLI_USAGE, "--out: path too long");
  }
  cJSON *p = cJSON_CreateObject();
  if (!p || !cJSON_AddStringToObject(p, "dir", abs)) {
    cJSON_Delete(p);
    return cli_fail(CLI_LOCAL, "out of memory");
  }
  cJSON *r = NULL;
  int rc = cli_admin_call(c, a, "admin_backup", p, &r);
  if (rc) return rc;
  if (c->json) {
    cli_print_json(c, r);
  } else {
    uint64_t h = 0;
    cli_json_u64(cJSON_GetObjectItemCaseSensitive(r, "height"), &h);
    printf("backup of height %llu written to %s\n", (unsigned long long)h, abs);
  }
  cJSON_Delete(r);
  return CLI_OK;
}

/* ---- restore: helpers ---- */

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *p) {
  struct stat st;
  return lstat(p, &st) == 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st, (void)flag, (void)f;
  return remove(p);
}

static int rm_rf(const char *p) {
  if (!exists(p)) return 0;
  return nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int fsync_path(const char *p) {
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

/* Copies one regular file (streamed: LevelDB tables can be large), synced. */
static int copy_file(const char *src, const char *dst) {
  int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0) return cli_fail(CLI_LOCAL, "cannot open %s: %s", src, strerror(errno));
  int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) {
    close(in);
    return cli_fail(CLI_LOCAL, "cannot create %s: %s", dst, strerror(errno));
  }
  static char buf[1 << 16];
  int ok = 1;
  ssize_t n;
  while (ok && (n = read(in, buf, sizeof buf)) != 0) {
    if (n < 0) {
      ok = errno == EINTR;
      continue;
    }
    for (ssize_t off = 0; ok && off < n;) {
      ssize_t w = write(out, buf + off, (size_t)(n - off));
      if (w < 0) ok = errno == EINTR;
      else off += w;
    }
  }
  if (ok && fsync(out) != 0) ok = 0;
  int en = errno;
  close(in);
  if (close(out) != 0) ok = 0;
  if (!ok) return cli_fail(CLI_LOCAL, "copying %s to %s failed: %s", src, dst, strerror(en));
  return CLI_OK;
}

/* Copies the regular files of a flat directory (a LevelDB database). */
static int copy_dir(const char *src, const char *dst) {
  DIR *d = opendir(src);
  if (!d) return cli_fail(CLI_LOCAL, "cannot read %s: %s", src, strerror(errno));
  if (mkdir(dst, 0700) != 0) {
    closedir(d);
    return cli_fail(CLI_LOCAL, "cannot create %s: %s", dst, strerror(errno));
  }
  int rc = CLI_OK;
  struct dirent *de;
  while (!rc && (de = readdir(d))) {
    char s[PATH_MAX], t[PATH_MAX];
    if (pjoin(s, src, de->d_name) || pjoin(t, dst, de->d_name)) {
      rc = cli_fail(CLI_USAGE, "path too long under %s", src);
      break;
    }
    struct stat st;
    if (strcmp(de->d_name, "LOCK") == 0 || lstat(s, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    rc = copy_file(s, t);
  }
  closedir(d);
  if (!rc && fsync_path(dst) != 0) rc = cli_fail(CLI_LOCAL, "cannot sync %s", dst);
  return rc;
}

/* A member's hex string of 32 bytes. */
static int json_hex32(const cJSON *o, const char *k, uint8_t out[32]) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) && hex_decode(v->valuestring, out, 32) == CX_OK ? 0 : -1;
}

/* DATA/safety (node_safety_parse): 1 with *s, 0 when absent, -1 when
 * unreadable. */
static int read_safety(const char *path, bft_safety *s) {
  char *buf = NULL;
  size_t len = 0;
  memset(s, 0, sizeof *s);
  cx_err e = file_read_all(path, SAFETY_READ_MAX, &buf, &len);
  if (e == CX_E_NOT_FOUND) return 0;
  if (e) return -1;
  int rc = node_safety_parse((const uint8_t *)buf, len, s, NULL, NULL, NULL) == CX_OK ? 1 : -1;
  free(buf);
  return rc;
}

static int safety_cmp(const bft_safety *a, const bft_safety *b) {
  if (a->height != b->height) return a->height < b->height ? -1 : 1;
  if (a->round != b->round) return a->round < b->round ? -1 : 1;
  return a->step < b->step ? -1 : a->step > b->step;
}

/* 0 when no process holds DATA/NAME.lock (or it does not exist). */
static int lock_free(const char *data, const char *name) {
  char p[PATH_MAX];
  if (pjoin(p, data, name)) return cli_fail(CLI_USAGE, "path too long under %s", data);
  int fd = open(p, O_RDWR | O_CLOEXEC);
  if (fd < 0) return 0;
  int busy = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close(fd);
  return busy ? -1 : 0;
}

/* Step 3: the chain DATA belongs to must be the manifest's. */
static int check_chain(const cli_args *a, const char *data, const cx_hash *want) {
  int known = 0;
  char hx[CX_HASH_HEX_LEN], hy[CX_HASH_HEX_LEN], err[256] = "";
  char chain[PATH_MAX];
  if (pjoin(chain, data, "chain")) return cli_fail(CLI_USAGE, "path too long under %s", data);
  if (is_dir(chain)) {
    store *st = NULL;
    store_opts so = {.sync = 1, .check_depth = 1, .block_txids = node_block_txids};
    cx_err e = store_open(data, &so, &st, err, sizeof err);
    if (e == CX_E_LOCKED) return cli_fail(CLI_LOCAL, "%s is in use: stop the node first", data);
    cx_hash id;
    if (!e && store_chain_id(st, &id) == CX_OK) {
      known = 1;
      if (!hash_eq(&id, want)) {
        store_close(st);
        return cli_fail(CLI_REFUSED, "the backup is of chain %s, %s holds chain %s",
                        hash_hex(want, hx), data, hash_hex(&id, hy));
      }
    } else if (e) {
      fprintf(stderr, "custos: %s does not open (%s); its chain is taken from --config\n", data, err);
    }
    store_close(st);
  }
  const char *cfgp = cli_opt(a, "config");
  if (cfgp) {
    node_config *cfg = calloc(1, sizeof *cfg);
    vm_genesis *g = calloc(1, sizeof *g);
    cx_err e = cfg && g ? config_load(cfgp, cfg, err, sizeof err) : CX_E_NOMEM;
    if (!e) e = genesis_load(cfg->genesis, g, err, sizeof err);
    cx_hash id;
    if (!e) vm_genesis_hash(g, &id);
    free(cfg);
    free(g);
    if (e) return cli_fail(CLI_LOCAL, "--config %s: %s", cfgp, err[0] ? err : cx_err_str(e));
    if (!hash_eq(&id, want))
      return cli_fail(CLI_REFUSED, "the backup is of chain %s, the genesis of %s is chain %s",
                      hash_hex(want, hx), cfgp, hash_hex(&id, hy));
    known = 1;
  }
  if (!known)
    return cli_fail(CLI_USAGE, "cannot tell which chain %s belongs to (no store there): give "
                    "--config with the node's config file", data);
  return CLI_OK;
}

/* Step 4: copy into stage and verify against the manifest. */
static int stage_backup(const char *from, const char *stage, const cJSON *man) {
  const cJSON *dbs = cJSON_GetObjectItemCaseSensitive(man, "databases");
  const cJSON *files = cJSON_GetObjectItemCaseSensitive(man, "files");
  char s[PATH_MAX], t[PATH_MAX], err[256] = "";
  int rc;
  if (mkdir(stage, 0700) != 0) return cli_fail(CLI_LOCAL, "cannot create %s: %s", stage, strerror(errno));
  if (!cJSON_GetObjectItemCaseSensitive(dbs, "chain"))
    return cli_fail(CLI_REFUSED, "%s/MANIFEST.json lists no chain database", from);
  for (int i = 0; DB_NAMES[i]; i++) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(dbs, DB_NAMES[i]);
    uint64_t want_keys = 0, keys = 0;
    uint8_t want[32], got[32];
    if (!d) continue;
    if (cli_json_u64(cJSON_GetObjectItemCaseSensitive(d, "keys"), &want_keys) != 0 ||
        json_hex32(d, "sha256", want) != 0)
      return cli_fail(CLI_REFUSED, "MANIFEST.json: databases.%s is malformed", DB_NAMES[i]);
    if (pjoin(s, from, DB_NAMES[i])) return cli_fail(CLI_USAGE, "path too long under %s", from);
    if (pjoin(t, stage, DB_NAMES[i])) return cli_fail(CLI_USAGE, "path too long under %s", stage);
    if ((rc = copy_dir(s, t))) return rc;
    cx_err e = store_backup_digest(t, &keys, got, err, sizeof err);
    if (e) return cli_fail(CLI_REFUSED, "the backup's %s database does not read: %s", DB_NAMES[i], err);
    if (keys != want_keys || memcmp(got, want, 32) != 0)
      return cli_fail(CLI_REFUSED, "the backup's %s database differs from its manifest (%llu keys, "
                      "manifest %llu, or another digest): damaged", DB_NAMES[i],
                      (unsigned long long)keys, (unsigned long long)want_keys);
  }
  for (int i = 0; FILE_NAMES[i]; i++) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(files, FILE_NAMES[i]);
    uint8_t want[32], got[32];
    char *buf = NULL;
    size_t len = 0;
    if (!f) continue;
    if (json_hex32(f, "sha256", want) != 0)
      return cli_fail(CLI_REFUSED, "MANIFEST.json: files.%s is malformed", FILE_NAMES[i]);
    if (pjoin(s, from, FILE_NAMES[i])) return cli_fail(CLI_USAGE, "path too long under %s", from);
    if (pjoin(t, stage, FILE_NAMES[i])) return cli_fail(CLI_USAGE, "path too long under %s", stage);
    if ((rc = copy_file(s, t))) return rc;
    if (file_read_all(t, COPY_FILE_MAX, &buf, &len) != CX_OK)
      return cli_fail(CLI_LOCAL, "cannot read back %s", t);
    hash_sha256(buf, len, got);
    free(buf);
    if (memcmp(got, want, 32) != 0)
      return cli_fail(CLI_REFUSED, "the backup's %s differs from its manifest: damaged", FILE_NAMES[i]);
  }
  return CLI_OK;
}

/* Step 5 (header comment). *hold_until gets the height up to which the
 * restored node signs nothing. */
static int choose_safety(const cli_args *a, const char *data, const char *stage,
                         uint64_t backup_height, uint64_t *hold_until) {
  bft_safety bak, cur, hold, best;
  char p[PATH_MAX];
  if (pjoin(p, stage, "safety")) return cli_fail(CLI_USAGE, "path too long under %s", stage);
  int hb = read_safety(p, &bak);
  if (hb < 0) return cli_fail(CLI_REFUSED, "the backup's safety record does not read");
  if (pjoin(p, data, "safety")) return cli_fail(CLI_USAGE, "path too long under %s", data);
  int hc = read_safety(p, &cur);
  if (hc < 0) return cli_fail(CLI_REFUSED, "%s does not read: the restore cannot tell what this "
                              "node signed; move it away and use --chain-height", p);
  const char *ch = cli_opt(a, "chain-height");
  if (!hc && !ch)
    return cli_fail(CLI_USAGE, "%s has no safety record of its own: the node may have signed "
                    "votes after the backup was taken (height %llu). Give --chain-height H, the "
                    "highest height the other validators report (custos status), and the restored "
                    "node signs nothing up to H+%d", data, (unsigned long long)backup_height,
                    HOLD_MARGIN);
  memset(&best, 0, sizeof best);
  best.locked_round = best.valid_round = BFT_NIL_ROUND;
  if (hb > 0) best = bak;
  if (hc > 0 && safety_cmp(&cur, &best) > 0) best = cur;
  if (ch) {
    uint64_t h;
    int rc = cli_u64_arg("--chain-height", ch, &h);
    if (rc) return rc;
    memset(&hold, 0, sizeof hold);
    hold.height = h + HOLD_MARGIN;
    hold.round = UINT32_MAX - 1;
    hold.step = BFT_PRECOMMIT;
    hold.locked_round = hold.valid_round = BFT_NIL_ROUND;
    if (safety_cmp(&hold, &best) > 0) best = hold;
  }
  *hold_until = best.height;
  if (best.height == 0) return CLI_OK; /* never signed anything: nothing to keep */
  if (pjoin(p, stage, "safety")) return cli_fail(CLI_USAGE, "path too long under %s", stage);
  remove(p);
  if (hc > 0 && safety_cmp(&cur, &best) == 0) {
    /* DATA's own record wins: its file goes whole, with the held blocks
     * (DATA/safety carries them; older versions kept them in DATA/held). */
    char s[PATH_MAX], t[PATH_MAX];
    if (pjoin(s, data, "safety")) return cli_fail(CLI_USAGE, "path too long under %s", data);
    int rc = copy_file(s, p);
    if (rc) return rc;
    if (pjoin(s, data, "held")) return cli_fail(CLI_USAGE, "path too long under %s", data);
    if (pjoin(t, stage, "held")) return cli_fail(CLI_USAGE, "path too long under %s", stage);
    remove(t);
    if (exists(s)) return copy_file(s, t);
    return CLI_OK;
  }
  /* One bare record: node.c load_safety reads it, and the first signature
   * replaces the file by a journal. */
  uint8_t rec[BFT_SAFETY_LEN];
  bft_safety_encode(&best, rec);
  cx_err e = file_write_atomic(p, rec, sizeof rec, 0600);
  if (e) return cli_fail(CLI_LOCAL, "writing %s failed: %s", p, cx_err_str(e));
  return CLI_OK;
}

/* ---- restore ---- */

static int restore_run(const cli_ctx *c, const cli_args *a, const char *from, const char *data,
                       const char *stage) {
  char p[PATH_MAX], aside[PATH_MAX];
  char *text = NULL;
  size_t len = 0;
  int rc;
  if (pjoin(p, from, "MANIFEST.json")) return cli_fail(CLI_USAGE, "path too long under %s", from);
  if (!exists(p))
    return cli_fail(CLI_REFUSED, "%s has no MANIFEST.json: not a backup, or an incomplete one", from);
  if ((rc = cli_read_file(p, MANIFEST_MAX, &text, &len))) return rc;
  cJSON *man = cJSON_ParseWithLength(text, len);
  free(text);
  cx_hash chain;
  uint64_t height = 0;
  if (!cJSON_IsObject(man) || json_hex32(man, "chain_id", chain.b) != 0 ||
      cli_json_u64(cJSON_GetObjectItemCaseSensitive(man, "height"), &height) != 0) {
    cJSON_Delete(man);
    return cli_fail(CLI_REFUSED, "%s: not a backup manifest (chain_id, height)", p);
  }
  uint64_t hold = 0;
  if (exists(data) && (lock_free(data, "chain.lock") || lock_free(data, "vault.lock")))
    rc = cli_fail(CLI_LOCAL, "%s is in use: stop the node first", data);
  if (!rc) rc = check_chain(a, data, &chain);
  if (!rc) rc = stage_backup(from, stage, man);
  if (!rc) rc = choose_safety(a, data, stage, height, &hold);
  cJSON_Delete(man);
  if (rc) return rc;
  if (fsync_path(stage) != 0) return cli_fail(CLI_LOCAL, "cannot sync %s", stage);
  aside[0] = 0;
  if (exists(data)) {
    if (cli_opt(a, "force")) {
      if (rm_rf(data) != 0) return cli_fail(CLI_LOCAL, "cannot delete %s: %s", data, strerror(errno));
    } else {
      snprintf(aside, sizeof aside, "%s.before-restore-%lld", data, (long long)time(NULL));
      if (rename(data, aside) != 0)
        return cli_fail(CLI_LOCAL, "cannot move %s to %s: %s", data, aside, strerror(errno));
    }
  }
  if (rename(stage, data) != 0)
    return cli_fail(CLI_LOCAL, "cannot rename %s to %s: %s", stage, data, strerror(errno));
  if (c->json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "data", data);
    cJSON_AddNumberToObject(o, "height", (double)height);
    cJSON_AddNumberToObject(o, "no_signing_until", (double)hold);
    if (aside[0]) cJSON_AddStringToObject(o, "previous", aside);
    cli_print_json(c, o);
    cJSON_Delete(o);
  } else {
    printf("restored height %llu into %s\n", (unsigned long long)height, data);
    if (aside[0]) printf("previous data moved to %s\n", aside);
    printf("the node signs no consensus message at heights <= %llu\n", (unsigned long long)hold);
  }
  return CLI_OK;
}

static int cmd_restore(cli_ctx *c, const cli_args *a) {
  char data[PATH_MAX], stage[PATH_MAX + 32], from[PATH_MAX];
  snprintf(from, sizeof from, "%s", cli_opt(a, "from"));
  snprintf(data, sizeof data, "%s", cli_opt(a, "data"));
  for (size_t n = strlen(data); n > 1 && data[n - 1] == '/'; n--) data[n - 1] = 0;
  if (!is_dir(from)) return cli_fail(CLI_USAGE, "--from %s: not a directory", from);
  snprintf(stage, sizeof stage, "%s.restore-tmp-%ld", data, (long)getpid());
  rm_rf(stage);
  int rc = restore_run(c, a, from, data, stage);
  if (rc) rm_rf(stage); /* DATA is untouched on every failure before the swap */
  return rc;
}

const cli_cmd cli_backup_cmds[] = {
    {
        .path = "backup",
        .synopsis = "--out DIR --cookie FILE",
        .summary = "take a consistent online backup of the node's stores (loopback + cookie)",
        .desc = "Asks the running node (admin_backup) to write a snapshot of its chain store,\n"
                "its vault (records stay sealed), its safety record, held blocks and vault key\n"
                "id into the new directory DIR (refused if it exists), with MANIFEST.json\n"
                "(chain id, height, tip, state root, key counts and SHA-256 digests). The node\n"
                "keeps committing meanwhile. DIR is on the node's machine.",
        .example = "custos backup --out /backups/node0-$(date +%s) --cookie devnet/node0/data/.cookie",
        .kind = CLI_QUERY,
        .min_pos = 0,
        .max_pos = 0,
        .flags = {{"out", "DIR", "the new backup directory (made absolute)", 1},
                  {"cookie", "FILE", "the node's admin cookie file (in its data_dir)", 1}},
        .run = cmd_backup,
    },
    {
        .path = "restore",
        .synopsis = "--from DIR --data DATA_DIR [--config FILE] [--chain-height H] [--force]",
        .summary = "put a backup back into a stopped node's data directory",
        .desc = "Offline: the node must be stopped. Checks the backup's chain against DATA's\n"
                "store or the --config genesis, verifies every database and file against\n"
                "MANIFEST.json, moves DATA aside to DATA.before-restore-<time> (--force:\n"
                "deletes it) and puts the backup in its place. The node's safety record is\n"
                "the newest of the backup's and DATA's own; when DATA has none (wiped disk),\n"
                "--chain-height H is required (the highest height other validators report)\n"
                "and the restored node signs nothing up to H+2, following the chain until\n"
                "then, so it can never vote twice at a height it voted on before.",
        .example = "custos restore --from /backups/node0-1700000000 --data devnet/node0/data "
                   "--config devnet/node0/config.json --chain-height 1234",
        .kind = CLI_OFFLINE,
        .min_pos = 0,
        .max_pos = 0,
        .flags = {{"from", "DIR", "the backup directory", 1},
                  {"data", "DATA_DIR", "the node's data_dir", 1},
                  {"config", "FILE", "the node's config (its genesis names the chain)", 0},
                  {"chain-height", "H", "the chain's height now, from another validator", 0},
                  {"force", NULL, "delete DATA instead of moving it aside", 0}},
        .run = cmd_restore,
    },
    {.path = NULL},
};
