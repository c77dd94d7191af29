/* The interface of a contract (its ports and domains), decoded once per
 * contract id and kept for the process's life in a small shared table.
 *
 * Why: the call and result rules run for every call, twice (the call
 * transaction, then its result), and read nothing of the bytecode but the
 * ports' kinds, lengths and ranges and the input domains. Decoding the
 * whole contract for that was a quarter of the consensus thread's samples
 * in bench_calls (session 27's profile; lang_decode of the underwriting
 * contract is ~34 us, bench_lang).
 *
 * Why a table keyed by id alone is sound: the id is the hash of the
 * bytecode (the deploy rule derives it, vm_contract_id) and a deployed
 * contract is never replaced, so the interface is a function of the id,
 * whatever state or chain asks. The table is filled only from a contract
 * that decoded. A hit does not say the contract is in the caller's state:
 * the call rule has checked that it is callable before it asks, and the
 * result rule asks for the contract of a recorded call (contracts are
 * never deleted). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lang.h"
#include "vm_internal.h"

#define IFACE_SLOTS 16 /* distinct contracts called in a row; a miss only costs a decode */

static pthread_mutex_t iface_mu = PTHREAD_MUTEX_INITIALIZER;
static vmi_iface *iface_tab[IFACE_SLOTS]; /* owned by the table; replaced round robin */
static size_t iface_next;

static size_t iface_size(size_t nports) { return sizeof(vmi_iface) + nports * sizeof(vmi_port); }

static vmi_iface *iface_dup(const vmi_iface *f) {
  vmi_iface *c = malloc(iface_size(f->nports));
  if (c) memcpy(c, f, iface_size(f->nports));
  return c;
}

/* Decodes the stored bytecode of contract id into a new interface. */
static cx_err iface_decode(const vm_state *st, const cx_hash *id, vmi_iface **out) {
  vm_contract k;
  lang_contract *lc = NULL;
  vmi_iface *f = NULL;
  cx_err err = vm_contract_get(st, id, &k);
  if (err) return err;
  err = lang_decode(k.bytecode, k.bytecode_len, &lc, NULL, 0);
  vm_contract_clear(&k);
  /* The stored bytecode is what this node's compiler produced at deploy:
   * if it no longer decodes, the store is damaged. */
  if (err) return err == CX_E_NOMEM ? err : CX_E_CORRUPT;
  size_t np = lang_nports(lc);
  f = calloc(1, iface_size(np));
  if (!f) {
    err = CX_E_NOMEM;
    goto out;
  }
  f->id = *id;
  f->nports = np;
  for (size_t i = 0; i < np; i++) {
    lang_port p;
    lang_port_get(lc, i, &p);
    f->ports[i] = (vmi_port){.kind = (uint8_t)p.kind, .len = p.len, .lo = p.lo, .hi = p.hi};
  }
  /* The deploy rule checked that the domains fit a domain set. */
  if (lang_domains(lc, &f->domains) != CX_OK) err = CX_E_CORRUPT;
out:
  lang_free(lc);
  if (err) {
    free(f);
    return err;
  }
  *out = f;
  return CX_OK;
}

cx_err vmi_contract_iface(const vm_state *st, const cx_hash *id, vmi_iface **out) {
  *out = NULL;
  pthread_mutex_lock(&iface_mu);
  for (size_t i = 0; i < IFACE_SLOTS; i++)
    if (iface_tab[i] && hash_eq(&iface_tab[i]->id, id)) {
      *out = iface_dup(iface_tab[i]);
      pthread_mutex_unlock(&iface_mu);
      return *out ? CX_OK : CX_E_NOMEM;
    }
  pthread_mutex_unlock(&iface_mu);
  /* Decoded outside the lock: two threads missing at once both decode, and
   * the second insert finds the first (same content either way). */
  vmi_iface *f = NULL;
  cx_err err = iface_decode(st, id, &f);
  if (err) return err;
  vmi_iface *keep = iface_dup(f);
  pthread_mutex_lock(&iface_mu);
  int have = 0;
  for (size_t i = 0; i < IFACE_SLOTS && !have; i++) have = iface_tab[i] && hash_eq(&iface_tab[i]->id, id);
  if (!have && keep) {
    free(iface_tab[iface_next]);
    iface_tab[iface_next] = keep;
    iface_next = (iface_next + 1) % IFACE_SLOTS;
    keep = NULL;
  }
  pthread_mutex_unlock(&iface_mu);
  free(keep);
  *out = f;
  return CX_OK;
}
