#include "mempool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Entries live in a doubly linked arrival list and an open-addressing hash
 * table by txid; a second table counts pending transactions per sender and
 * holds the (sender, nonce) set. Capacities are fixed at creation from
 * max_txs, so no table ever grows past its bound. */

typedef struct entry {
  cx_tx tx;
  cx_hash txid;
  uint8_t *raw;
  size_t len;
  struct entry *prev, *next;
} entry;

/* A pending command (the FIFO lane): its whole encoding is 34 bytes, so it
 * is kept inline, without the decoded cx_tx a signed entry carries. */
typedef struct cmd {
  cx_hash txid;
  uint8_t raw[CX_COMMAND_BYTES];
  struct cmd *prev, *next;
} cmd;

typedef struct {
  cx_pubkey key;
  size_t count;
  uint64_t gen; /* the slot is in use iff gen == mempool.sgen */
} sender_slot;

struct mempool {
  pthread_mutex_t mu;
  size_t max, max_per_sender, size;
  entry *head, *tail;
  /* Hash tables of tabcap slots probed by probe(): void * so that one
   * probe serves them all. */
  void **tab;     /* txid -> entry *, linear probing with tombstones */
  void **bynonce; /* (sender, nonce) -> entry *, same scheme */
  size_t tabcap, tombs;
  sender_slot *senders;
  size_t sendcap, nsenders;
  uint64_t sgen; /* clearing the sender table is sgen++ (>= 1) */
  cmd *chead, *ctail; /* the command lane, arrival order */
  void **ctab;        /* txid -> cmd *, same scheme and capacity as tab */
  size_t ncmd, ctombs;
  uint64_t admitted, rejected, committed;
};

static entry *const TOMB = (entry *)1;
static cmd *const CTOMB = (cmd *)1;

static uint64_t h64(const uint8_t *b) {
  uint64_t v;
  memcpy(&v, b, 8); /* inputs are hashes/keys: already uniform */
  return v;
}

static size_t pow2_at_least(size_t n) {
  size_t c = 16;
  while (c < n) c <<= 1;
  return c;
}

mempool *mempool_new(size_t max_txs, size_t max_per_sender) {
  mempool *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->max = max_txs;
  m->max_per_sender = max_per_sender;
  m->tabcap = pow2_at_least(max_txs * 2 + 1);
  m->sendcap = pow2_at_least(max_txs * 4 + 1); /* see senders_rebuild */
  m->sgen = 1;
  m->tab = calloc(m->tabcap, sizeof *m->tab);
  m->bynonce = calloc(m->tabcap, sizeof *m->bynonce);
  m->senders = calloc(m->sendcap, sizeof *m->senders);
  m->ctab = calloc(m->tabcap, sizeof *m->ctab);
  if (!m->tab || !m->bynonce || !m->senders || !m->ctab || pthread_mutex_init(&m->mu, NULL)) {
    free(m->ctab);
    free(m->tab);
    free(m->bynonce);
    free(m->senders);
    free(m);
    return NULL;
  }
  return m;
}

static void entry_free(entry *e) {
  tx_clear(&e->tx);
  free(e->raw);
  free(e);
}

void mempool_free(mempool *m) {
  if (!m) return;
  for (entry *e = m->head, *n; e; e = n) {
    n = e->next;
    entry_free(e);
  }
  for (cmd *c = m->chead, *n; c; c = n) {
    n = c->next;
    free(c);
  }
  free(m->ctab);
  free(m->tab);
  free(m->bynonce);
  free(m->senders);
  pthread_mutex_destroy(&m->mu);
  free(m);
}

/* Linear probing with tombstones over one of the mempool's tables (every
 * table has tabcap slots; NULL = empty, the table's tomb = deleted): the
 * slot holding the entry that match() accepts, or the first free slot on
 * the key's probe path (*found = 0). */
