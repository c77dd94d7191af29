/* keystore: encrypted key files (node/keystore.h). All saves use the FAST
 * KDF except one MODERATE round trip, which checks the stored parameters. */
#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileutil.h"
#include "keystore.h"
#include "testutil.h"

static char *g_dir;

static void setup(void) { g_dir = tu_tmpdir("custos-ks"); }
static void teardown(void) {
  tu_rmrf(g_dir);
  free(g_dir);
  g_dir = NULL;
}

static void path_in(char *out, size_t cap, const char *leaf) {
  snprintf(out, cap, "%s/%s", g_dir, leaf);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(fputs(text, f) >= 0, 1);
  ck_assert_int_eq(fclose(f), 0);
}

static char *read_text(const char *path) {
  char *t = NULL;
  ck_assert_int_eq(file_read_all(path, 1 << 20, &t, NULL), CX_OK);
  return t;
}

/* Saves fresh keys to DIR/leaf with the FAST KDF; returns them in k. */
static void save_fresh(const char *leaf, const char *pass, keystore_keys *k, char *path,
                       size_t cap) {
  path_in(path, cap, leaf);
  ck_assert_int_eq(keystore_generate(k), CX_OK);
  ck_assert_int_eq(keystore_save(path, k, pass, KS_KDF_FAST), CX_OK);
}

/* Rewrites one string field of a keystore file. */
static void set_field(const char *path, const char *field, const char *value) {
  char *t = read_text(path);
  cJSON *j = cJSON_Parse(t);
  free(t);
  ck_assert_ptr_nonnull(j);
  cJSON_ReplaceItemInObjectCaseSensitive(j, field, cJSON_CreateString(value));
  char *out = cJSON_Print(j);
  write_text(path, out);
  free(out);
  cJSON_Delete(j);
}

static void set_number(const char *path, const char *field, double value) {
  char *t = read_text(path);
  cJSON *j = cJSON_Parse(t);
  free(t);
  ck_assert_ptr_nonnull(j);
  cJSON_ReplaceItemInObjectCaseSensitive(j, field, cJSON_CreateNumber(value));
  char *out = cJSON_Print(j);
  write_text(path, out);
  free(out);
  cJSON_Delete(j);
}

static const char *get_field(const char *path, const char *field, char *buf, size_t cap) {
  char *t = read_text(path);
  cJSON *j = cJSON_Parse(t);
  free(t);
  ck_assert_ptr_nonnull(j);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, field);
  ck_assert(cJSON_IsString(v));
  snprintf(buf, cap, "%s", v->valuestring);
  cJSON_Delete(j);
  return buf;
}

/* Flips the lowest bit of the hex digit at position i of a field. */
static void flip_hex(const char *path, const char *field, size_t i) {
  char buf[512];
  get_field(path, field, buf, sizeof buf);
  ck_assert_uint_lt(i, strlen(buf));
  static const char digits[] = "0123456789abcdef";
  const char *p = strchr(digits, buf[i]);
  ck_assert_ptr_nonnull(p);
  buf[i] = digits[(p - digits) ^ 1];
  set_field(path, field, buf);
}

static void assert_same_keys(const keystore_keys *a, const keystore_keys *b) {
  uint8_t sa[32], sb[32];
  ck_assert_mem_eq(a->pub.b, b->pub.b, 32);
  ck_assert_mem_eq(a->enc_public, b->enc_public, 32);
  ck_assert_mem_eq(a->enc_secret, b->enc_secret, 32);
  key_secret_bytes(a->sign, sa);
  key_secret_bytes(b->sign, sb);
  ck_assert_mem_eq(sa, sb, 32);
  sodium_memzero(sa, sizeof sa);
  sodium_memzero(sb, sizeof sb);
}

