/* cli_vault: `custos vault schema|import|status|rotate` — filling and
 * inspecting a bureau's vault through custosd's admin methods (loopback +
 * cookie; docs/vault.md, "Operating the vault"; docs/rpc.md).
 *
 * An import reads the whole file first and checks it against the domain's
 * schema (vault_import.h), so a malformed file or a value out of range is
 * named by its line before anything is sent. Then the records go in
 * batches, each stored by the node all or nothing; a batch the node
 * refuses stops the import, and the refusal is mapped back to the file's
 * line (CSV) or record (JSON). Batches already stored stay: importing the
 * same file again replaces those records with the same values.
 *
 * `vault anchor` asks the node to put a domain's root on chain (a
 * TX_VAULT_ANCHOR signed with the member key; docs/vault.md "Anchoring"). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "codec.h"
#include "rpc_client.h"
#include "vault_import.h"

#define SCHEMA_FILE_MAX (1u << 20)
#define IMPORT_FILE_MAX (256u << 20)
#define BATCH_DEFAULT 500
#define BATCH_BYTES (512u << 10) /* request body budget per batch, below rpc.max_body's default */
#define EXACT_MAX 9007199254740992LL

/* ---- cookie and calls ---- */

static int domain_arg(const cli_args *a, const char **out) {
  const char *d = cli_opt(a, "domain");
  if (!str_valid(d, CX_DOMAIN_MAX, STR_IDENT))
    return cli_fail(CLI_USAGE, "--domain: \"%s\" is not a domain name (1-%d characters of a-z 0-9 _ -)",
                    d, CX_DOMAIN_MAX);
  *out = d;
  return CLI_OK;
}

/* ---- schema ---- */

static void print_fields(const cJSON *fields) {
  const cJSON *f;
  int first = 1;
  cJSON_ArrayForEach(f, fields) {
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(f, "name");
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(f, "type");
    char lo[32] = "?", hi[32] = "?";
    const cJSON *b[2] = {cJSON_GetObjectItemCaseSensitive(f, "min"),
                         cJSON_GetObjectItemCaseSensitive(f, "max")};
    char *out[2] = {lo, hi};
    for (int i = 0; i < 2; i++) {
      if (cJSON_IsNumber(b[i])) snprintf(out[i], 32, "%.0f", b[i]->valuedouble);
      else if (cJSON_IsString(b[i])) snprintf(out[i], 32, "%s", b[i]->valuestring);
    }
    int is_bool = cJSON_IsString(ty) && strcmp(ty->valuestring, "bool") == 0;
    printf("%s%s %s", first ? "" : ", ", cJSON_IsString(nm) ? nm->valuestring : "?",
           is_bool ? "bool" : "int");
    if (!is_bool) printf(" %s..%s", lo, hi);
    first = 0;
  }
  printf("\n");
}

static int cmd_schema(cli_ctx *c, const cli_args *a) {
  const char *domain = NULL;
  char *text = NULL;
  size_t len = 0;
  int rc = domain_arg(a, &domain);
  if (rc || (rc = cli_read_file(a->pos[0], SCHEMA_FILE_MAX, &text, &len))) return rc;
  cJSON *doc = cJSON_ParseWithLength(text, len);
  free(text);
  const cJSON *fields = cJSON_GetObjectItemCaseSensitive(doc, "fields");
  const cJSON *fd = cJSON_GetObjectItemCaseSensitive(doc, "domain");
  if (!cJSON_IsObject(doc) || !cJSON_IsArray(fields)) {
    cJSON_Delete(doc);
    return cli_fail(CLI_USAGE, "%s: expected {\"fields\": [{\"name\", \"type\": \"int\"|\"bool\", "
                    "\"min\", \"max\"}, ...]}", a->pos[0]);
  }
  for (const cJSON *m = doc->child; m; m = m->next)
    if (strcmp(m->string, "fields") != 0 && strcmp(m->string, "domain") != 0) {
      rc = cli_fail(CLI_USAGE, "%s: unknown member \"%.40s\" (expected fields)", a->pos[0], m->string);
      cJSON_Delete(doc);
      return rc;
    }
  if (fd && (!cJSON_IsString(fd) || strcmp(fd->valuestring, domain) != 0)) {
    cJSON_Delete(doc);
    return cli_fail(CLI_USAGE, "%s: names another domain than --domain %s", a->pos[0], domain);
  }
  cJSON *p = cJSON_CreateObject();
  cJSON *s = p ? cJSON_AddObjectToObject(p, "schema") : NULL;
  if (!s || !cJSON_AddStringToObject(s, "domain", domain)) {
    cJSON_Delete(p);
    cJSON_Delete(doc);
    return cli_fail(CLI_LOCAL, "out of memory");
  }
  cJSON_AddItemToObject(s, "fields", cJSON_DetachItemFromObjectCaseSensitive(doc, "fields"));
  cJSON_Delete(doc);
  cJSON *r = NULL;
  if ((rc = cli_admin_call(c, a, "admin_vault_schema_set", p, &r))) return rc;
  if (c->json) {
    cli_print_json(c, r);
  } else {
    printf("domain: %s\nfields: ", domain);
    print_fields(cJSON_GetObjectItemCaseSensitive(r, "fields"));
  }
  cJSON_Delete(r);
  return CLI_OK;
}