static size_t probe(void *const *tab, size_t mask, uint64_t h, const void *tomb,
                    int (*match)(const void *e, const void *key), const void *key, int *found) {
  size_t i = h & mask, free_slot = SIZE_MAX;
  for (;;) {
    const void *e = tab[i];
    if (!e) {
      *found = 0;
      return free_slot != SIZE_MAX ? free_slot : i;
    }
    if (e == tomb) {
      if (free_slot == SIZE_MAX) free_slot = i;
    } else if (match(e, key)) {
      *found = 1;
      return i;
    }
    i = (i + 1) & mask;
  }
}

static int entry_has_txid(const void *e, const void *id) {
  return hash_eq(&((const entry *)e)->txid, id);
}

static int cmd_has_txid(const void *c, const void *id) {
  return hash_eq(&((const cmd *)c)->txid, id);
}

typedef struct {
  const cx_pubkey *k;
  uint64_t nonce;
} nonce_ref;

static int entry_has_nonce(const void *e, const void *key) {
  const entry *x = e;
  const nonce_ref *r = key;
  return x->tx.nonce == r->nonce && memcmp(x->tx.sender.b, r->k->b, 32) == 0;
}

/* Slot of txid in tab, or the first free slot for it (*found = 0). */
static size_t tab_find(const mempool *m, const cx_hash *id, int *found) {
  return probe(m->tab, m->tabcap - 1, h64(id->b), TOMB, entry_has_txid, id, found);
}

/* The same in the command lane's table. */
static size_t ctab_find(const mempool *m, const cx_hash *id, int *found) {
  return probe(m->ctab, m->tabcap - 1, h64(id->b), CTOMB, cmd_has_txid, id, found);
}

static void ctab_rebuild(mempool *m) {
  memset(m->ctab, 0, m->tabcap * sizeof *m->ctab);
  for (cmd *c = m->chead; c; c = c->next) {
    int f;
    m->ctab[ctab_find(m, &c->txid, &f)] = c;
  }
  m->ctombs = 0;
}

static uint64_t nonce_key(const cx_pubkey *k, uint64_t nonce) {
  return h64(k->b) ^ (nonce * 0x9e3779b97f4a7c15ull);
}

/* Slot of (sender, nonce) in bynonce, or the first free slot for it. */
static size_t nonce_find(const mempool *m, const cx_pubkey *k, uint64_t nonce, int *found) {
  nonce_ref r = {k, nonce};
  return probe(m->bynonce, m->tabcap - 1, nonce_key(k, nonce), TOMB,
               entry_has_nonce, &r, found);
}

/* Rebuilds both tables when tombstones pile up (keeps probes short). */
static void tab_rebuild(mempool *m) {
  memset(m->tab, 0, m->tabcap * sizeof *m->tab);
  memset(m->bynonce, 0, m->tabcap * sizeof *m->bynonce);
  for (entry *e = m->head; e; e = e->next) {
    int f;
    m->tab[tab_find(m, &e->txid, &f)] = e;
    m->bynonce[nonce_find(m, &e->tx.sender, e->tx.nonce, &f)] = e;
  }
  m->tombs = 0;
}

static sender_slot *sender_find(mempool *m, const cx_pubkey *k, int create) {
  size_t mask = m->sendcap - 1, i = h64(k->b) & mask;
  for (;;) {
    sender_slot *s = &m->senders[i];
    if (s->gen != m->sgen) {
      if (!create) return NULL;
      s->gen = m->sgen;
      s->key = *k;
      s->count = 0;
      m->nsenders++;
      return s;
    }
    if (memcmp(s->key.b, k->b, 32) == 0) return s;
    i = (i + 1) & mask;
  }
}

/* Sender slots are never deleted one by one (that would break probing);
 * when no signed transaction is pending at all the table is cleared, by a
 * new generation (a memset of the table, megabytes, took a tenth of a
 * lightly loaded validator's consensus thread: the mempool empties at
 * every block then). */