START_TEST(round_trip) {
  char path[512], err[256];
  keystore_keys k, back;
  save_fresh("k.json", "correct horse", &k, path, sizeof path);
  ck_assert_int_eq(keystore_load(path, "correct horse", &back, err, sizeof err), CX_OK);
  assert_same_keys(&k, &back);
  /* the loaded key signs, and its signature verifies under the public key */
  uint8_t msg[32] = {1, 2, 3};
  cx_sig sig;
  ck_assert_int_eq(key_sign32(back.sign, msg, NULL, &sig), CX_OK);
  ck_assert_int_eq(sig_verify(&k.pub, msg, 32, &sig), 1);
  /* X25519 pair is consistent */
  uint8_t pub[32];
  ck_assert_int_eq(crypto_scalarmult_base(pub, back.enc_secret), 0);
  ck_assert_mem_eq(pub, back.enc_public, 32);
  keystore_keys_free(&k);
  keystore_keys_free(&back);
  keystore_keys_free(&back); /* twice is harmless: the struct is zeroed */
}
END_TEST

START_TEST(file_format) {
  char path[512], buf[512];
  keystore_keys k;
  save_fresh("k.json", "pw", &k, path, sizeof path);
  char *t = read_text(path);
  cJSON *j = cJSON_Parse(t);
  free(t);
  ck_assert_ptr_nonnull(j);
  ck_assert_int_eq(cJSON_GetObjectItem(j, "version")->valueint, 1);
  ck_assert_str_eq(cJSON_GetObjectItem(j, "kdf")->valuestring, "argon2id13");
  ck_assert_int_eq((long long)cJSON_GetObjectItem(j, "opslimit")->valuedouble,
                   (long long)crypto_pwhash_OPSLIMIT_MIN);
  ck_assert_int_eq((long long)cJSON_GetObjectItem(j, "memlimit")->valuedouble,
                   (long long)crypto_pwhash_MEMLIMIT_MIN);
  ck_assert_uint_eq(strlen(cJSON_GetObjectItem(j, "salt")->valuestring), 32);
  ck_assert_uint_eq(strlen(cJSON_GetObjectItem(j, "nonce")->valuestring), 48);
  ck_assert_uint_eq(strlen(cJSON_GetObjectItem(j, "ciphertext")->valuestring), 160);
  cJSON_Delete(j);
  char hex[65];
  hex_encode(k.pub.b, 32, hex);
  ck_assert_str_eq(get_field(path, "key", buf, sizeof buf), hex);
  hex_encode(k.enc_public, 32, hex);
  ck_assert_str_eq(get_field(path, "enc_key", buf, sizeof buf), hex);
  keystore_keys_free(&k);
}
END_TEST

START_TEST(mode_0600) {
  char path[512];
  keystore_keys k;
  mode_t old = umask(0); /* even a permissive umask must not widen it */
  save_fresh("k.json", "pw", &k, path, sizeof path);
  umask(old);
  struct stat st;
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_eq(st.st_mode & 0777, 0600);
  keystore_keys_free(&k);
}
END_TEST

START_TEST(moderate_kdf) {
  char path[512], err[256];
  keystore_keys k, back;
  path_in(path, sizeof path, "m.json");
  ck_assert_int_eq(keystore_generate(&k), CX_OK);
  ck_assert_int_eq(keystore_save(path, &k, "pw", KS_KDF_MODERATE), CX_OK);
  char *t = read_text(path);
  cJSON *j = cJSON_Parse(t);
  free(t);
  ck_assert_int_eq((long long)cJSON_GetObjectItem(j, "opslimit")->valuedouble,
                   (long long)crypto_pwhash_OPSLIMIT_MODERATE);
  ck_assert_int_eq((long long)cJSON_GetObjectItem(j, "memlimit")->valuedouble,
                   (long long)crypto_pwhash_MEMLIMIT_MODERATE);
  cJSON_Delete(j);
  ck_assert_int_eq(keystore_load(path, "pw", &back, err, sizeof err), CX_OK);
  assert_same_keys(&k, &back);
  keystore_keys_free(&k);
  keystore_keys_free(&back);
}
END_TEST

