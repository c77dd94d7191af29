/* Merkle trees over a list of 32-byte leaves, with RFC 6962 §2.1 shape
 * (split at the largest power of two below n), so every leaf has a short
 * audit path. Leaves and nodes are domain-separated by tagged hashes
 * (CX_TAG_MERKLE_LEAF / CX_TAG_MERKLE_NODE) instead of 0x00/0x01 prefixes.
 *   MTH({})      = 32 zero bytes
 *   MTH({d0})    = H_LEAF(d0)
 *   MTH(D[0:n])  = H_NODE(MTH(D[0:k]) || MTH(D[k:n])), k = largest 2^i < n */
#ifndef CUSTOS_MERKLE_H
#define CUSTOS_MERKLE_H

#include <stddef.h>

#include "hash.h"

#define MERKLE_MAX_DEPTH 64

/* Root of n leaves. */
void merkle_root(const cx_hash *leaves, size_t n, cx_hash *root);

/* Audit path of leaf idx (RFC 6962 §2.1.1), bottom-up. Returns its length. */
size_t merkle_path(const cx_hash *leaves, size_t n, size_t idx, cx_hash path[MERKLE_MAX_DEPTH]);

/* The root that leaf idx of an n-leaf tree hashes to along this path: 1,
 * or 0 when idx or the path's length does not fit an n-leaf tree. */
int merkle_climb(const cx_hash *leaf, size_t idx, size_t n, const cx_hash *path, size_t path_len,
                 cx_hash *root);

/* 1 if leaf at idx of an n-leaf tree with this path hashes to root. */
int merkle_verify(const cx_hash *leaf, size_t idx, size_t n, const cx_hash *path,
                  size_t path_len, const cx_hash *root);

#endif
