/* cli: internals of the `custos` command-line client (custos_main.c and
 * cli_*.c). Not a public API: nothing but the CLI includes this.
 *
 * Each cli_<group>.c exports a table of commands (cli_cmd, terminated by an
 * entry with path == NULL); custos_main.c parses the global flags, finds the
 * command by its words ("member propose add"), parses the command's flags
 * against its table and calls run(). Help text lives next to the code. */
#ifndef CUSTOS_CLI_H
#define CUSTOS_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "hash.h"
#include "keystore.h"
#include "tx.h"

/* Exit codes (docs/cli.md). */
enum {
  CLI_OK = 0,
  CLI_REFUSED = 1,     /* RPC error, rejected receipt, or an invalid signature */
  CLI_USAGE = 2,       /* bad flags or arguments, malformed hex */
  CLI_UNREACHABLE = 3, /* cannot reach the node, or --wait timed out */
  CLI_LOCAL = 4,       /* local failure: file, keystore, passphrase */
};

#define CLI_DEFAULT_NODE "http://127.0.0.1:26657"
#define CLI_DEFAULT_TIMEOUT_S 30.0
#define CLI_MAX_FLAGS 12
#define CLI_MAX_POS 4

/* Global flags, resolved from argv and the environment. */
typedef struct {
  const char *node;      /* RPC URL */
  const char *key;       /* signer keystore; NULL when not given */
  const char *pass_file; /* NULL: $CUSTOS_PASSPHRASE */
  int json;              /* machine output */
  int wait;              /* after submitting, wait for the receipt */
  int print_only;        /* sign and print the encoding; do not submit */
  double timeout_s;      /* --wait limit */
} cli_ctx;

typedef struct {
  const char *name; /* long flag without "--" */
  const char *meta; /* value placeholder ("N", "FILE"); NULL for a switch */
  const char *help;
  int required;
} cli_flag;

/* What a command needs; decides which common flags its help shows. */
typedef enum {
  CLI_OFFLINE = 0, /* no node */
  CLI_QUERY,       /* reads from the node */
  CLI_SUBMIT,      /* signs and submits a transaction */
} cli_kind;

typedef struct cli_cmd cli_cmd;

typedef struct {
  const cli_cmd *cmd;
  const char *pos[CLI_MAX_POS];
  int npos;
  const char *val[CLI_MAX_FLAGS]; /* by index in cmd->flags; "" for a set switch */
  const char *nonce;              /* --nonce (CLI_SUBMIT commands) */
} cli_args;

struct cli_cmd {
  const char *path;     /* command words: "member propose add" */
  const char *synopsis; /* what follows the path in the usage line */
  const char *summary;  /* one line for the command list */
  const char *desc;     /* paragraph for --help */
  const char *example;  /* one or more example lines */
  cli_kind kind;
  int min_pos, max_pos;
  cli_flag flags[CLI_MAX_FLAGS]; /* terminated by name == NULL (or full) */
  int (*run)(cli_ctx *c, const cli_args *a);
};

/* Command tables (terminated by {.path = NULL}). */
/* cli_rpc.c: a failed RPC call printed as every command prints one (the
 * rule name first, for scripts); returns its exit code. */
struct rpcc_error;
int cli_rpc_report(const cli_ctx *c, const char *method, cx_err e, const struct rpcc_error *err);
/* Polls tx_get until txid is committed or --timeout passes; *out gets
 * the node's committed answer (the caller's to free). */
int cli_wait_committed(const cli_ctx *c, const char *txid, cJSON **out);
double cli_now_s(void);    /* monotonic seconds */
void cli_sleep_ms(long ms);

extern const cli_cmd cli_keys_cmds[];
extern const cli_cmd cli_ckey_cmds[]; /* consortium keys: key list|get|create */
extern const cli_cmd cli_member_cmds[];
extern const cli_cmd cli_identity_cmds[];
extern const cli_cmd cli_consent_cmds[];
extern const cli_cmd cli_contract_cmds[];
extern const cli_cmd cli_query_cmds[];
extern const cli_cmd cli_devnet_cmds[];
extern const cli_cmd cli_load_cmds[];
extern const cli_cmd cli_vault_cmds[];
extern const cli_cmd cli_call_cmds[];
extern const cli_cmd cli_verify_cmds[];
extern const cli_cmd cli_backup_cmds[];

/* ---- messages and arguments (cli_util.c) ---- */

