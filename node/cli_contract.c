/* cli_contract: the contract registry, and the compiler and local runner of
 * the secret-contract language (docs/contract-language.md). A contract's id
 * is the hash of the bytecode its source compiles to, so anyone can check
 * which text was approved (`custos contract id FILE`). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codec.h"
#include "lang.h"
#include "vm.h"

/* Reads a contract source and checks what the codec will check. */
static int read_source(const char *path, char **src, size_t *len) {
  int rc = cli_read_file(path, CX_SOURCE_MAX, src, len);
  if (rc) return rc;
  if (!text_valid((const uint8_t *)*src, *len, STR_TEXT)) {
    free(*src);
    *src = NULL;
    return cli_fail(CLI_USAGE,
                    "%s: a contract source is UTF-8 text without control characters "
                    "(tab, CR and LF allowed)",
                    path);
  }
  return CLI_OK;
}

/* Reads and compiles FILE; a compile error is printed as FILE:LINE:COL. */
static int compile_file(const char *path, char **src, size_t *len, lang_contract **out) {
  int rc = read_source(path, src, len);
  if (rc) return rc;
  lang_diag d;
  cx_err e = lang_compile(*src, *len, out, &d);
  if (e) {
    char msg[512];
    lang_diag_format(&d, path, msg, sizeof msg);
    fprintf(stderr, "%s\n", msg);
    free(*src);
    *src = NULL;
    return e == CX_E_NOMEM ? CLI_LOCAL : CLI_USAGE;
  }
  return CLI_OK;
}

static int cmd_id(cli_ctx *c, const cli_args *a) {
  char *src = NULL;
  size_t len = 0;
  lang_contract *lc = NULL;
  int rc = compile_file(a->pos[0], &src, &len, &lc);
  if (rc) return rc;
  free(src);
  cx_hash id;
  char hex[CX_HASH_HEX_LEN];
  lang_id(lc, &id);
  lang_free(lc);
  hash_hex(&id, hex);
  if (c->json)
    printf("{\"id\":\"%s\"}\n", hex);
  else
    puts(hex);
  return CLI_OK;
}

static const char *port_kind_name(lang_port_kind k) {
  switch (k) {
  case LANG_INPUT: return "input";
  case LANG_PARAM: return "param";
  case LANG_ARG: return "arg";
  case LANG_OUT_PUBLIC: return "output public";
  case LANG_OUT_PRIVATE: return "output private";
  }
  return "?";
}

static void port_type(const lang_port *p, char *buf, size_t n) {
  char arr[24] = "";
  if (p->len) snprintf(arr, sizeof arr, "[%u]", p->len);
  if (p->is_bool)
    snprintf(buf, n, "bool%s", arr);
  else if (p->lo == INT64_MIN && p->hi == INT64_MAX)
    snprintf(buf, n, "int%s", arr);
  else
    snprintf(buf, n, "int(%lld..%lld)%s", (long long)p->lo, (long long)p->hi, arr);
}

/* The report a bureau reads before it approves: what the contract reads,
 * whom it tells what, and what one call costs. */
