/* custos: the command-line client of a Custos node (docs/cli.md).
 *
 *   custos [global flags] <command words> [command flags and arguments]
 *
 * Global flags may also follow the command. Exit codes: 0 ok, 1 refused by
 * the node / invalid signature, 2 usage, 3 node unreachable, 4 local failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rpc_client.h"


static const cli_cmd *const *all_tables(void) {
  static const cli_cmd *const tables[] = {cli_keys_cmds,     cli_member_cmds, cli_identity_cmds,
                                          cli_consent_cmds,  cli_contract_cmds, cli_query_cmds,
                                          cli_devnet_cmds,   cli_load_cmds,     cli_vault_cmds,
                                          cli_call_cmds,     cli_verify_cmds,   cli_backup_cmds,
                                          cli_ckey_cmds,     NULL};
  return tables;
}

/* ---- global flags ---- */

enum { G_NODE, G_KEY, G_PASS, G_JSON, G_WAIT, G_TIMEOUT, G_NONCE, G_PRINT, G_HELP, G_COUNT };

static const cli_flag g_flags[G_COUNT] = {
    [G_NODE] = {"node", "URL", "node RPC URL (default $CUSTOS_NODE or " CLI_DEFAULT_NODE ")", 0},
    [G_KEY] = {"key", "FILE", "keystore of the signer (default $CUSTOS_KEY)", 0},
    [G_PASS] = {"passphrase-file", "FILE", "file holding the passphrase (else $CUSTOS_PASSPHRASE)",
                0},
    [G_JSON] = {"json", NULL, "machine-readable output (one JSON value)", 0},
    [G_WAIT] = {"wait", NULL, "after submitting, wait until committed and print the receipt", 0},
    [G_TIMEOUT] = {"timeout", "SEC", "how long --wait waits (default 30)", 0},
    [G_NONCE] = {"nonce", "N", "transactions: use this nonce instead of the node's next_nonce",
                 0},
    [G_PRINT] = {"print-only", NULL,
                 "transactions: sign and print the hex encoding; do not submit", 0},
    [G_HELP] = {"help", NULL, "show help (also -h)", 0},
};

typedef struct {
  const char *val[G_COUNT];
} globals;

/* ---- help ---- */

static void print_flag(FILE *f, const cli_flag *fl) {
  char left[64];
  snprintf(left, sizeof left, "--%s%s%s", fl->name, fl->meta ? " " : "", fl->meta ? fl->meta : "");
  fprintf(f, "  %-26s %s%s\n", left, fl->help, fl->required ? " (required)" : "");
}

static void print_usage(FILE *f) {
  fprintf(f,
          "Usage: custos [global flags] <command> [arguments]\n"
          "\n"
          "Client of a Custos node: keys, transactions (membership, identities,\n"
          "consents, contracts), queries, and a local devnet.\n"
          "\n"
          "Commands:\n");
  for (const cli_cmd *const *t = all_tables(); *t; t++)
    for (const cli_cmd *c = *t; c->path; c++) fprintf(f, "  %-22s %s\n", c->path, c->summary);
  fprintf(f, "\nGlobal flags (before or after the command):\n");
  for (int i = 0; i < G_COUNT; i++) print_flag(f, &g_flags[i]);
  fprintf(f,
          "\nExit codes: 0 success; 1 refused by the node (RPC error, rejected receipt)\n"
          "or invalid signature; 2 usage error; 3 cannot reach the node (or --wait timed\n"
          "out); 4 local failure (file, keystore, passphrase).\n"
          "\nRun 'custos <command> --help' for a command's flags and an example.\n");
}