START_TEST(wrong_passphrase) {
  char path[512], err[256];
  keystore_keys k, back;
  save_fresh("k.json", "right", &k, path, sizeof path);
  ck_assert_int_eq(keystore_load(path, "wrong", &back, err, sizeof err), CX_E_PASSPHRASE);
  ck_assert_ptr_null(back.sign);
  ck_assert_ptr_null(back.enc_secret);
  ck_assert_int_eq(keystore_load(path, "", &back, err, sizeof err), CX_E_PASSPHRASE);
  ck_assert_int_eq(keystore_load(path, "right ", &back, err, sizeof err), CX_E_PASSPHRASE);
  keystore_keys_free(&k);
}
END_TEST

START_TEST(empty_passphrase_refused_on_save) {
  char path[512];
  keystore_keys k;
  path_in(path, sizeof path, "e.json");
  ck_assert_int_eq(keystore_generate(&k), CX_OK);
  ck_assert_int_eq(keystore_save(path, &k, "", KS_KDF_FAST), CX_E_INVALID_ARG);
  struct stat st;
  ck_assert_int_ne(stat(path, &st), 0);
  keystore_keys_free(&k);
}
END_TEST

/* Each authenticated field edited (still well-formed) must fail to open. */
static const char *const tamper_fields[] = {"ciphertext", "key", "enc_key", "salt", "nonce"};

START_TEST(tampered_field) {
  char path[512], err[256];
  keystore_keys k, back;
  save_fresh("k.json", "pw", &k, path, sizeof path);
  const char *field = tamper_fields[_i];
  if (strcmp(field, "key") == 0) {
    /* another valid public key: a forged owner, not a malformed file */
    keystore_keys other;
    char hex[65];
    ck_assert_int_eq(keystore_generate(&other), CX_OK);
    hex_encode(other.pub.b, 32, hex);
    set_field(path, "key", hex);
    keystore_keys_free(&other);
  } else {
    flip_hex(path, field, (size_t)(tu_rand() % 32));
  }
  ck_assert_int_eq(keystore_load(path, "pw", &back, err, sizeof err), CX_E_PASSPHRASE);
  ck_assert_ptr_null(back.sign);
  keystore_keys_free(&k);
}
END_TEST

START_TEST(tampered_kdf_cost) {
  char path[512], err[256];
  keystore_keys k, back;
  save_fresh("k.json", "pw", &k, path, sizeof path);
  set_number(path, "opslimit", (double)crypto_pwhash_OPSLIMIT_MIN + 1);
  ck_assert_int_eq(keystore_load(path, "pw", &back, err, sizeof err), CX_E_PASSPHRASE);
  keystore_keys_free(&k);
}
END_TEST

/* Malformed files: CX_E_CONFIG with a message naming the problem. */
typedef struct {
  const char *field; /* NULL: replace the whole file with text */
  const char *value;
  int number;        /* value is a number (as text) */
  const char *expect; /* substring of the message */
} malformed_case;

static const malformed_case malformed[] = {
    {NULL, "not json", 0, "malformed JSON"},
    {NULL, "[1,2]", 0, "object"},
    {"version", "2", 1, "version"},
    {"kdf", "scrypt", 0, "kdf"},
    {"salt", "zz", 0, "salt"},
    {"salt", "00112233", 0, "salt"},
    {"nonce", "0011", 0, "nonce"},
    {"ciphertext", "abcd", 0, "ciphertext"},
    {"ciphertext", "", 0, "ciphertext"},
    {"key", "G0", 0, "key"},
    {"enc_key", "1234", 0, "enc_key"},
    {"opslimit", "0", 1, "opslimit"},
    {"memlimit", "1e12", 1, "memlimit"},
    {"extra", "x", 0, "unknown field"},
};

