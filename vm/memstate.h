/* memstate: a vm_state held in memory, with savepoints: what an auditor
 * replays rules over when it has no node store (node/verify.c replays the
 * governance transactions from the genesis, docs/calls.md §7). Keys are
 * kept sorted; every put and del is logged so that rollback can undo it,
 * until vm_memstate_forget drops the log. Not thread-safe. */
#ifndef CUSTOS_VM_MEMSTATE_H
#define CUSTOS_VM_MEMSTATE_H

#include <stddef.h>

#include "vm.h"

typedef struct vm_memstate vm_memstate;

/* An empty state; NULL when out of memory. */
vm_memstate *vm_memstate_new(void);
void vm_memstate_free(vm_memstate *m); /* NULL is a no-op */
/* The vm_state over m (get/put/del/mark/rollback; get's *v malloc'd). A put
 * or del that cannot allocate returns CX_E_NOMEM and changes nothing. */
vm_state vm_memstate_state(vm_memstate *m);
/* Drops the undo log: the writes so far can no longer be rolled back
 * (marks taken before are void). A replayer calls it between
 * transactions so the log does not grow with the whole history. */
void vm_memstate_forget(vm_memstate *m);
/* Number of entries (tests). */
size_t vm_memstate_size(const vm_memstate *m);

#endif