static int cmd_compile(cli_ctx *c, const cli_args *a) {
  char *src = NULL;
  size_t len = 0;
  lang_contract *lc = NULL;
  uint64_t parties = 4;
  int rc;
  const char *np = cli_opt(a, "parties");
  if (np && ((rc = cli_u64_arg("--parties", np, &parties)))) return rc;
  if (parties < 1 || parties > 64) return cli_fail(CLI_USAGE, "--parties: 1 to 64");
  if ((rc = compile_file(a->pos[0], &src, &len, &lc))) return rc;
  free(src);
  lang_cost cost;
  char err[256];
  cx_err e = lang_cost_get(lc, (uint32_t)parties, &cost, err, sizeof err);
  if (e) {
    lang_free(lc);
    return cli_fail(CLI_LOCAL, "%s: cost: %s", a->pos[0], err);
  }
  size_t bclen;
  const uint8_t *bc = lang_bytecode(lc, &bclen);
  const char *outp = cli_opt(a, "out");
  if (outp) {
    FILE *f = fopen(outp, "wb");
    int ok = f && fwrite(bc, 1, bclen, f) == bclen;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) {
      lang_free(lc);
      return cli_fail(CLI_LOCAL, "%s: cannot write the bytecode", outp);
    }
  }
  cx_hash id;
  char hex[CX_HASH_HEX_LEN];
  lang_id(lc, &id);
  hash_hex(&id, hex);
  cx_domain_set ds;
  lang_domains(lc, &ds);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "contract", lang_name(lc));
  cJSON_AddStringToObject(o, "id", hex);
  cJSON_AddNumberToObject(o, "bytecode_bytes", (double)bclen);
  cJSON *dj = cJSON_AddArrayToObject(o, "domains");
  for (size_t i = 0; i < ds.n; i++) cJSON_AddItemToArray(dj, cJSON_CreateString(ds.d[i].name));
  cJSON *pj = cJSON_AddArrayToObject(o, "interface");
  for (size_t i = 0; i < lang_nports(lc); i++) {
    lang_port p;
    char ty[96];
    lang_port_get(lc, i, &p);
    port_type(&p, ty, sizeof ty);
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "kind", port_kind_name(p.kind));
    cJSON_AddStringToObject(x, "name", p.name);
    cJSON_AddStringToObject(x, "type", ty);
    if (p.kind == LANG_OUT_PUBLIC || p.kind == LANG_OUT_PRIVATE) {
      cJSON *fj = cJSON_AddArrayToObject(x, "depends_on");
      for (size_t k = 0; k < lang_nports(lc); k++)
        if (lang_port_flows_from(lc, i, k)) {
          lang_port q;
          lang_port_get(lc, k, &q);
          cJSON_AddItemToArray(fj, cJSON_CreateString(q.name));
        }
    }
    cJSON_AddItemToArray(pj, x);
  }
  cJSON *cj = cJSON_AddObjectToObject(o, "cost");
  cJSON_AddNumberToObject(cj, "parties", (double)parties);
  cJSON_AddNumberToObject(cj, "rounds", cost.rounds);
  cJSON_AddNumberToObject(cj, "circuit_nodes", (double)cost.nodes);
  cJSON_AddNumberToObject(cj, "layers", (double)cost.layers);
  cJSON_AddNumberToObject(cj, "multiplications", (double)cost.mul);
  cJSON_AddNumberToObject(cj, "comparisons", (double)cost.cmp);
  cJSON_AddNumberToObject(cj, "comparison_bits_max", cost.cmp_bits_max);
  cJSON_AddNumberToObject(cj, "divisions", (double)cost.divc);
  cJSON_AddNumberToObject(cj, "triples", (double)cost.triples);
  cJSON_AddNumberToObject(cj, "random_values", (double)cost.rands);
  cJSON_AddNumberToObject(cj, "random_bits", (double)cost.bits);
  cJSON_AddNumberToObject(cj, "random_ints", (double)cost.ints);
  cJSON_AddNumberToObject(cj, "bytes_per_party", (double)cost.bytes_per_party);
  if (c->json) {
    cli_print_json(c, o);
  } else {
    printf("contract %s\nid       %s\nbytecode %zu bytes\ndomains ", lang_name(lc), hex, bclen);
    for (size_t i = 0; i < ds.n; i++) printf(" %s", ds.d[i].name);
    printf("\n\ninterface\n");
    for (size_t i = 0; i < lang_nports(lc); i++) {
      lang_port p;
      char ty[96];
      lang_port_get(lc, i, &p);
      port_type(&p, ty, sizeof ty);
      printf("  %-15s %-28s %s\n", port_kind_name(p.kind), p.name, ty);
    }
    /* What each output reveals something about: the point where the
     * bureaus agree to a release (docs/contract-language.md §4). */
    printf("\ninformation flow\n");
    for (size_t i = 0; i < lang_nports(lc); i++) {
      lang_port p;
      lang_port_get(lc, i, &p);
      if (p.kind != LANG_OUT_PUBLIC && p.kind != LANG_OUT_PRIVATE) continue;
      printf("  %-15s %-28s <-", port_kind_name(p.kind), p.name);
      int any = 0;
      for (size_t k = 0; k < lang_nports(lc); k++)
        if (lang_port_flows_from(lc, i, k)) {
          lang_port q;
          lang_port_get(lc, k, &q);
          printf(" %s", q.name);
          any = 1;
        }
      printf("%s\n", any ? "" : " (no secret)");
    }
    printf("\ncost of one call with %llu parties\n", (unsigned long long)parties);
    printf("  rounds           %u\n", cost.rounds);
    printf("  multiplications  %llu\n", (unsigned long long)cost.mul);
    printf("  comparisons      %llu (widest %u bits)\n", (unsigned long long)cost.cmp, cost.cmp_bits_max);
    printf("  divisions        %llu\n", (unsigned long long)cost.divc);
    printf("  circuit          %llu nodes in %llu interactive layers\n", (unsigned long long)cost.nodes,
           (unsigned long long)cost.layers);
    printf("  preprocessing    %llu triples, %llu random values, %llu random bits, %llu random integers\n",
           (unsigned long long)cost.triples, (unsigned long long)cost.rands, (unsigned long long)cost.bits,
           (unsigned long long)cost.ints);
    printf("  bytes sent       ~%llu per party (estimate)\n", (unsigned long long)cost.bytes_per_party);
  }
  cJSON_Delete(o);
  lang_free(lc);
  return CLI_OK;
}