/* ---- status ---- */

static int cmd_status(cli_ctx *c, const cli_args *a) {
  cJSON *r = NULL;
  cJSON *p = cJSON_CreateObject();
  const char *domain = NULL;
  int rc;
  if (cli_opt(a, "domain") && (rc = domain_arg(a, &domain))) {
    cJSON_Delete(p);
    return rc;
  }
  if (domain && p) cJSON_AddStringToObject(p, "domain", domain);
  if ((rc = cli_admin_call(c, a, "admin_vault_status", p, &r))) return rc;
  if (c->json) {
    cli_print_json(c, r);
    cJSON_Delete(r);
    return CLI_OK;
  }
  uint64_t kid = 0, log = 0;
  cli_json_u64(cJSON_GetObjectItemCaseSensitive(r, "key_id"), &kid);
  cli_json_u64(cJSON_GetObjectItemCaseSensitive(r, "access_log"), &log);
  printf("key id:     %llu\naccess log: %llu entries\n\n", (unsigned long long)kid,
         (unsigned long long)log);
  printf("%-16s %10s  %s\n", "DOMAIN", "RECORDS", "ROOT");
  const cJSON *d;
  cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(r, "domains")) {
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(d, "domain");
    const cJSON *root = cJSON_GetObjectItemCaseSensitive(d, "root");
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(d, "fields");
    uint64_t n = 0;
    cli_json_u64(cJSON_GetObjectItemCaseSensitive(d, "records"), &n);
    printf("%-16s %10llu  %s\n", cJSON_IsString(nm) ? nm->valuestring : "?", (unsigned long long)n,
           cJSON_IsString(root) ? root->valuestring : "-");
    printf("  fields: ");
    if (cJSON_IsArray(fields))
      print_fields(fields);
    else
      printf("(no schema yet: custos vault schema)\n");
  }
  cJSON_Delete(r);
  return CLI_OK;
}

/* ---- rotate ---- */

static int cmd_rotate(cli_ctx *c, const cli_args *a) {
  cJSON *r = NULL;
  int rc = cli_admin_call(c, a, "admin_vault_rotate", cJSON_CreateObject(), &r);
  if (rc) return rc;
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(r, "warning");
  if (cJSON_IsString(w)) fprintf(stderr, "custos: warning: %s\n", w->valuestring);
  if (c->json)
    cli_print_json(c, r);
  else
    cli_print_fields(r);
  cJSON_Delete(r);
  return CLI_OK;
}

/* ---- anchor ---- */

/* --wait: polls tx_get until the anchoring is committed; adds its height
 * to out. A rejected anchoring is CLI_REFUSED with the receipt's rule. */