static void print_cmd_help(const cli_cmd *c) {
  printf("Usage: custos %s%s%s\n\n%s\n", c->path, c->synopsis[0] ? " " : "", c->synopsis,
         c->desc);
  int nflags = 0;
  for (int i = 0; i < CLI_MAX_FLAGS && c->flags[i].name; i++) nflags++;
  if (nflags) {
    printf("\nFlags:\n");
    for (int i = 0; i < nflags; i++) print_flag(stdout, &c->flags[i]);
  }
  if (c->kind == CLI_SUBMIT) {
    printf("\nTransaction flags:\n");
    print_flag(stdout, &g_flags[G_KEY]);
    print_flag(stdout, &g_flags[G_PASS]);
    print_flag(stdout, &g_flags[G_NONCE]);
    print_flag(stdout, &g_flags[G_PRINT]);
    print_flag(stdout, &g_flags[G_WAIT]);
    print_flag(stdout, &g_flags[G_TIMEOUT]);
    print_flag(stdout, &g_flags[G_NODE]);
    print_flag(stdout, &g_flags[G_JSON]);
    printf("\nThe transaction is signed with --key for the node's chain id and the key's\n"
           "next nonce. Prints the txid, or with --wait the receipt (exit 1 if rejected).\n");
  } else if (c->kind == CLI_QUERY) {
    printf("\nNode flags:\n");
    print_flag(stdout, &g_flags[G_NODE]);
    print_flag(stdout, &g_flags[G_JSON]);
  } else {
    printf("\nNeeds no node.");
    if (strcmp(c->path, "keygen") == 0) {
      printf(" Passphrase:\n");
      print_flag(stdout, &g_flags[G_PASS]);
    } else {
      printf("\n");
    }
    print_flag(stdout, &g_flags[G_JSON]);
  }
  printf("\nExample:\n");
  for (const char *p = c->example; *p;) {
    size_t n = strcspn(p, "\n");
    printf("  %.*s\n", (int)n, p);
    p += n;
    if (*p) p++;
  }
}

/* 1 if c's path starts with the n words w and has more words after them. */
static int in_group(const cli_cmd *c, char *const *w, int n) {
  const char *p = c->path;
  for (int i = 0; i < n; i++) {
    size_t l = strlen(w[i]);
    if (strncmp(p, w[i], l) != 0 || p[l] != ' ') return 0;
    p += l + 1;
  }
  return 1;
}

/* Lists the commands of a group ("member", "member propose") on f (NULL:
 * just count); 0 if there is no such group. */
static int print_group(FILE *f, char *const *w, int n) {
  int found = 0;
  for (const cli_cmd *const *t = all_tables(); *t; t++)
    for (const cli_cmd *c = *t; c->path; c++) {
      if (!in_group(c, w, n)) continue;
      if (f && !found) fprintf(f, "Commands:\n");
      if (f) fprintf(f, "  custos %-22s %s\n", c->path, c->summary);
      found = 1;
    }
  if (f && found) fprintf(f, "\nRun 'custos <command> --help' for a command's flags.\n");
  return found;
}

/* ---- command lookup ---- */

/* Number of path words of c matched by argv (all of them, or 0). */
static int match_words(const cli_cmd *c, char **argv, int argc) {
  const char *p = c->path;
  int i = 0;
  while (*p) {
    if (i >= argc) return 0;
    size_t l = strcspn(p, " ");
    if (strlen(argv[i]) != l || strncmp(argv[i], p, l) != 0) return 0;
    p += l;
    if (*p == ' ') p++;
    i++;
  }
  return i;
}

static const cli_cmd *find_cmd(char **argv, int argc, int *used) {
  const cli_cmd *best = NULL;
  *used = 0;
  for (const cli_cmd *const *t = all_tables(); *t; t++)
    for (const cli_cmd *c = *t; c->path; c++) {
      int n = match_words(c, argv, argc);
      if (n > *used) {
        *used = n;
        best = c;
      }
    }
  return best;
}

/* ---- flag parsing ---- */

/* Looks "--name[=value]" up in a flag table; returns its index or -1. */
static int flag_index(const cli_flag *flags, int n, const char *name, size_t len) {
  for (int i = 0; i < n && flags[i].name; i++)
    if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0) return i;
  return -1;
}

/* Takes the value of a flag (from "=v" or the next argument). */
static int take_value(const cli_flag *f, const char *eq, char **argv, int argc, int *i,
                      const char **out) {
  if (!f->meta) {
    if (eq) return cli_fail(CLI_USAGE, "--%s takes no value", f->name);
    *out = "";
    return CLI_OK;
  }
  if (eq) {
    *out = eq + 1;
    return CLI_OK;
  }
  if (*i + 1 >= argc) return cli_fail(CLI_USAGE, "--%s needs a value (%s)", f->name, f->meta);
  *out = argv[++*i];
  return CLI_OK;
}

