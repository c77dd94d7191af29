/* Tests for node/node_vault.c, the vault inside custosd: the data key's
 * derivation (an independent computation of the documented formula), the
 * key id file and every malformed form of it, open/rotate/reopen, the
 * crash window of a rotation (file rewound: recovered and rewritten; two
 * ids behind: refused), another member key refused, a second open refused
 * as locked. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"
#include "node_vault.h"
#include "testutil.h"

static cx_seckey *key_of(uint8_t seed) {
  uint8_t sk[32];
  cx_seckey *k = NULL;
  memset(sk, seed, sizeof sk);
  ck_assert_int_eq(key_from_bytes(sk, &k), CX_OK);
  return k;
}

static void keyid_path(const char *dir, char *out, size_t n) { snprintf(out, n, "%s/vault.keyid", dir); }

static void put_text(const char *path, const char *text) {
  ck_assert_int_eq(file_write_atomic(path, text, strlen(text), 0600), CX_OK);
}

static void schema(vault *v) {
  vault_schema s;
  char err[256] = "";
  memset(&s, 0, sizeof s);
  snprintf(s.domain, sizeof s.domain, "hrss");
  snprintf(s.fields[0].name, sizeof s.fields[0].name, "age");
  s.fields[0].hi = 150;
  s.nfields = 1;
  ck_assert_msg(vault_schema_set(v, &s, err, sizeof err) == CX_OK, "%s", err);
}

static void put_rec(node_vault *nv, uint8_t i) {
  cx_hash d;
  int64_t age = i;
  char err[256] = "";
  memset(d.b, i, 32);
  vault *v = node_vault_lock(nv);
  ck_assert_msg(vault_put(v, "hrss", &d, &age, 1, err, sizeof err) == CX_OK, "%s", err);
  node_vault_unlock(nv);
}

static void expect_rec(node_vault *nv, uint8_t i) {
  cx_hash d;
  int64_t age = -1;
  size_t n = 0;
  memset(d.b, i, 32);
  vault *v = node_vault_lock(nv);
  ck_assert_int_eq(vault_get(v, "hrss", &d, &age, 1, &n), CX_OK);
  node_vault_unlock(nv);
  ck_assert_int_eq(age, i);
}

static uint32_t key_id(node_vault *nv) {
  uint32_t id = vault_key_id(node_vault_lock(nv));
  node_vault_unlock(nv);
  return id;
}

START_TEST(test_key_derivation) {
  cx_seckey *k = key_of(7), *other = key_of(8);
  uint8_t a[VAULT_KEY_BYTES], b[VAULT_KEY_BYTES], want[32], sk[32];
  /* The documented formula, computed here from its parts. */
  uint8_t msg[] = {'c', 'u', 's', 't', 'o', 's', '/', 'v', 'a', 'u', 'l', 't', '-', 'k', 'e', 'y',
                   '/', 'v', '1', 0x00, 0x00, 0x01, 0x02};
  memset(sk, 7, sizeof sk);
  crypto_generichash(want, 32, msg, sizeof msg, sk, 32);
  ck_assert_int_eq(node_vault_key(k, 0x0102, a), CX_OK);
  ck_assert_mem_eq(a, want, 32);
  ck_assert_int_eq(node_vault_key(k, 0x0103, b), CX_OK);
  ck_assert(memcmp(a, b, 32) != 0);
  ck_assert_int_eq(node_vault_key(other, 0x0102, b), CX_OK);
  ck_assert(memcmp(a, b, 32) != 0);
  ck_assert_int_eq(node_vault_key(k, 0x0102, b), CX_OK);
  ck_assert_mem_eq(a, b, 32); /* deterministic: nothing is stored */
  key_free(k);
  key_free(other);
}
END_TEST

START_TEST(test_keyid_file) {
  char *dir = tu_tmpdir("nvault");
  char path[512];
  uint32_t id = 0;
  keyid_path(dir, path, sizeof path);
  ck_assert_int_eq(node_vault_keyid_read(path, &id), CX_OK);
  ck_assert_uint_eq(id, 1); /* absent */
  ck_assert_int_eq(node_vault_keyid_write(path, 4294967295u), CX_OK);
  ck_assert_int_eq(node_vault_keyid_read(path, &id), CX_OK);
  ck_assert_uint_eq(id, 4294967295u);
  ck_assert_int_eq(node_vault_keyid_write(path, 2), CX_OK);
  char *text = NULL;
  ck_assert_int_eq(file_read_all(path, 64, &text, NULL), CX_OK);
  ck_assert_str_eq(text, "2\n");
  free(text);
  static const char *const bad[] = {"", "\n", "0\n", "2", "02\n", " 2\n", "2 \n", "2\n\n", "x\n",
                                    "-1\n", "4294967296\n", "99999999999\n", "2\r\n", "0x10\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    put_text(path, bad[i]);
    id = 77;
    ck_assert_msg(node_vault_keyid_read(path, &id) == CX_E_CORRUPT, "\"%s\" accepted", bad[i]);
    ck_assert_uint_eq(id, 77);
  }
  tu_rmrf(dir);
  free(dir);
}
END_TEST