static int wait_anchor(const cli_ctx *c, const char *txid, cJSON *out) {
  cJSON *r = NULL;
  int rc = cli_wait_committed(c, txid, &r);
  if (rc) return rc;
  const cJSON *rec = cJSON_GetObjectItemCaseSensitive(r, "receipt");
  const cJSON *rule = cJSON_GetObjectItemCaseSensitive(rec, "rule");
  uint64_t h = 0;
  cli_json_u64(cJSON_GetObjectItemCaseSensitive(r, "height"), &h);
  int ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "ok"));
  rc = ok ? CLI_OK
          : cli_fail(CLI_REFUSED, "%s: the anchoring was rejected: %s", txid,
                     cJSON_IsString(rule) ? rule->valuestring : "?");
  cJSON_AddNumberToObject(out, "height", (double)h);
  cJSON_AddStringToObject(out, "result", ok ? "ok" : "rejected");
  cJSON_Delete(r);
  return rc;
}

static int cmd_anchor(cli_ctx *c, const cli_args *a) {
  const char *domain = NULL;
  cJSON *r = NULL;
  int rc = domain_arg(a, &domain);
  if (rc) return rc;
  cJSON *p = cJSON_CreateObject();
  if (p) cJSON_AddStringToObject(p, "domain", domain);
  if ((rc = cli_admin_call(c, a, "admin_vault_anchor", p, &r))) return rc;
  const cJSON *txid = cJSON_GetObjectItemCaseSensitive(r, "txid");
  if (!cJSON_IsString(txid)) {
    cJSON_Delete(r);
    return cli_fail(CLI_UNREACHABLE, "admin_vault_anchor: the node's answer has no txid");
  }
  /* An anchoring the node did not submit (the root was already the
   * latest) is committed already: its height is in the answer. */
  if (c->wait && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "submitted")))
    rc = wait_anchor(c, txid->valuestring, r);
  if (c->json)
    cli_print_json(c, r);
  else
    cli_print_fields(r);
  cJSON_Delete(r);
  return rc;
}

/* ---- import ---- */

/* The domain's schema as the node reports it (admin_vault_status). */
static int fetch_schema(const cli_ctx *c, const char *cookie, const char *domain, vault_schema *s) {
  cJSON *r = NULL;
  cJSON *p = cJSON_CreateObject();
  if (p) {
    cJSON_AddStringToObject(p, "domain", domain);
    cJSON_AddFalseToObject(p, "root");
  }
  int rc = cli_call(c, "admin_vault_status", p, cookie, &r);
  if (rc) return rc;
  const cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "domains"), 0);
  const cJSON *fields = cJSON_GetObjectItemCaseSensitive(d, "fields");
  const cJSON *f;
  memset(s, 0, sizeof *s);
  snprintf(s->domain, sizeof s->domain, "%s", domain);
  if (!cJSON_IsArray(fields)) {
    cJSON_Delete(r);
    return cli_fail(CLI_REFUSED, "domain %s has no schema yet: set it with custos vault schema", domain);
  }
  cJSON_ArrayForEach(f, fields) {
    static const vault_field any_int = {.is_bool = 0};
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(f, "name");
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(f, "type");
    vault_field *vf = &s->fields[s->nfields];
    char why[96];
    if (s->nfields == VAULT_MAX_FIELDS || !cJSON_IsString(nm) || strlen(nm->valuestring) > VAULT_FIELD_MAX ||
        !cJSON_IsString(ty) ||
        vimport_json_value(cJSON_GetObjectItemCaseSensitive(f, "min"), &any_int, &vf->lo, why, sizeof why) ||
        vimport_json_value(cJSON_GetObjectItemCaseSensitive(f, "max"), &any_int, &vf->hi, why, sizeof why)) {
      cJSON_Delete(r);
      return cli_fail(CLI_UNREACHABLE, "admin_vault_status: the node's answer has a malformed field list");
    }
    memcpy(vf->name, nm->valuestring, strlen(nm->valuestring) + 1);
    vf->is_bool = strcmp(ty->valuestring, "bool") == 0;
    s->nfields++;
  }
  cJSON_Delete(r);
  if (s->nfields == 0) return cli_fail(CLI_UNREACHABLE, "admin_vault_status: no fields in the schema");
  return CLI_OK;
}

static void add_value(cJSON *o, const vault_field *f, int64_t v) {
  if (f->is_bool) {
    cJSON_AddBoolToObject(o, f->name, v != 0);
  } else if (v >= -EXACT_MAX && v <= EXACT_MAX) {
    cJSON_AddNumberToObject(o, f->name, (double)v);
  } else {
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    cJSON_AddStringToObject(o, f->name, buf);
  }
}