static void sender_dec(mempool *m, const cx_pubkey *k) {
  sender_slot *s = sender_find(m, k, 0);
  if (s && s->count) s->count--;
  if (m->size == m->ncmd) { /* no signed transaction left (commands have no sender) */
    m->sgen++;
    m->nsenders = 0;
  }
}

/* Under a load that never lets the mempool empty, slots of senders with
 * nothing pending pile up and would fill the table (sender_find would then
 * probe forever). Past half the table it is rebuilt from the pending
 * entries: at most max distinct senders survive, so at least max new
 * senders come between two rebuilds (sendcap >= 4 max), O(1) amortised. */
static void senders_rebuild(mempool *m) {
  m->sgen++;
  m->nsenders = 0;
  for (entry *e = m->head; e; e = e->next) sender_find(m, &e->tx.sender, 1)->count++;
}

static void unlink_entry(mempool *m, entry *e) {
  int f;
  size_t slot = tab_find(m, &e->txid, &f);
  if (f) m->tab[slot] = TOMB;
  slot = nonce_find(m, &e->tx.sender, e->tx.nonce, &f);
  if (f) m->bynonce[slot] = TOMB;
  m->tombs++;
  if (e->prev) e->prev->next = e->next; else m->head = e->next;
  if (e->next) e->next->prev = e->prev; else m->tail = e->prev;
  m->size--;
  sender_dec(m, &e->tx.sender);
}

/* Why a transaction cannot join (m->mu held): dup = its txid or its
 * sender's nonce is pending; s = its sender's slot or NULL. */
static cx_err refusal(const mempool *m, int dup, const sender_slot *s) {
  if (dup) return CX_E_DUPLICATE;
  if (m->size >= m->max) return CX_E_MEMPOOL_FULL;
  if (s && s->count >= m->max_per_sender) return CX_E_SENDER_LIMIT;
  return CX_OK;
}

cx_err mempool_check(mempool *m, const cx_tx *tx, const cx_hash *txid) {
  int found, nfound;
  pthread_mutex_lock(&m->mu);
  tab_find(m, txid, &found);
  nonce_find(m, &tx->sender, tx->nonce, &nfound);
  cx_err rc = refusal(m, found || nfound, sender_find(m, &tx->sender, 0));
  pthread_mutex_unlock(&m->mu);
  return rc;
}

cx_err mempool_add(mempool *m, cx_tx *tx, const cx_hash *txid, const uint8_t *raw,
                   size_t len) {
  cx_err rc = CX_OK;
  entry *e = calloc(1, sizeof *e);
  uint8_t *copy = malloc(len ? len : 1);
  if (!e || !copy) {
    free(e);
    free(copy);
    return CX_E_NOMEM;
  }
  memcpy(copy, raw, len);
  pthread_mutex_lock(&m->mu);
  int found, nfound;
  if (m->tombs > m->tabcap / 4) tab_rebuild(m);
  size_t slot = tab_find(m, txid, &found);
  size_t nslot = nonce_find(m, &tx->sender, tx->nonce, &nfound);
  sender_slot *s = sender_find(m, &tx->sender, 0);
  rc = refusal(m, found || nfound, s);
  if (rc) {
    m->rejected++;
    pthread_mutex_unlock(&m->mu);
    free(e);
    free(copy);
    return rc;
  }
  if (m->nsenders >= m->sendcap / 2) senders_rebuild(m); /* before e is linked */
  e->tx = *tx; /* ownership of heap parts moves to the entry */
  memset(tx, 0, sizeof *tx);
  e->txid = *txid;
  e->raw = copy;
  e->len = len;
  e->prev = m->tail;
  if (m->tail) m->tail->next = e; else m->head = e;
  m->tail = e;
  m->tab[slot] = e;
  m->bynonce[nslot] = e;
  sender_find(m, &e->tx.sender, 1)->count++;
  m->size++;
  m->admitted++;
  pthread_mutex_unlock(&m->mu);
  return CX_OK;
}