/* Local evaluation for insurers testing an algorithm before deploying it. */
static int cmd_run(cli_ctx *c, const cli_args *a) {
  char *src = NULL, *json = NULL;
  size_t len = 0, jlen = 0;
  lang_contract *lc = NULL;
  lang_values *v = NULL;
  int64_t *out = NULL;
  uint64_t parties = 0;
  uint8_t seed[32];
  int have_seed = 0, rc;
  char err[512];
  const char *np = cli_opt(a, "mpc"), *sd = cli_opt(a, "seed");
  if (np && ((rc = cli_u64_arg("--mpc", np, &parties)))) return rc;
  if (np && (parties < 1 || parties > 64)) return cli_fail(CLI_USAGE, "--mpc: 1 to 64 parties");
  if (sd) {
    if ((rc = cli_hex32("--seed", sd, seed))) return rc;
    have_seed = 1;
  }
  if ((rc = compile_file(a->pos[0], &src, &len, &lc))) return rc;
  free(src);
  if ((rc = cli_read_file(cli_opt(a, "inputs"), 4u << 20, &json, &jlen))) goto done;
  v = lang_values_new(lc);
  out = calloc(lang_outputs_len(lc) + 1, sizeof *out);
  if (!v || !out) {
    rc = cli_fail(CLI_LOCAL, "out of memory");
    goto done;
  }
  if (lang_values_from_json(v, json, jlen, err, sizeof err)) {
    rc = cli_fail(CLI_USAGE, "%s: %s", cli_opt(a, "inputs"), err);
    goto done;
  }
  lang_cost cost;
  lang_mpc_report rep;
  memset(&rep, 0, sizeof rep);
  cx_err e;
  if (parties) {
    e = lang_cost_get(lc, (uint32_t)parties, &cost, err, sizeof err);
    if (!e) e = lang_run_mpc(lc, v, (uint32_t)parties, have_seed ? seed : NULL, out, &rep, err, sizeof err);
  } else {
    e = lang_run_reference(lc, v, out, err, sizeof err);
  }
  if (e) {
    rc = cli_fail(CLI_REFUSED, "%s: %s", a->pos[0], err);
    goto done;
  }
  char *oj = lang_outputs_json(lc, out);
  if (!oj) {
    rc = cli_fail(CLI_LOCAL, "out of memory");
    goto done;
  }
  if (c->json) {
    /* One object: the outputs, and the run under "_report". */
    cJSON *o = cJSON_Parse(oj);
    cJSON *r = cJSON_AddObjectToObject(o, "_report");
    cJSON_AddStringToObject(r, "mode", parties ? "mpc" : "plaintext");
    if (parties) {
      cJSON_AddNumberToObject(r, "parties", rep.n);
      cJSON_AddNumberToObject(r, "rounds", rep.rounds);
      cJSON_AddNumberToObject(r, "rounds_reported_by_compiler", cost.rounds);
      cJSON_AddNumberToObject(r, "online_bytes_per_party", (double)rep.bytes_sent);
      cJSON_AddNumberToObject(r, "prep_bytes_per_party", (double)rep.prep_bytes_sent);
      cJSON_AddNumberToObject(r, "online_seconds", rep.online_s);
      cJSON_AddNumberToObject(r, "prep_seconds", rep.prep_s);
    }
    cli_print_json(c, o);
    cJSON_Delete(o);
  } else {
    puts(oj);
    if (parties)
      fprintf(stderr,
              "mpc: %u parties (t = %u), %u rounds (compiler report: %u), %llu bytes sent per party "
              "online + %llu preprocessing, %.3f s online + %.3f s preprocessing\n",
              rep.n, rep.t, rep.rounds, cost.rounds, (unsigned long long)rep.bytes_sent,
              (unsigned long long)rep.prep_bytes_sent, rep.online_s, rep.prep_s);
    else
      fprintf(stderr, "plaintext: the reference interpreter (no MPC; --mpc N runs N parties)\n");
  }
  free(oj);
  rc = CLI_OK;
done:
  free(json);
  free(out);
  lang_values_free(v);
  lang_free(lc);
  return rc;
}