/* Tries argv[*i] as a global flag; 1 if it was one (rc set), 0 if not. */
static int global_flag(globals *g, char **argv, int argc, int *i, int *rc) {
  const char *arg = argv[*i];
  if (strcmp(arg, "-h") == 0) {
    g->val[G_HELP] = "";
    *rc = CLI_OK;
    return 1;
  }
  if (strncmp(arg, "--", 2) != 0) return 0;
  const char *name = arg + 2, *eq = strchr(name, '=');
  int k = flag_index(g_flags, G_COUNT, name, eq ? (size_t)(eq - name) : strlen(name));
  if (k < 0) return 0;
  if (g->val[k] && k != G_HELP) {
    *rc = cli_fail(CLI_USAGE, "--%s given twice", g_flags[k].name);
    return 1;
  }
  *rc = take_value(&g_flags[k], eq, argv, argc, i, &g->val[k]);
  return 1;
}

/* Parses the command's arguments: its own flags, global flags, positionals
 * ("--" ends the flags). */
static int parse_args(const cli_cmd *c, globals *g, char **argv, int argc, cli_args *a) {
  int rc, flags_done = 0;
  memset(a, 0, sizeof *a);
  a->cmd = c;
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    if (!flags_done && strcmp(arg, "--") == 0) {
      flags_done = 1;
      continue;
    }
    if (!flags_done && arg[0] == '-' && arg[1] != 0) {
      const char *name = arg + 2, *eq = strchr(arg, '=');
      size_t len = eq ? (size_t)(eq - name) : strlen(name);
      int k = strncmp(arg, "--", 2) == 0 ? flag_index(c->flags, CLI_MAX_FLAGS, name, len) : -1;
      if (k >= 0) {
        if (a->val[k]) return cli_fail(CLI_USAGE, "--%s given twice", c->flags[k].name);
        if ((rc = take_value(&c->flags[k], eq, argv, argc, &i, &a->val[k]))) return rc;
        continue;
      }
      if (global_flag(g, argv, argc, &i, &rc)) {
        if (rc) return rc;
        continue;
      }
      return cli_fail(CLI_USAGE, "%s: unknown flag %s (see custos %s --help)", c->path, arg,
                      c->path);
    }
    if (a->npos >= c->max_pos || a->npos >= CLI_MAX_POS)
      return cli_fail(CLI_USAGE, "%s: unexpected argument \"%s\" (see custos %s --help)",
                      c->path, arg, c->path);
    a->pos[a->npos++] = arg;
  }
  return CLI_OK;
}

static int check_args(const cli_cmd *c, const cli_args *a) {
  if (a->npos < c->min_pos)
    return cli_fail(CLI_USAGE, "%s: missing argument%s (usage: custos %s %s)", c->path,
                    c->min_pos - a->npos > 1 ? "s" : "", c->path, c->synopsis);
  for (int i = 0; i < CLI_MAX_FLAGS && c->flags[i].name; i++)
    if (c->flags[i].required && !a->val[i])
      return cli_fail(CLI_USAGE, "%s: missing --%s %s (see custos %s --help)", c->path,
                      c->flags[i].name, c->flags[i].meta ? c->flags[i].meta : "", c->path);
  return CLI_OK;
}

static int resolve_globals(const globals *g, cli_ctx *ctx) {
  const char *env;
  memset(ctx, 0, sizeof *ctx);
  ctx->node = g->val[G_NODE];
  if (!ctx->node) ctx->node = (env = getenv("CUSTOS_NODE")) && *env ? env : CLI_DEFAULT_NODE;
  ctx->key = g->val[G_KEY];
  if (!ctx->key && (env = getenv("CUSTOS_KEY")) && *env) ctx->key = env;
  ctx->pass_file = g->val[G_PASS];
  ctx->json = g->val[G_JSON] != NULL;
  ctx->wait = g->val[G_WAIT] != NULL;
  ctx->print_only = g->val[G_PRINT] != NULL;
  if (ctx->print_only && ctx->wait)
    return cli_fail(CLI_USAGE, "--print-only and --wait exclude each other");
  ctx->timeout_s = CLI_DEFAULT_TIMEOUT_S;
  if (g->val[G_TIMEOUT]) {
    char *end = NULL;
    double t = strtod(g->val[G_TIMEOUT], &end);
    if (!g->val[G_TIMEOUT][0] || *end || !(t > 0 && t <= 86400))
      return cli_fail(CLI_USAGE, "--timeout: expected seconds in (0, 86400], got \"%s\"",
                      g->val[G_TIMEOUT]);
    ctx->timeout_s = t;
  }
  return CLI_OK;
}