cx_err mempool_add_command(mempool *m, const cx_hash *txid, const uint8_t *raw) {
  cmd *c = malloc(sizeof *c);
  if (!c) return CX_E_NOMEM;
  c->txid = *txid;
  memcpy(c->raw, raw, CX_COMMAND_BYTES);
  c->next = NULL;
  pthread_mutex_lock(&m->mu);
  int found;
  cx_err rc = CX_OK;
  if (m->ctombs > m->tabcap / 4) ctab_rebuild(m);
  size_t slot = ctab_find(m, txid, &found);
  if (found)
    rc = CX_E_DUPLICATE;
  else if (m->size >= m->max) /* one bound for both lanes */
    rc = CX_E_MEMPOOL_FULL;
  if (rc) {
    m->rejected++;
    pthread_mutex_unlock(&m->mu);
    free(c);
    return rc;
  }
  c->prev = m->ctail;
  if (m->ctail) m->ctail->next = c; else m->chead = c;
  m->ctail = c;
  m->ctab[slot] = c;
  m->ncmd++;
  m->size++;
  m->admitted++;
  pthread_mutex_unlock(&m->mu);
  return CX_OK;
}

int mempool_has(mempool *m, const cx_hash *txid) {
  int f;
  pthread_mutex_lock(&m->mu);
  tab_find(m, txid, &f);
  if (!f && m->ncmd) ctab_find(m, txid, &f);
  pthread_mutex_unlock(&m->mu);
  return f;
}

cx_err mempool_get_raw(mempool *m, const cx_hash *txid, uint8_t **raw, size_t *len) {
  int f;
  cx_err rc = CX_E_NOT_FOUND;
  pthread_mutex_lock(&m->mu);
  size_t slot = tab_find(m, txid, &f);
  if (f) {
    entry *e = m->tab[slot];
    *raw = malloc(e->len ? e->len : 1);
    if (!*raw) {
      rc = CX_E_NOMEM;
    } else {
      memcpy(*raw, e->raw, e->len);
      *len = e->len;
      rc = CX_OK;
    }
  } else if (m->ncmd && (slot = ctab_find(m, txid, &f), f)) {
    if (!(*raw = malloc(CX_COMMAND_BYTES))) {
      rc = CX_E_NOMEM;
    } else {
      memcpy(*raw, ((const cmd *)m->ctab[slot])->raw, CX_COMMAND_BYTES);
      *len = CX_COMMAND_BYTES;
      rc = CX_OK;
    }
  }
  pthread_mutex_unlock(&m->mu);
  return rc;
}

size_t mempool_pending_of(mempool *m, const cx_pubkey *sender) {
  pthread_mutex_lock(&m->mu);
  sender_slot *s = sender_find(m, sender, 0);
  size_t n = s ? s->count : 0;
  pthread_mutex_unlock(&m->mu);
  return n;
}

void mempool_stats_get(mempool *m, mempool_stats *out) {
  pthread_mutex_lock(&m->mu);
  out->size = m->size;
  out->max = m->max;
  out->senders = m->nsenders;
  out->commands = m->ncmd;
  out->admitted = m->admitted;
  out->rejected = m->rejected;
  out->committed = m->committed;
  pthread_mutex_unlock(&m->mu);
}

void mempool_note_rejected(mempool *m) {
  pthread_mutex_lock(&m->mu);
  m->rejected++;
  pthread_mutex_unlock(&m->mu);
}

/* Next-nonce cache for one selection pass: small open-addressing map that
 * grows with the senders a pass meets (sized for the whole mempool, a full
 * 50,000-entry pool cost a 6 MB calloc per block). */
typedef struct {
  cx_pubkey key;
  uint64_t next;
  int used;
} nonce_slot;

typedef struct {
  nonce_slot *v;
  size_t cap, n; /* cap a power of two, n < cap / 2 */
} nonce_map;

static nonce_slot *nm_slot(nonce_slot *v, size_t cap, const cx_pubkey *k) {
  size_t i = h64(k->b) & (cap - 1);
  while (v[i].used && memcmp(v[i].key.b, k->b, 32) != 0) i = (i + 1) & (cap - 1);
  return &v[i];
}