START_TEST(test_open_rotate_reopen) {
  char *dir = tu_tmpdir("nvault");
  char path[512], err[256] = "";
  cx_seckey *k = key_of(3);
  node_vault *nv = NULL;
  uint32_t id = 0;
  int file_ok = 0;
  keyid_path(dir, path, sizeof path);
  ck_assert_msg(node_vault_open(dir, k, &nv, err, sizeof err) == CX_OK, "%s", err);
  ck_assert_uint_eq(key_id(nv), 1);
  schema(node_vault_lock(nv));
  node_vault_unlock(nv);
  for (uint8_t i = 1; i <= 20; i++) put_rec(nv, i);
  ck_assert_int_eq(node_vault_rotate(nv, k, &id, &file_ok), CX_OK);
  ck_assert_uint_eq(id, 2);
  ck_assert_int_eq(file_ok, 1);
  ck_assert_int_eq(node_vault_rotate(nv, k, &id, &file_ok), CX_OK);
  ck_assert_uint_eq(id, 3);
  for (uint8_t i = 1; i <= 20; i++) expect_rec(nv, i);
  /* A second handle on the same directory is refused while the first is open. */
  node_vault *nv2 = NULL;
  ck_assert_int_eq(node_vault_open(dir, k, &nv2, err, sizeof err), CX_E_LOCKED);
  ck_assert_ptr_null(nv2);
  ck_assert(strstr(err, "in use by another process") != NULL);
  node_vault_close(nv);
  uint32_t stored = 0;
  ck_assert_int_eq(node_vault_keyid_read(path, &stored), CX_OK);
  ck_assert_uint_eq(stored, 3);
  ck_assert_msg(node_vault_open(dir, k, &nv, err, sizeof err) == CX_OK, "%s", err);
  ck_assert_uint_eq(key_id(nv), 3);
  for (uint8_t i = 1; i <= 20; i++) expect_rec(nv, i);
  node_vault_close(nv);
  node_vault_close(NULL);
  key_free(k);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* The rotation's batch committed, the key id file not yet rewritten: the
 * file names the previous id. */
START_TEST(test_interrupted_rotation) {
  char *dir = tu_tmpdir("nvault");
  char path[512], err[256] = "";
  cx_seckey *k = key_of(5);
  node_vault *nv = NULL;
  uint32_t id = 0, stored = 0;
  int file_ok = 0;
  keyid_path(dir, path, sizeof path);
  ck_assert_msg(node_vault_open(dir, k, &nv, err, sizeof err) == CX_OK, "%s", err);
  schema(node_vault_lock(nv));
  node_vault_unlock(nv);
  put_rec(nv, 9);
  ck_assert_int_eq(node_vault_rotate(nv, k, &id, &file_ok), CX_OK);
  ck_assert_int_eq(node_vault_rotate(nv, k, &id, &file_ok), CX_OK);
  ck_assert_uint_eq(id, 3);
  node_vault_close(nv);

  put_text(path, "2\n"); /* one behind: recovered, and the file fixed */
  ck_assert_msg(node_vault_open(dir, k, &nv, err, sizeof err) == CX_OK, "%s", err);
  ck_assert_uint_eq(key_id(nv), 3);
  expect_rec(nv, 9);
  node_vault_close(nv);
  ck_assert_int_eq(node_vault_keyid_read(path, &stored), CX_OK);
  ck_assert_uint_eq(stored, 3);

  put_text(path, "1\n"); /* two behind: not a crash inside one rotation */
  ck_assert_int_eq(node_vault_open(dir, k, &nv, err, sizeof err), CX_E_PASSPHRASE);
  ck_assert_ptr_null(nv);
  ck_assert(strstr(err, "does not open with key id 1 (or 2)") != NULL);
  put_text(path, "4\n"); /* ahead */
  ck_assert_int_eq(node_vault_open(dir, k, &nv, err, sizeof err), CX_E_PASSPHRASE);
  ck_assert_int_eq(node_vault_keyid_read(path, &stored), CX_OK);
  ck_assert_uint_eq(stored, 4); /* a refused open leaves the file alone */

  put_text(path, "three\n");
  ck_assert_int_eq(node_vault_open(dir, k, &nv, err, sizeof err), CX_E_CORRUPT);
  ck_assert(strstr(err, "vault.keyid: expected a key id") != NULL);

  /* The file lost altogether while the vault is at id 2 is the same window:
   * absent means 1, and 1 + 1 opens. */
  char *dir2 = tu_tmpdir("nvault");
  ck_assert_msg(node_vault_open(dir2, k, &nv, err, sizeof err) == CX_OK, "%s", err);
  ck_assert_int_eq(node_vault_rotate(nv, k, &id, &file_ok), CX_OK);
  node_vault_close(nv);
  keyid_path(dir2, path, sizeof path);
  ck_assert_int_eq(remove(path), 0);
  ck_assert_msg(node_vault_open(dir2, k, &nv, err, sizeof err) == CX_OK, "%s", err);
  ck_assert_uint_eq(key_id(nv), 2);
  node_vault_close(nv);
  key_free(k);
  tu_rmrf(dir);
  tu_rmrf(dir2);
  free(dir);
  free(dir2);
}
END_TEST

/* A keystore with another secret (a member rekeyed) does not open it. */
START_TEST(test_other_member_key) {
  char *dir = tu_tmpdir("nvault");
  char err[256] = "";
  cx_seckey *k = key_of(1), *other = key_of(2);
  node_vault *nv = NULL;
  ck_assert_msg(node_vault_open(dir, k, &nv, err, sizeof err) == CX_OK, "%s", err);
  node_vault_close(nv);
  nv = NULL;
  ck_assert_int_eq(node_vault_open(dir, other, &nv, err, sizeof err), CX_E_PASSPHRASE);
  ck_assert_ptr_null(nv);
  ck_assert(strstr(err, "another member key, or a damaged vault") != NULL);
  ck_assert_msg(node_vault_open(dir, k, &nv, err, sizeof err) == CX_OK, "%s", err);
  node_vault_close(nv);
  key_free(k);
  key_free(other);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("node_vault");
  TCase *tc = tcase_create("node_vault");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_key_derivation);
  tcase_add_test(tc, test_keyid_file);
  tcase_add_test(tc, test_open_rotate_reopen);
  tcase_add_test(tc, test_interrupted_rotation);
  tcase_add_test(tc, test_other_member_key);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