static int cmd_deploy(cli_ctx *c, const cli_args *a) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_CONTRACT_DEPLOY;
  char *src = NULL;
  size_t len = 0;
  lang_contract *lc = NULL;
  int rc;
  if ((rc = cli_name_arg("--name", cli_opt(a, "name"), tx.u.deploy.name))) return rc;
  if ((rc = compile_file(a->pos[0], &src, &len, &lc))) return rc;
  /* The domains are what the contract's inputs read; --domains, when
   * given, must say the same (a check on what the insurer thinks it
   * deploys). */
  if (lang_domains(lc, &tx.u.deploy.domains) != CX_OK || tx.u.deploy.domains.n == 0) {
    rc = cli_fail(CLI_USAGE, "%s: a contract must read at least one input (and at most %d domains)",
                  a->pos[0], CX_DOMAINS_MAX);
    goto done;
  }
  const char *dopt = cli_opt(a, "domains");
  if (dopt) {
    cx_domain_set want;
    if ((rc = cli_domains_arg("--domains", dopt, &want))) goto done;
    if (!domain_set_eq(&want, &tx.u.deploy.domains)) {
      rc = cli_fail(CLI_USAGE, "--domains: the contract reads other domains than %s", dopt);
      goto done;
    }
  }
  cx_hash id;
  char hex[CX_HASH_HEX_LEN];
  lang_id(lc, &id);
  hash_hex(&id, hex);
  size_t bclen;
  const uint8_t *bc = lang_bytecode(lc, &bclen);
  cx_err e = tx_set_source(&tx, src, len);
  if (!e) e = tx_set_bytecode(&tx, bc, bclen);
  if (e) {
    rc = cli_fail(CLI_LOCAL, "%s: %s", a->pos[0], cx_err_str(e));
    goto done;
  }
  cli_signer s;
  if ((rc = cli_signer_open(c, a, &s)) == CLI_OK) {
    cJSON *extras = cJSON_CreateObject();
    if (extras) cJSON_AddStringToObject(extras, "contract", hex);
    rc = cli_sign_submit(c, &s, &tx, extras);
    cli_signer_close(&s);
  }
done:
  free(src);
  lang_free(lc);
  tx_clear(&tx);
  return rc;
}

static int submit_ref(cli_ctx *c, const cli_args *a, int type) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = (uint8_t)type;
  int rc = cli_hash_arg("ID", a->pos[0], &tx.u.cref.contract);
  if (rc) return rc;
  cli_signer s;
  if ((rc = cli_signer_open(c, a, &s))) return rc;
  rc = cli_sign_submit(c, &s, &tx, NULL);
  cli_signer_close(&s);
  return rc;
}

static int cmd_approve(cli_ctx *c, const cli_args *a) {
  return submit_ref(c, a, TX_CONTRACT_APPROVE);
}

static int cmd_retire(cli_ctx *c, const cli_args *a) {
  return submit_ref(c, a, TX_CONTRACT_RETIRE);
}

static int cmd_get(cli_ctx *c, const cli_args *a) {
  cx_hash id;
  int rc = cli_hash_arg("ID", a->pos[0], &id);
  if (rc) return rc;
  return cli_query(c, "contract_get", cli_params_hex("id", id.b, 32));
}