/* The slot of sender k, filled from next_nonce on first sight; NULL if out
 * of memory. */
static nonce_slot *nm_get(nonce_map *nm, const cx_pubkey *k, const mempool_selector *sel) {
  nonce_slot *sl = nm_slot(nm->v, nm->cap, k);
  if (sl->used) return sl;
  if (2 * (nm->n + 1) >= nm->cap) {
    size_t cap = nm->cap * 2;
    nonce_slot *v = calloc(cap, sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < nm->cap; i++)
      if (nm->v[i].used) *nm_slot(v, cap, &nm->v[i].key) = nm->v[i];
    free(nm->v);
    nm->v = v;
    nm->cap = cap;
    sl = nm_slot(v, cap, k);
  }
  sl->used = 1;
  sl->key = *k;
  sl->next = sel->next_nonce(sel->ctx, k);
  nm->n++;
  return sl;
}

void mempool_select(mempool *m, size_t max, const mempool_selector *sel) {
  pthread_mutex_lock(&m->mu);
  size_t taken = 0;
  nonce_map nm = {.cap = pow2_at_least(2 * (m->size < max ? m->size : max) + 2)};
  nm.v = calloc(nm.cap, sizeof *nm.v);
  if (!nm.v) goto out;
  /* Repeated passes pick up transactions that arrived out of nonce order;
   * each pass either takes something or ends the loop. */
  for (int progress = 1; progress && taken < max;) {
    progress = 0;
    for (entry *e = m->head; e && taken < max; e = e->next) {
      nonce_slot *sl = nm_get(&nm, &e->tx.sender, sel);
      if (!sl) goto out;
      if (e->tx.nonce != sl->next) continue;
      int r = sel->take(sel->ctx, &e->tx, &e->txid, e->raw, e->len);
      if (r < 0) goto out;
      if (r == 1) {
        sl->next++;
        taken++;
        progress = 1;
      }
    }
  }
out:
  free(nm.v);
  pthread_mutex_unlock(&m->mu);
}

size_t mempool_select_commands(mempool *m, size_t max, mempool_take_command take, void *ctx) {
  size_t taken = 0;
  pthread_mutex_lock(&m->mu);
  /* arrival order, no nonce to wait for */
  for (cmd *c = m->chead; c && taken < max; c = c->next) {
    int r = take(ctx, &c->txid, c->raw, CX_COMMAND_BYTES);
    if (r < 0) break;
    taken += (size_t)r;
  }
  pthread_mutex_unlock(&m->mu);
  return taken;
}

void mempool_remove_committed(mempool *m, const mempool_slot_ref *refs, size_t n) {
  pthread_mutex_lock(&m->mu);
  for (size_t i = 0; i < n; i++) {
    int f;
    size_t slot = nonce_find(m, &refs[i].sender, refs[i].nonce, &f);
    if (!f) continue;
    entry *e = m->bynonce[slot];
    unlink_entry(m, e);
    entry_free(e);
    m->committed++;
  }
  if (m->tombs > m->tabcap / 4) tab_rebuild(m);
  pthread_mutex_unlock(&m->mu);
}

void mempool_remove_commands(mempool *m, const cx_hash *ids, size_t n) {
  pthread_mutex_lock(&m->mu);
  for (size_t i = 0; i < n && m->ncmd; i++) {
    int f;
    size_t slot = ctab_find(m, &ids[i], &f);
    if (!f) continue;
    cmd *c = m->ctab[slot];
    m->ctab[slot] = CTOMB;
    m->ctombs++;
    if (c->prev) c->prev->next = c->next; else m->chead = c->next;
    if (c->next) c->next->prev = c->prev; else m->ctail = c->prev;
    m->ncmd--;
    m->size--;
    m->committed++;
    free(c);
  }
  if (m->ctombs > m->tabcap / 4) ctab_rebuild(m);
  pthread_mutex_unlock(&m->mu);
}