/* Prints "custos: <message>\n" to stderr and returns code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Value of a command flag by name: NULL when not given, "" for a switch. */
const char *cli_opt(const cli_args *a, const char *name);

/* Argument parsers: on error they print "custos: <what>: <why>" and return
 * CLI_USAGE; CLI_OK otherwise. */
int cli_hex32(const char *what, const char *s, uint8_t out[32]);
int cli_hash_arg(const char *what, const char *s, cx_hash *out);
int cli_did_arg(const char *what, const char *s, cx_hash *out); /* hex or did:custos:hex */
int cli_u64_arg(const char *what, const char *s, uint64_t *out);
int cli_name_arg(const char *what, const char *s, char out[CX_NAME_MAX + 1]);
int cli_domains_arg(const char *what, const char *csv, cx_domain_set *out);
/* A public key given as a keystore file (key and enc_key) or as 64 hex
 * digits (key only; *has_enc = 0). A file that exists but is not a keystore
 * is a local failure (CLI_LOCAL). enc_out may be NULL. */
int cli_pubkey_arg(const char *what, const char *arg, cx_pubkey *key, uint8_t *enc_out,
                   int *has_enc);

/* The admin cookie named by the command's --cookie flag ("user:secret",
 * CLI_LOCAL if the file is not one); free with cli_free_cookie (wipes). */
int cli_read_cookie(const cli_args *a, char **out);
void cli_free_cookie(char *cookie);
/* Reads a whole file; CLI_LOCAL with a message on failure. */
int cli_read_file(const char *path, size_t cap, char **out, size_t *len);
/* The passphrase (--passphrase-file or $CUSTOS_PASSPHRASE); CLI_LOCAL. */
int cli_passphrase(const cli_ctx *c, char **out);
/* Loads the signer (--key / $CUSTOS_KEY); CLI_USAGE when none is given,
 * CLI_LOCAL when it cannot be opened. */
int cli_load_signer_keys(const cli_ctx *c, keystore_keys *out);

/* Output: one compact line with --json, indented otherwise. */
void cli_print_json(const cli_ctx *c, const cJSON *j);
/* "label: value" lines for the string/number members of an object. */
void cli_print_fields(const cJSON *obj);
/* A JSON number or decimal string as u64; -1 if neither. */
int cli_json_u64(const cJSON *v, uint64_t *out);

/* ---- talking to the node (cli_rpc.c) ---- */

/* One RPC call. params consumed. Prints the error and returns CLI_REFUSED /
 * CLI_UNREACHABLE / CLI_LOCAL on failure. */
int cli_call(const cli_ctx *c, const char *method, cJSON *params, const char *auth,
             cJSON **result);
/* An admin method with the --cookie file's credentials (params consumed):
 * prints the result, or hands it over in *keep when keep is not NULL. */
int cli_admin_call(cli_ctx *c, const cli_args *a, const char *method, cJSON *params, cJSON **keep);
/* Calls a query method and prints its result. */
int cli_query(const cli_ctx *c, const char *method, cJSON *params);
/* {"<field>": "<hex>"} */
cJSON *cli_params_hex(const char *field, const uint8_t *b, size_t n);

/* A signer ready to sign its next transaction. */
typedef struct {
  keystore_keys keys;
  cx_hash chain_id;
  uint64_t height; /* node's height when opened */
  uint64_t nonce;
  int nonce_forced; /* --nonce: never re-signed under another nonce */
} cli_signer;

/* Loads the keystore, asks the node for chain id, height and next nonce
 * (unless --nonce). On failure prints why and returns the exit code. */
int cli_signer_open(const cli_ctx *c, const cli_args *a, cli_signer *s);
void cli_signer_close(cli_signer *s);
/* Signs tx (chain id, nonce, sender from s), submits it and prints the txid
 * (or, with --wait, the receipt) together with extras (consumed, may be
 * NULL: an object of additional output fields such as a DID). When another
 * transaction of the same key takes the nonce (the node's own: the member
 * key is shared), it re-signs under the next free one, unless --nonce
 * fixed it or the transaction is bound to its nonce (a call whose params
 * were dealt under it) (cli_rpc.c, "a client's nonce"); --wait's --timeout
 * covers all attempts. */
int cli_sign_submit(const cli_ctx *c, cli_signer *s, cx_tx *tx, cJSON *extras);

#endif