/* params of one batch: records [from, from + k). */
static cJSON *batch_params(const char *domain, const vault_schema *s, const vimport_set *set, size_t from,
                           size_t k) {
  char hex[65];
  cJSON *p = cJSON_CreateObject();
  cJSON *arr = p ? cJSON_AddArrayToObject(p, "records") : NULL;
  if (!arr || !cJSON_AddStringToObject(p, "domain", domain)) goto fail;
  for (size_t i = from; i < from + k; i++) {
    cJSON *r = cJSON_CreateObject();
    if (!r) goto fail;
    cJSON_AddItemToArray(arr, r);
    hex_encode(set->dids[i].b, 32, hex);
    cJSON *vals = cJSON_AddObjectToObject(r, "values");
    if (!cJSON_AddStringToObject(r, "did", hex) || !vals) goto fail;
    for (size_t f = 0; f < s->nfields; f++) add_value(vals, &s->fields[f], set->vals[i * s->nfields + f]);
  }
  return p;
fail:
  cJSON_Delete(p);
  return NULL;
}

/* The record a refusal names: "record K: why" (the vault's sentences) or
 * "params.records[K]...: why" (the method's parameter checks). */
static int refused_index(const char *detail, size_t *k, const char **why) {
  char *end;
  if (strncmp(detail, "record ", 7) == 0) {
    *k = strtoul(detail + 7, &end, 10);
    if (end == detail + 7 || strncmp(end, ": ", 2) != 0) return -1;
    *why = end + 2;
    return 0;
  }
  if (strncmp(detail, "params.records[", 15) == 0) {
    *k = strtoul(detail + 15, &end, 10);
    if (end == detail + 15 || *end != ']') return -1;
    *why = end[1] == '.' ? end + 2 : end + 1;
    return 0;
  }
  return -1;
}

static void progress(int tty, size_t done, size_t total) {
  if (!tty) {
    fprintf(stderr, "imported %zu/%zu\n", done, total);
    return;
  }
  char bar[41];
  size_t w = total ? done * 40 / total : 40;
  memset(bar, '#', w);
  memset(bar + w, '.', 40 - w);
  bar[40] = 0;
  fprintf(stderr, "\r[%s] %zu/%zu (%zu%%)%s", bar, done, total, total ? done * 100 / total : 100,
          done == total ? "\n" : "");
  fflush(stderr);
}

/* Sends the batches; on a refusal prints where in the file and why. */
static int send_batches(cli_ctx *c, const char *cookie, const char *path, int csv, const char *domain,
                        const vault_schema *s, const vimport_set *set, size_t batch, size_t *nbatches) {
  int tty = isatty(STDERR_FILENO);
  size_t per = 90; /* bytes of one record in the request: did, braces, and each field */
  for (size_t f = 0; f < s->nfields; f++) per += strlen(s->fields[f].name) + 26;
  size_t cap = BATCH_BYTES / per ? BATCH_BYTES / per : 1;
  if (batch > cap) batch = cap;
  *nbatches = 0;
  for (size_t from = 0; from < set->n;) {
    size_t k = set->n - from < batch ? set->n - from : batch;
    cJSON *p = batch_params(domain, s, set, from, k), *r = NULL;
    if (!p) return cli_fail(CLI_LOCAL, "out of memory");
    rpcc_error err;
    cx_err e = rpcc_call(c->node, "admin_vault_import", p, cookie, &r, &err);
    cJSON_Delete(r);
    if (e && tty && from) fputc('\n', stderr);
    if (e && err.kind != RPCC_REMOTE) {
      if (e == CX_E_NOMEM) return cli_fail(CLI_LOCAL, "out of memory");
      return cli_fail(e == CX_E_INVALID_ARG ? CLI_USAGE : CLI_UNREACHABLE,
                      "admin_vault_import: %s at %s (%zu of %zu records were imported before)",
                      err.message, c->node, from, set->n);
    }
    if (e) {
      size_t i;
      const char *why;
      if (refused_index(err.detail, &i, &why) == 0 && i < k)
        return cli_fail(CLI_REFUSED, "%s: %s %zu: %s (refused by the node: %s); %zu of %zu records were "
                        "imported before this batch", path, csv ? "line" : "record",
                        set->where[from + i], why, err.name[0] ? err.name : err.message, from, set->n);
      return cli_fail(CLI_REFUSED, "%s: the batch from %s %zu was refused: %s (%s)%s%s; %zu of %zu records "
                      "were imported before it", path, csv ? "line" : "record", set->where[from],
                      err.message, err.name[0] ? err.name : "?", err.detail[0] ? ": " : "", err.detail,
                      from, set->n);
    }
    from += k;
    ++*nbatches;
    progress(tty, from, set->n);
  }
  return CLI_OK;
}