const cli_cmd cli_contract_cmds[] = {
    {
        .path = "contract deploy",
        .synopsis = "FILE --name NAME [--domains a,b]",
        .summary = "compile and deploy a contract (insurers)",
        .desc = "Compiles FILE (at most 64 KiB of UTF-8) and submits its source and bytecode\n"
                "under NAME; every node compiles the source again and refuses the deployment\n"
                "unless it gives the same bytecode. The data domains are those its inputs\n"
                "read (--domains, if given, must name exactly them). It becomes callable\n"
                "once every bureau owning one of those domains has approved it. Prints the\n"
                "contract id (the same as `custos contract id FILE`).",
        .example = "custos --key clients/insurer.json --passphrase-file clients/insurer.pass \\\n"
                   "  contract deploy configs/contracts/underwriting.cst --name underwriting",
        .kind = CLI_SUBMIT,
        .min_pos = 1,
        .max_pos = 1,
        .flags = {{"name", "NAME", "contract name (a-z 0-9 _ -, at most 32)", 1},
                  {"domains", "a,b", "data domains the contract reads (checked)", 0}},
        .run = cmd_deploy,
    },
    {
        .path = "contract approve",
        .synopsis = "ID",
        .summary = "approve a deployed contract (bureaus owning one of its domains)",
        .desc = "Submits the signing bureau's approval of contract ID.",
        .example = "custos --key node1/key.json --passphrase-file node1/passphrase \\\n"
                   "  contract approve 9d1e...07",
        .kind = CLI_SUBMIT,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_approve,
    },
    {
        .path = "contract retire",
        .synopsis = "ID",
        .summary = "retire a contract (its deploying insurer)",
        .desc = "Retires contract ID: it can no longer be called.",
        .example = "custos contract retire 9d1e...07",
        .kind = CLI_SUBMIT,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_retire,
    },
    {
        .path = "contract get",
        .synopsis = "ID",
        .summary = "show a contract, its approvals and source",
        .desc = "Prints the registry record of contract ID, including its source text.",
        .example = "custos contract get 9d1e...07",
        .kind = CLI_QUERY,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_get,
    },
    {
        .path = "contract id",
        .synopsis = "FILE",
        .summary = "print the contract id of a source file (offline)",
        .desc = "Compiles FILE and prints the id a deployment would have (H_CONTRACT of\n"
                "its bytecode), without a node. Use it to check that an approved id is\n"
                "this text.",
        .example = "custos contract id configs/contracts/underwriting.cst",
        .kind = CLI_OFFLINE,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_id,
    },
    {
        .path = "contract compile",
        .synopsis = "FILE [--parties N] [--out BYTECODE]",
        .summary = "compile a contract and report its interface and cost (offline)",
        .desc = "Checks FILE (syntax, types, secrecy, ranges) and prints its id, the domains\n"
                "it reads, its inputs, params, args and outputs, and the cost of one call\n"
                "with N parties (default 4): rounds, multiplications, comparisons,\n"
                "preprocessing and bytes per party. A compile error is printed as\n"
                "FILE:LINE:COL: error: MESSAGE (exit status 2).",
        .example = "custos contract compile configs/contracts/underwriting.cst",
        .kind = CLI_OFFLINE,
        .min_pos = 1,
        .max_pos = 1,
        .flags = {{"parties", "N", "parties the cost is computed for (default 4)", 0},
                  {"out", "FILE", "also write the bytecode to FILE", 0}},
        .run = cmd_compile,
    },
    {
        .path = "contract run",
        .synopsis = "FILE --inputs FILE.json [--mpc N] [--seed HEX]",
        .summary = "evaluate a contract locally, in plaintext or as N MPC parties (offline)",
        .desc = "Evaluates FILE on the values in FILE.json, one JSON object naming every\n"
                "input, param and arg. By default the reference interpreter runs it in\n"
                "plaintext; with --mpc N it runs as N MPC parties in this process, with\n"
                "preprocessing, client-shared params and robust openings, as the\n"
                "consortium would. Prints the outputs as one JSON object; the rounds used\n"
                "(and the compiler's own count) go to stderr, or under \"_report\" with --json.",
        .example = "custos contract run configs/contracts/underwriting.cst \\\n"
                   "  --inputs configs/contracts/underwriting.inputs.json --mpc 4",
        .kind = CLI_OFFLINE,
        .min_pos = 1,
        .max_pos = 1,
        .flags = {{"inputs", "FILE.json", "values of every input, param and arg", 1},
                  {"mpc", "N", "run as N in-process MPC parties (1 to 64)", 0},
                  {"seed", "HEX", "32-byte seed for a reproducible MPC run (tests)", 0}},
        .run = cmd_run,
    },
    {.path = NULL},
};
