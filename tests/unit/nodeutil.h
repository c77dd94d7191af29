/* nodeutil: setting up a custosd node in process for the suites that need
 * one (test_api_vault, test_api_calls, test_metrics): keystore, genesis,
 * config. Every unit test links it (tests/CMakeLists.txt). */
#ifndef CUSTOS_NODEUTIL_H
#define CUSTOS_NODEUTIL_H

#include "config.h"
#include "keystore.h"
#include "tx.h"

/* The member record of keys k: a validator iff address is not "" (its
 * member-link address); domain "" for none. */
void nu_member(cx_member *m, const char *name, uint8_t role, const keystore_keys *k, const char *address,
               const char *domain);
/* DIR/genesis.json of chain `chain` (time 1, 100 transactions a block)
 * with members m[0..n). */
void nu_genesis_write(const char *dir, const char *chain, const cx_member *m, size_t n);
/* k saved as DIR/key.json under passphrase "pw" (fast KDF). */
void nu_keystore_save(const char *dir, const keystore_keys *k);
/* Defaults for member `name` over DIR/data, DIR/genesis.json and
 * DIR/key.json; sets CUSTOS_PASSPHRASE=pw for node_open. */
void nu_config(node_config *cfg, const char *dir, const char *name);

#endif