static int has_ext(const char *path, const char *ext) {
  size_t n = strlen(path), e = strlen(ext);
  return n > e && strcasecmp(path + n - e, ext) == 0;
}

static int cmd_import(cli_ctx *c, const cli_args *a) {
  const char *domain = NULL, *path = a->pos[0];
  char *cookie = NULL, *text = NULL, err[512];
  size_t len = 0, nb = 0;
  uint64_t batch = BATCH_DEFAULT;
  vault_schema s;
  vimport_set set;
  cJSON *r = NULL;
  int rc = domain_arg(a, &domain), csv = has_ext(path, ".csv");
  memset(&set, 0, sizeof set);
  if (rc) return rc;
  if (!csv && !has_ext(path, ".json"))
    return cli_fail(CLI_USAGE, "%s: expected a .csv or .json file", path);
  if (cli_opt(a, "batch") && (rc = cli_u64_arg("--batch", cli_opt(a, "batch"), &batch))) return rc;
  if (batch < 1 || batch > VIMPORT_MAX_PER_CALL)
    return cli_fail(CLI_USAGE, "--batch: expected 1..%d records", VIMPORT_MAX_PER_CALL);
  if ((rc = cli_read_cookie(a, &cookie))) return rc;
  if ((rc = fetch_schema(c, cookie, domain, &s))) goto out;
  if ((rc = cli_read_file(path, IMPORT_FILE_MAX, &text, &len))) goto out;
  cx_err e = csv ? vimport_csv(text, len, &s, &set, err, sizeof err)
                 : vimport_json(text, len, &s, &set, err, sizeof err);
  sodium_memzero(text, len); /* the file's values: only the parsed copy is kept */
  if (e) {
    rc = e == CX_E_NOMEM ? cli_fail(CLI_LOCAL, "out of memory")
                         : cli_fail(CLI_USAGE, "%s: %s (nothing was imported)", path, err);
    goto out;
  }
  if ((rc = send_batches(c, cookie, path, csv, domain, &s, &set, (size_t)batch, &nb))) goto out;
  /* The summary: the domain's count and root after the import. */
  cJSON *p = cJSON_CreateObject();
  if (p) cJSON_AddStringToObject(p, "domain", domain);
  if ((rc = cli_call(c, "admin_vault_status", p, cookie, &r))) goto out;
  const cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "domains"), 0);
  const cJSON *root = cJSON_GetObjectItemCaseSensitive(d, "root");
  uint64_t count = 0;
  cli_json_u64(cJSON_GetObjectItemCaseSensitive(d, "records"), &count);
  cJSON *o = cJSON_CreateObject();
  if (!o) {
    rc = cli_fail(CLI_LOCAL, "out of memory");
    goto out;
  }
  cJSON_AddStringToObject(o, "domain", domain);
  cJSON_AddNumberToObject(o, "imported", (double)set.n);
  cJSON_AddNumberToObject(o, "batches", (double)nb);
  cJSON_AddNumberToObject(o, "records", (double)count);
  cJSON_AddStringToObject(o, "root", cJSON_IsString(root) ? root->valuestring : "");
  if (c->json)
    cli_print_json(c, o);
  else
    cli_print_fields(o);
  cJSON_Delete(o);
  rc = CLI_OK;
out:
  if (text) free(text);
  cJSON_Delete(r);
  vimport_free(&set);
  cli_free_cookie(cookie);
  return rc;
}

#define COOKIE_FLAG {"cookie", "FILE", "the node's admin cookie file (in its data_dir)", 1}