START_TEST(malformed_file) {
  char path[512], err[256] = "";
  keystore_keys k, back;
  const malformed_case *mc = &malformed[_i];
  save_fresh("k.json", "pw", &k, path, sizeof path);
  if (!mc->field) {
    write_text(path, mc->value);
  } else if (mc->number) {
    set_number(path, mc->field, strtod(mc->value, NULL));
  } else {
    char *t = read_text(path);
    cJSON *j = cJSON_Parse(t);
    free(t);
    if (cJSON_GetObjectItem(j, mc->field))
      cJSON_ReplaceItemInObjectCaseSensitive(j, mc->field, cJSON_CreateString(mc->value));
    else
      cJSON_AddStringToObject(j, mc->field, mc->value);
    char *out = cJSON_Print(j);
    write_text(path, out);
    free(out);
    cJSON_Delete(j);
  }
  ck_assert_int_eq(keystore_load(path, "pw", &back, err, sizeof err), CX_E_CONFIG);
  ck_assert_msg(strstr(err, mc->expect) != NULL, "case %d: \"%s\" lacks \"%s\"", _i, err,
                mc->expect);
  ck_assert_ptr_null(back.sign);
  err[0] = 0;
  cx_pubkey pk;
  uint8_t ek[32];
  ck_assert_int_eq(keystore_public(path, &pk, ek, err, sizeof err), CX_E_CONFIG);
  ck_assert(strstr(err, mc->expect) != NULL);
  keystore_keys_free(&k);
}
END_TEST

START_TEST(missing_field) {
  static const char *const fields[] = {"version", "kdf", "opslimit", "memlimit", "salt",
                                       "nonce",   "ciphertext", "key", "enc_key"};
  char path[512], err[256];
  keystore_keys k, back;
  save_fresh("k.json", "pw", &k, path, sizeof path);
  char *orig = read_text(path);
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    cJSON *j = cJSON_Parse(orig);
    cJSON_DeleteItemFromObjectCaseSensitive(j, fields[i]);
    char *out = cJSON_Print(j);
    write_text(path, out);
    free(out);
    cJSON_Delete(j);
    ck_assert_int_eq(keystore_load(path, "pw", &back, err, sizeof err), CX_E_CONFIG);
    ck_assert_msg(strstr(err, fields[i]) != NULL, "%s: %s", fields[i], err);
  }
  free(orig);
  keystore_keys_free(&k);
}
END_TEST

START_TEST(missing_file) {
  char path[512], err[256];
  keystore_keys back;
  path_in(path, sizeof path, "absent.json");
  ck_assert_int_eq(keystore_load(path, "pw", &back, err, sizeof err), CX_E_NOT_FOUND);
  ck_assert(strstr(err, "absent.json") != NULL);
}
END_TEST

START_TEST(public_only) {
  char path[512], err[256];
  keystore_keys k;
  cx_pubkey pk;
  uint8_t ek[32];
  save_fresh("k.json", "pw", &k, path, sizeof path);
  ck_assert_int_eq(keystore_public(path, &pk, ek, err, sizeof err), CX_OK);
  ck_assert_mem_eq(pk.b, k.pub.b, 32);
  ck_assert_mem_eq(ek, k.enc_public, 32);
  ck_assert_int_eq(keystore_public(path, NULL, NULL, err, sizeof err), CX_OK);
  keystore_keys_free(&k);
}
END_TEST

START_TEST(passphrase_file) {
  char path[512], err[256];
  char *p = NULL;
  path_in(path, sizeof path, "pass");
  write_text(path, "s3cret phrase\nsecond line ignored\n");
  ck_assert_int_eq(keystore_passphrase(path, &p, err, sizeof err), CX_OK);
  ck_assert_str_eq(p, "s3cret phrase");
  keystore_passphrase_free(p);

  write_text(path, "crlf\r\n");
  ck_assert_int_eq(keystore_passphrase(path, &p, err, sizeof err), CX_OK);
  ck_assert_str_eq(p, "crlf");
  keystore_passphrase_free(p);

  write_text(path, "no newline");
  ck_assert_int_eq(keystore_passphrase(path, &p, err, sizeof err), CX_OK);
  ck_assert_str_eq(p, "no newline");
  keystore_passphrase_free(p);

  write_text(path, "\nafter an empty first line");
  ck_assert_int_eq(keystore_passphrase(path, &p, err, sizeof err), CX_E_CONFIG);
  ck_assert_ptr_null(p);
  ck_assert(strstr(err, "empty") != NULL);

  path_in(path, sizeof path, "absent");
  ck_assert_int_eq(keystore_passphrase(path, &p, err, sizeof err), CX_E_NOT_FOUND);
  ck_assert_ptr_null(p);
  keystore_passphrase_free(NULL);
}
END_TEST