/* No command matched: a group asked for help ("custos member --help"), a
 * group without or with a wrong subcommand, or an unknown word. */
static int unknown_command(const globals *g, char **w, int n) {
  int nw = 0, help = g->val[G_HELP] != NULL;
  while (nw < n && w[nw][0] != '-') nw++;
  for (int i = nw; i < n; i++) help |= strcmp(w[i], "--help") == 0 || strcmp(w[i], "-h") == 0;
  int k = nw;
  while (k > 0 && !print_group(NULL, w, k)) k--;
  if (k == 0) return cli_fail(CLI_USAGE, "unknown command '%s' (see custos --help)", w[0]);
  char group[128] = "";
  for (int i = 0; i < k; i++)
    snprintf(group + strlen(group), sizeof group - strlen(group), "%s%s", i ? " " : "", w[i]);
  if (k < nw)
    return cli_fail(CLI_USAGE, "%s: unknown subcommand '%s' (see custos %s --help)", group, w[k],
                    group);
  if (help) {
    print_group(stdout, w, k);
    return CLI_OK;
  }
  cli_fail(CLI_USAGE, "%s: missing subcommand", group);
  print_group(stderr, w, k);
  return CLI_USAGE;
}

/* ---- main ---- */

static int run(int argc, char **argv) {
  globals g;
  memset(&g, 0, sizeof g);
  int i = 1, rc;
  /* Global flags before the command. */
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!global_flag(&g, argv, argc, &i, &rc))
      return cli_fail(CLI_USAGE, "unknown flag %s (see custos --help)", argv[i]);
    if (rc) return rc;
  }
  if (i >= argc) {
    if (g.val[G_HELP]) {
      print_usage(stdout);
      return CLI_OK;
    }
    print_usage(stderr);
    return CLI_USAGE;
  }
  /* "custos help [command words]" */
  if (strcmp(argv[i], "help") == 0) {
    int used;
    const cli_cmd *c = find_cmd(argv + i + 1, argc - i - 1, &used);
    if (c && used == argc - i - 1) {
      print_cmd_help(c);
      return CLI_OK;
    }
    if (argc - i - 1 > 0 && print_group(stdout, argv + i + 1, argc - i - 1)) return CLI_OK;
    if (argc - i - 1 > 0) return cli_fail(CLI_USAGE, "unknown command '%s' (see custos --help)",
                                          argv[i + 1]);
    print_usage(stdout);
    return CLI_OK;
  }

  int used;
  const cli_cmd *c = find_cmd(argv + i, argc - i, &used);
  if (!c) return unknown_command(&g, argv + i, argc - i);
  i += used;

  cli_args a;
  if ((rc = parse_args(c, &g, argv + i, argc - i, &a))) return rc;
  if (g.val[G_HELP]) {
    print_cmd_help(c);
    return CLI_OK;
  }
  if (g.val[G_NONCE] && c->kind != CLI_SUBMIT)
    return cli_fail(CLI_USAGE, "--nonce: only for commands that submit a transaction");
  if (g.val[G_PRINT] && c->kind != CLI_SUBMIT)
    return cli_fail(CLI_USAGE, "--print-only: only for commands that build a transaction");
  a.nonce = g.val[G_NONCE];
  cli_ctx ctx;
  if ((rc = check_args(c, &a)) || (rc = resolve_globals(&g, &ctx))) return rc;
  return c->run(&ctx, &a);
}

int main(int argc, char **argv) {
  int rc = run(argc, argv);
  if (fflush(stdout) != 0 && rc == CLI_OK) rc = cli_fail(CLI_LOCAL, "cannot write the output");
  rpcc_cleanup();
  return rc;
}