const cli_cmd cli_vault_cmds[] = {
    {
        .path = "vault schema",
        .synopsis = "--domain D FILE.json --cookie FILE",
        .summary = "set a domain's record schema in the node's vault (loopback + cookie)",
        .desc = "Sets the schema of domain D, which this node's member must own: FILE is\n"
                "{\"fields\": [{\"name\": \"age\", \"type\": \"int\", \"min\": 0, \"max\": 150},\n"
                "{\"name\": \"smoker\", \"type\": \"bool\"}, ...]} (1-64 fields, names\n"
                "[a-z][a-z0-9_]*). A domain that holds records keeps its schema.",
        .example = "custos vault schema --domain hrss hrss-schema.json --cookie devnet/node0/data/.cookie",
        .kind = CLI_QUERY,
        .min_pos = 1,
        .max_pos = 1,
        .flags = {{"domain", "D", "the data domain", 1}, COOKIE_FLAG},
        .run = cmd_schema,
    },
    {
        .path = "vault import",
        .synopsis = "--domain D FILE --cookie FILE [--batch N]",
        .summary = "load records from CSV or JSON into the node's vault (loopback + cookie)",
        .desc = "Loads the records of FILE into domain D. FILE.csv: a header did,field,...\n"
                "then one record per line (integers; bools as true/false/0/1). FILE.json: an\n"
                "array of {\"did\": ..., \"field\": value, ...}. The whole file is checked\n"
                "against the domain's schema first; then batches of N records (default 500,\n"
                "at most 1000) are sent, each stored all or nothing. A refused batch stops\n"
                "the import and names the file's line (CSV) or record (JSON, 0-based).\n"
                "Progress goes to stderr. Prints the records imported, the domain's count\n"
                "and its root.",
        .example = "custos vault import --domain hrss records.csv --cookie devnet/node0/data/.cookie",
        .kind = CLI_QUERY,
        .min_pos = 1,
        .max_pos = 1,
        .flags = {{"domain", "D", "the data domain", 1},
                  COOKIE_FLAG,
                  {"batch", "N", "records per call (1..1000, default 500)", 0}},
        .run = cmd_import,
    },
    {
        .path = "vault status",
        .synopsis = "--cookie FILE [--domain D]",
        .summary = "show the vault's domains, record counts and roots (loopback + cookie)",
        .desc = "Prints the vault's key id, the access log's length and, per domain this\n"
                "node's member owns (or only D), its fields, record count and Merkle root.\n"
                "With --json, the admin_vault_status result.",
        .example = "custos vault status --cookie devnet/node0/data/.cookie",
        .kind = CLI_QUERY,
        .flags = {COOKIE_FLAG, {"domain", "D", "only this domain", 0}},
        .run = cmd_status,
    },
    {
        .path = "vault rotate",
        .synopsis = "--cookie FILE",
        .summary = "re-seal the vault under the next data key (loopback + cookie)",
        .desc = "Re-seals every record under the data key of the next key id (derived from\n"
                "the node's member keystore) in one synced batch, and prints the new key id.",
        .example = "custos vault rotate --cookie devnet/node0/data/.cookie",
        .kind = CLI_QUERY,
        .flags = {COOKIE_FLAG},
        .run = cmd_rotate,
    },
    {
        .path = "vault anchor",
        .synopsis = "--domain D --cookie FILE [--wait]",
        .summary = "anchor a domain's snapshot (root and record count) on chain (loopback + cookie)",
        .desc = "The node computes domain D's root and record count (which opens every\n"
                "record) and submits a vault_anchor transaction signed by its member key:\n"
                "the commitment a call's result can be checked against (custos verify\n"
                "result, check `snapshot`). When that root is already the latest anchored\n"
                "for D nothing is submitted and the existing anchoring is shown\n"
                "(submitted: false). With --wait (global flag), waits until the\n"
                "transaction is committed and prints its height; exit 1 if rejected.",
        .example = "custos vault anchor --domain hrss --cookie devnet/node0/data/.cookie --wait",
        .kind = CLI_QUERY,
        .flags = {{"domain", "D", "the data domain", 1}, COOKIE_FLAG},
        .run = cmd_anchor,
    },
    {.path = NULL},
};
