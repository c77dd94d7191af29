#include "merkle.h"

#include <string.h>

static void leaf_hash(const cx_hash *d, cx_hash *out) {
  hash_tagged(CX_TAG_MERKLE_LEAF, d->b, 32, out);
}

static void node_hash(const cx_hash *l, const cx_hash *r, cx_hash *out) {
  hash_ctx c;
  hash_ctx_init(&c, CX_TAG_MERKLE_NODE);
  hash_ctx_update(&c, l->b, 32);
  hash_ctx_update(&c, r->b, 32);
  hash_ctx_final(&c, out);
}

static size_t split(size_t n) { /* largest power of two strictly below n */
  size_t k = 1;
  /* 2k < n, written so that k << 1 cannot wrap to 0 (n > 2^63 looped forever) */
  while (k <= (n - 1) / 2) k <<= 1;
  return k;
}

static void mth(const cx_hash *d, size_t n, cx_hash *out) {
  if (n == 1) {
    leaf_hash(d, out);
    return;
  }
  size_t k = split(n);
  cx_hash l, r;
  mth(d, k, &l);
  mth(d + k, n - k, &r);
  node_hash(&l, &r, out);
}

void merkle_root(const cx_hash *leaves, size_t n, cx_hash *root) {
  if (n == 0) {
    memset(root, 0, sizeof *root);
    return;
  }
  mth(leaves, n, root);
}

/* RFC 6962 §2.1.1 PATH(m, D[n]) */
static size_t path_rec(const cx_hash *d, size_t n, size_t m, cx_hash *path) {
  if (n <= 1) return 0;
  size_t k = split(n);
  size_t len;
  if (m < k) {
    len = path_rec(d, k, m, path);
    mth(d + k, n - k, &path[len]);
  } else {
    len = path_rec(d + k, n - k, m - k, path);
    mth(d, k, &path[len]);
  }
  return len + 1;
}

size_t merkle_path(const cx_hash *leaves, size_t n, size_t idx, cx_hash path[MERKLE_MAX_DEPTH]) {
  CX_ASSERT(idx < n);
  return path_rec(leaves, n, idx, path);
}

/* Recomputes top-down decisions bottom-up: at each level we need to know
 * whether the current subtree is a left or right child and the subtree sizes,
 * which follow from (idx, n) exactly as in the recursive definition. */
static int verify_rec(const cx_hash *h, size_t idx, size_t n, const cx_hash *path,
                      size_t len, cx_hash *out) {
  if (n == 1) {
    if (len != 0) return 0;
    *out = *h;
    return 1;
  }
  if (len == 0) return 0;
  size_t k = split(n);
  cx_hash sub;
  if (idx < k) {
    if (!verify_rec(h, idx, k, path, len - 1, &sub)) return 0;
    node_hash(&sub, &path[len - 1], out);
  } else {
    if (!verify_rec(h, idx - k, n - k, path, len - 1, &sub)) return 0;
    node_hash(&path[len - 1], &sub, out);
  }
  return 1;
}

int merkle_climb(const cx_hash *leaf, size_t idx, size_t n, const cx_hash *path, size_t path_len,
                 cx_hash *root) {
  if (idx >= n || path_len > MERKLE_MAX_DEPTH) return 0;
  cx_hash lh;
  leaf_hash(leaf, &lh);
  return verify_rec(&lh, idx, n, path, path_len, root);
}

int merkle_verify(const cx_hash *leaf, size_t idx, size_t n, const cx_hash *path,
                  size_t path_len, const cx_hash *root) {
  cx_hash got;
  return merkle_climb(leaf, idx, n, path, path_len, &got) && hash_eq(&got, root);
}