START_TEST(passphrase_env) {
  char err[256];
  char *p = NULL;
  setenv("CUSTOS_PASSPHRASE", "from env", 1);
  ck_assert_int_eq(keystore_passphrase(NULL, &p, err, sizeof err), CX_OK);
  ck_assert_str_eq(p, "from env");
  keystore_passphrase_free(p);
  ck_assert_int_eq(keystore_passphrase("", &p, err, sizeof err), CX_OK); /* "" = env too */
  ck_assert_str_eq(p, "from env");
  keystore_passphrase_free(p);

  setenv("CUSTOS_PASSPHRASE", "", 1);
  ck_assert_int_eq(keystore_passphrase(NULL, &p, err, sizeof err), CX_E_CONFIG);
  unsetenv("CUSTOS_PASSPHRASE");
  ck_assert_int_eq(keystore_passphrase(NULL, &p, err, sizeof err), CX_E_CONFIG);
  ck_assert(strstr(err, "CUSTOS_PASSPHRASE") != NULL);
  ck_assert_ptr_null(p);
}
END_TEST

/* The file passphrase wins over the environment. */
START_TEST(passphrase_file_over_env) {
  char path[512], err[256];
  char *p = NULL;
  setenv("CUSTOS_PASSPHRASE", "env", 1);
  path_in(path, sizeof path, "pass");
  write_text(path, "file\n");
  ck_assert_int_eq(keystore_passphrase(path, &p, err, sizeof err), CX_OK);
  ck_assert_str_eq(p, "file");
  keystore_passphrase_free(p);
  unsetenv("CUSTOS_PASSPHRASE");
}
END_TEST

START_TEST(overwrite_atomic) {
  /* keystore_save replaces a file atomically; the CLI refuses to, the
   * library does not decide policy. Both keys must not be mixed. */
  char path[512], err[256];
  keystore_keys a, b, back;
  save_fresh("k.json", "pw", &a, path, sizeof path);
  ck_assert_int_eq(keystore_generate(&b), CX_OK);
  ck_assert_int_eq(keystore_save(path, &b, "pw2", KS_KDF_FAST), CX_OK);
  ck_assert_int_eq(keystore_load(path, "pw2", &back, err, sizeof err), CX_OK);
  assert_same_keys(&b, &back);
  keystore_keys_free(&a);
  keystore_keys_free(&b);
  keystore_keys_free(&back);
}
END_TEST

static Suite *keystore_suite(void) {
  Suite *s = suite_create("keystore");
  TCase *tc = tcase_create("keystore");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, round_trip);
  tcase_add_test(tc, file_format);
  tcase_add_test(tc, mode_0600);
  tcase_add_test(tc, moderate_kdf);
  tcase_add_test(tc, wrong_passphrase);
  tcase_add_test(tc, empty_passphrase_refused_on_save);
  tcase_add_loop_test(tc, tampered_field, 0, sizeof tamper_fields / sizeof tamper_fields[0]);
  tcase_add_test(tc, tampered_kdf_cost);
  tcase_add_loop_test(tc, malformed_file, 0, sizeof malformed / sizeof malformed[0]);
  tcase_add_test(tc, missing_field);
  tcase_add_test(tc, missing_file);
  tcase_add_test(tc, public_only);
  tcase_add_test(tc, passphrase_file);
  tcase_add_test(tc, passphrase_env);
  tcase_add_test(tc, passphrase_file_over_env);
  tcase_add_test(tc, overwrite_atomic);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(keystore_suite());
}
