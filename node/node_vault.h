/* node_vault: a bureau node's vault (storage/vault.h) inside custosd — the
 * data key derived from the member keystore, the key id file, the open
 * at start with recovery of an interrupted rotation, rotation, and the lock
 * that serialises the RPC threads' use of the one vault handle
 * (docs/vault.md, "Operating the vault"). Not a public header: node.c
 * opens and closes it, api.c's admin methods use it.
 *
 * Data key (32 bytes) for key id i:
 *   BLAKE2b-256(key = the member's secp256k1 secret key (32 bytes),
 *               msg = "custos/vault-key/v1" || u32be i)
 * Nothing of it is stored: the keystore and the key id are enough to derive
 * it again. A keystore with another secret (a member rekeyed on chain) does
 * not open the vault.
 *
 * DATA/vault.keyid holds the current key id as decimal text and a newline
 * (absent: 1), replaced atomically and synced (fileutil.h) after each
 * rotation. Crash window: vault_rotate's batch commits before the file is
 * rewritten, so after a crash between the two the file names the old id
 * while the vault is under id + 1; node_vault_open, when the stored id does
 * not open the vault (CX_E_PASSPHRASE), tries id + 1 and, if that opens,
 * rewrites the file. */
#ifndef CUSTOS_NODE_VAULT_H
#define CUSTOS_NODE_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "keys.h"
#include "vault.h"

typedef struct node_vault node_vault;

/* The data key for key id (>= 1), into out (the caller wipes it). CX_E_NOMEM
 * when no locked memory is left for the secret's copy. */
cx_err node_vault_key(const cx_seckey *sk, uint32_t key_id, uint8_t out[VAULT_KEY_BYTES]);

/* DATA/vault.keyid: CX_OK with *id (1 when the file is absent); CX_E_CORRUPT
 * when it does not hold a decimal 1..4294967295 and a newline; CX_E_IO. */
cx_err node_vault_keyid_read(const char *path, uint32_t *id);
cx_err node_vault_keyid_write(const char *path, uint32_t id);

/* Opens DATA_DIR/vault with the key derived from sk and the key id of
 * DATA_DIR/vault.keyid (see above for the recovery). err gets a sentence on
 * failure (no key material in it). *out owned by the caller. */
cx_err node_vault_open(const char *data_dir, const cx_seckey *sk, node_vault **out, char *err,
                       size_t errlen);
/* Closes the vault (the key is wiped); NULL is a no-op. No call may be
 * running on it. */
void node_vault_close(node_vault *nv);

/* The vault handle, locked for the calling thread (every use of the handle
 * goes between lock and unlock); unlock releases it. */
vault *node_vault_lock(node_vault *nv);
void node_vault_unlock(node_vault *nv);

/* Re-seals the vault under key id + 1 (derived from sk) and then rewrites
 * DATA/vault.keyid. *new_id gets the new id. When the rotation committed
 * but the file could not be written, CX_OK is returned with *file_ok = 0
 * (the next start recovers it, see above). Otherwise vault_rotate's error
 * (CX_E_FULL at the last key id), nothing changed. Takes the lock. */
cx_err node_vault_rotate(node_vault *nv, const cx_seckey *sk, uint32_t *new_id, int *file_ok);

#endif
