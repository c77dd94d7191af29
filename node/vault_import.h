/* vault_import: the record files of `custos vault import`, read against a
 * domain's schema, and the rule for one record value given in JSON, shared
 * by those files and the admin_vault_import method (docs/vault.md,
 * "Operating the vault").
 *
 * CSV: a header line naming the column "did" and every field of the
 * schema, each once, in any order; then one record per line. A DID is 64
 * hex digits, optionally prefixed "did:custos:". An int value is decimal
 * ([+-]?[0-9]+, within int64); a bool is true/false (any case) or 0/1.
 * Cells may be quoted ("..." with "" for a quote) and are trimmed of spaces
 * and tabs; lines end in LF or CRLF; blank lines are skipped; a UTF-8 BOM
 * before the header is skipped. A quoted cell cannot span lines.
 *
 * JSON: an array of objects {"did": "...", "<field>": value, ...} with every
 * field once and nothing else. Values as vimport_json_value reads them.
 *
 * Every value is checked against its field's range here, and two records
 * with the same DID are refused, so a file that parses can only be refused
 * by the node for a reason the file does not show (a schema changed in the
 * meantime, a failed write). Error sentences name the place ("line 57: age:
 * 200 is outside 0..150", "record 3: did: expected 64 hex digits"): they
 * may contain the offending value and are meant for the operator's screen,
 * not for logs.
 *
 * Pure functions over text in memory: no I/O, no logging. The values are
 * wiped (sodium_memzero) by vimport_free. */
#ifndef CUSTOS_VAULT_IMPORT_H
#define CUSTOS_VAULT_IMPORT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "hash.h"
#include "vault.h"

#define VIMPORT_MAX_RECORDS 1000000u /* per file; a bigger import is several files */
#define VIMPORT_MAX_PER_CALL 1000    /* records per admin_vault_import call */
#define VIMPORT_CELL_MAX 96          /* bytes of one trimmed, unquoted CSV cell */

/* A parsed file: n records, values in schema order. */
typedef struct {
  size_t n;
  size_t nfields; /* the schema's */
  cx_hash *dids;  /* n */
  size_t *where;  /* n: CSV line number (1-based), or JSON array index (0-based) */
  int64_t *vals;  /* n * nfields */
} vimport_set;

/* Parses a CSV / JSON file's text (len bytes; need not be NUL-terminated)
 * against schema s into *out (owned by the caller: vimport_free, also after
 * a failure). CX_OK; CX_E_INVALID_ARG with a sentence in err for anything
 * malformed, out of range, duplicated or missing; CX_E_FULL beyond
 * VIMPORT_MAX_RECORDS; CX_E_NOMEM. On failure out holds no records. */
cx_err vimport_csv(const char *text, size_t len, const vault_schema *s, vimport_set *out, char *err,
                   size_t errlen);
cx_err vimport_json(const char *text, size_t len, const vault_schema *s, vimport_set *out, char *err,
                    size_t errlen);
/* Wipes the values and frees; safe on a zeroed or already freed set. */
void vimport_free(vimport_set *set);

/* A JSON value for field f: an int field takes an integral JSON number
 * within +-2^53 (exact in a double) or a decimal string (the whole int64
 * range); a bool field takes true/false or the numbers 0/1. The range is
 * not checked (vimport_check). CX_OK, or CX_E_INVALID_ARG with a reason in
 * why that does not repeat the value ("expected an integer"). */
cx_err vimport_json_value(const cJSON *j, const vault_field *f, int64_t *out, char *why, size_t wl);
/* The value against its field's range: CX_OK, or CX_E_INVALID_ARG with
 * "<field>: <v> is outside lo..hi" / "<field>: <v> is not a bool (0 or 1)". */
cx_err vimport_check(const vault_field *f, int64_t v, char *why, size_t wl);
/* A DID: 64 hex digits, optionally prefixed "did:custos:". 0 ok, -1 not. */
int vimport_did(const char *s, size_t n, cx_hash *out);

#endif
