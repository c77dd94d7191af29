/* keystore: see keystore.h for the file format.
 *
 * Everything secret (the argon2id-derived key, the decrypted plaintext, the
 * X25519 secret, passphrases read from files) lives in sodium_malloc'd
 * buffers, which are guarded, mlock'ed where possible, and wiped by
 * sodium_free. The JSON text holds only public data and ciphertext. */
#include "keystore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fileutil.h"
#include "hash.h"

#define KS_VERSION 1
#define KS_KDF_NAME "argon2id13"
#define KS_AD_PREFIX "custos-keystore-v1"
#define KS_AD_PREFIX_LEN (sizeof KS_AD_PREFIX - 1)
#define KS_PLAIN_LEN 64 /* secp256k1 secret || X25519 secret */
#define KS_CT_LEN (KS_PLAIN_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define KS_SALT_LEN crypto_pwhash_SALTBYTES
#define KS_NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define KS_KEY_LEN crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define KS_FILE_CAP (64 * 1024)       /* a keystore is < 1 KiB; refuse junk */
#define KS_PASS_CAP 4096              /* longest passphrase file we read */

/* Upper bounds on the KDF cost a file may ask for: a crafted keystore must not
 * make us allocate gigabytes or spin for minutes. SENSITIVE is libsodium's
 * strongest preset (1 GiB, 4 passes); we allow a little headroom above it. */
#define KS_OPSLIMIT_MAX ((unsigned long long)crypto_pwhash_OPSLIMIT_SENSITIVE * 4)
#define KS_MEMLIMIT_MAX ((size_t)crypto_pwhash_MEMLIMIT_SENSITIVE)

/* Parsed keystore file: public parts only. */
typedef struct {
  unsigned long long opslimit;
  size_t memlimit;
  uint8_t salt[KS_SALT_LEN];
  uint8_t nonce[KS_NONCE_LEN];
  uint8_t ct[KS_CT_LEN];
  cx_pubkey key;
  uint8_t enc_key[32];
} ks_file;

static int ks_sodium_ready(void) { return sodium_init() >= 0; }

/* ---- keys ---- */

void keystore_keys_free(keystore_keys *k) {
  if (!k) return;
  key_free(k->sign);
  if (k->enc_secret) sodium_free(k->enc_secret);
  sodium_memzero(k, sizeof *k);
}

cx_err keystore_generate(keystore_keys *out) {
  memset(out, 0, sizeof *out);
  if (!ks_sodium_ready()) return CX_E_CRYPTO;
  out->sign = key_generate();
  out->enc_secret = sodium_malloc(32);
  if (!out->sign || !out->enc_secret) {
    keystore_keys_free(out);
    return CX_E_NOMEM;
  }
  key_public(out->sign, &out->pub);
  /* X25519: crypto_box keys are exactly X25519 keys (the secret is clamped
   * by scalarmult). Written straight into the guarded buffer. */
  if (crypto_box_keypair(out->enc_public, out->enc_secret) != 0) {
    keystore_keys_free(out);
    return CX_E_CRYPTO;
  }
  return CX_OK;
}

/* ---- file parsing ---- */

static cx_err get_hex(const cJSON *j, const char *field, uint8_t *out, size_t n, char *err,
                      size_t errlen) {
  const char *s = NULL;
  cx_err e = json_get_str(j, field, 1, &s, "keystore", err, errlen);
  if (e) return e;
  if (hex_decode(s, out, n) != CX_OK) {
    return cx_errf(err, errlen, CX_E_CONFIG, "keystore.%s: expected %zu hex digits", field, 2 * n);
  }
  return CX_OK;
}

/* Parses and checks every field. Does not need the passphrase. */
static cx_err ks_parse(const char *text, ks_file *f, char *err, size_t errlen) {
  static const char *const keys[] = {"version", "kdf",   "opslimit",   "memlimit", "salt",
                                     "nonce",   "ciphertext", "key", "enc_key",  NULL};
  cx_err e;
  uint64_t version = 0, ops = 0, mem = 0;
  const char *kdf = NULL;
  memset(f, 0, sizeof *f);
  cJSON *j = cJSON_Parse(text);
  if (!j) {
    return cx_errf(err, errlen, CX_E_CONFIG, "keystore: malformed JSON");
  }
  if (!cJSON_IsObject(j)) {
    e = cx_errf(err, errlen, CX_E_CONFIG, "keystore: expected a JSON object");
    goto out;
  }
  /* The version first: a newer file should say so, not "unknown field". */
  if ((e = json_get_u64(j, "version", 1, &version, "keystore", err, errlen))) goto out;
  if (version != KS_VERSION) {
    e = cx_errf(err, errlen, CX_E_CONFIG, "keystore.version: unsupported version %llu (this build reads %d)",
           (unsigned long long)version, KS_VERSION);
    goto out;
  }
  if ((e = json_check_keys(j, keys, "keystore", err, errlen)) ||
      (e = json_get_str(j, "kdf", 1, &kdf, "keystore", err, errlen)))
    goto out;
  if (strcmp(kdf, KS_KDF_NAME) != 0) {
    e = cx_errf(err, errlen, CX_E_CONFIG, "keystore.kdf: unsupported KDF \"%s\" (expected %s)", kdf, KS_KDF_NAME);
    goto out;
  }
  if ((e = json_get_u64(j, "opslimit", 1, &ops, "keystore", err, errlen)) ||
      (e = json_get_u64(j, "memlimit", 1, &mem, "keystore", err, errlen)))
    goto out;
  if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > KS_OPSLIMIT_MAX) {
    e = cx_errf(err, errlen, CX_E_CONFIG, "keystore.opslimit: out of the accepted range");
    goto out;
  }
  if (mem < crypto_pwhash_MEMLIMIT_MIN || mem > KS_MEMLIMIT_MAX) {
    e = cx_errf(err, errlen, CX_E_CONFIG, "keystore.memlimit: out of the accepted range");
    goto out;
  }
  f->opslimit = ops;
  f->memlimit = (size_t)mem;
  if ((e = get_hex(j, "salt", f->salt, sizeof f->salt, err, errlen)) ||
      (e = get_hex(j, "nonce", f->nonce, sizeof f->nonce, err, errlen)) ||
      (e = get_hex(j, "ciphertext", f->ct, sizeof f->ct, err, errlen)) ||
      (e = get_hex(j, "key", f->key.b, 32, err, errlen)) ||
      (e = get_hex(j, "enc_key", f->enc_key, 32, err, errlen)))
    goto out;
  if (!pubkey_valid(&f->key)) {
    e = cx_errf(err, errlen, CX_E_CONFIG, "keystore.key: not a valid secp256k1 x-only public key");
    goto out;
  }
out:
  cJSON_Delete(j);
  return e;
}

static cx_err ks_read(const char *path, ks_file *f, char *err, size_t errlen) {
  char *text = NULL;
  cx_err e = file_read_all(path, KS_FILE_CAP, &text, NULL);
  if (e) {
    cx_errf(err, errlen, e, "%s: cannot read (%s)", path, cx_err_str(e));
    return e == CX_E_TOO_LONG ? CX_E_CONFIG : e;
  }
  e = ks_parse(text, f, err, errlen);
  free(text);
  if (e && err && errlen) {
    /* Prefix the path so a user with several key files knows which one. */
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", err);
    snprintf(err, errlen, "%s: %s", path, tmp);
  }
  return e;
}

/* ad = "custos-keystore-v1" || key || enc_key */
static void ks_ad(const cx_pubkey *key, const uint8_t enc_key[32],
                  uint8_t ad[KS_AD_PREFIX_LEN + 64]) {
  memcpy(ad, KS_AD_PREFIX, KS_AD_PREFIX_LEN);
  memcpy(ad + KS_AD_PREFIX_LEN, key->b, 32);
  memcpy(ad + KS_AD_PREFIX_LEN + 32, enc_key, 32);
}

static cx_err ks_derive(uint8_t *dk, const char *passphrase, const uint8_t salt[KS_SALT_LEN],
                        unsigned long long ops, size_t mem) {
  if (crypto_pwhash(dk, KS_KEY_LEN, passphrase, strlen(passphrase), salt, ops, mem,
                    crypto_pwhash_ALG_ARGON2ID13) != 0)
    return CX_E_NOMEM; /* libsodium fails here only when it cannot allocate */
  return CX_OK;
}

/* ---- save ---- */

static cJSON *ks_to_json(const ks_file *f) {
  char hex[2 * KS_CT_LEN + 1];
  cJSON *j = cJSON_CreateObject();
  if (!j) return NULL;
  int ok = cJSON_AddNumberToObject(j, "version", KS_VERSION) &&
           cJSON_AddStringToObject(j, "kdf", KS_KDF_NAME) &&
           cJSON_AddNumberToObject(j, "opslimit", (double)f->opslimit) &&
           cJSON_AddNumberToObject(j, "memlimit", (double)f->memlimit);
  hex_encode(f->salt, sizeof f->salt, hex);
  ok = ok && cJSON_AddStringToObject(j, "salt", hex);
  hex_encode(f->nonce, sizeof f->nonce, hex);
  ok = ok && cJSON_AddStringToObject(j, "nonce", hex);
  hex_encode(f->ct, sizeof f->ct, hex);
  ok = ok && cJSON_AddStringToObject(j, "ciphertext", hex);
  hex_encode(f->key.b, 32, hex);
  ok = ok && cJSON_AddStringToObject(j, "key", hex);
  hex_encode(f->enc_key, 32, hex);
  ok = ok && cJSON_AddStringToObject(j, "enc_key", hex);
  if (!ok) {
    cJSON_Delete(j);
    return NULL;
  }
  return j;
}

cx_err keystore_save(const char *path, const keystore_keys *k, const char *passphrase,
                     keystore_kdf kdf) {
  CX_ASSERT(path && k && passphrase);
  if (!k->sign || !k->enc_secret) return CX_E_INVALID_ARG;
  /* An empty passphrase would encrypt under a key anyone can derive. */
  if (!*passphrase) return CX_E_INVALID_ARG;
  if (!ks_sodium_ready()) return CX_E_CRYPTO;

  ks_file f;
  memset(&f, 0, sizeof f);
  f.opslimit = kdf == KS_KDF_FAST ? crypto_pwhash_OPSLIMIT_MIN : crypto_pwhash_OPSLIMIT_MODERATE;
  f.memlimit = kdf == KS_KDF_FAST ? crypto_pwhash_MEMLIMIT_MIN : crypto_pwhash_MEMLIMIT_MODERATE;
  randombytes_buf(f.salt, sizeof f.salt);
  randombytes_buf(f.nonce, sizeof f.nonce);
  f.key = k->pub;
  memcpy(f.enc_key, k->enc_public, 32);

  cx_err e = CX_E_NOMEM;
  char *text = NULL;
  cJSON *j = NULL;
  uint8_t ad[KS_AD_PREFIX_LEN + 64];
  uint8_t *dk = sodium_malloc(KS_KEY_LEN);
  uint8_t *plain = sodium_malloc(KS_PLAIN_LEN);
  if (!dk || !plain) goto out;
  key_secret_bytes(k->sign, plain);
  memcpy(plain + 32, k->enc_secret, 32);
  if ((e = ks_derive(dk, passphrase, f.salt, f.opslimit, f.memlimit))) goto out;
  ks_ad(&f.key, f.enc_key, ad);
  unsigned long long ctlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(f.ct, &ctlen, plain, KS_PLAIN_LEN, ad,
                                                 sizeof ad, NULL, f.nonce, dk) != 0 ||
      ctlen != KS_CT_LEN) {
    e = CX_E_CRYPTO;
    goto out;
  }
  e = CX_E_NOMEM;
  if (!(j = ks_to_json(&f)) || !(text = cJSON_Print(j))) goto out;
  size_t len = strlen(text);
  /* one trailing newline: friendlier to cat and editors */
  char *nl = realloc(text, len + 2);
  if (!nl) goto out;
  text = nl;
  text[len++] = '\n';
  text[len] = 0;
  e = file_write_atomic(path, text, len, 0600);
out:
  if (dk) sodium_free(dk);
  if (plain) sodium_free(plain);
  sodium_memzero(&f, sizeof f);
  cJSON_Delete(j);
  free(text);
  return e;
}

/* ---- load ---- */

cx_err keystore_load(const char *path, const char *passphrase, keystore_keys *out, char *err,
                     size_t errlen) {
  CX_ASSERT(path && passphrase && out);
  memset(out, 0, sizeof *out);
  if (err && errlen) err[0] = 0;
  if (!ks_sodium_ready()) return CX_E_CRYPTO;

  ks_file f;
  cx_err e = ks_read(path, &f, err, errlen);
  if (e) return e;

  uint8_t ad[KS_AD_PREFIX_LEN + 64];
  uint8_t derived_pub[32];
  cx_pubkey pub;
  uint8_t *dk = sodium_malloc(KS_KEY_LEN);
  uint8_t *plain = sodium_malloc(KS_PLAIN_LEN);
  out->enc_secret = sodium_malloc(32);
  e = CX_E_NOMEM;
  if (!dk || !plain || !out->enc_secret) goto out;
  if ((e = ks_derive(dk, passphrase, f.salt, f.opslimit, f.memlimit))) goto out;
  ks_ad(&f.key, f.enc_key, ad);
  unsigned long long plen = 0;
  /* Wrong passphrase, edited ciphertext, salt, nonce, KDF costs or public
   * keys all end here: the tag does not verify. */
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL, f.ct, sizeof f.ct, ad,
                                                 sizeof ad, f.nonce, dk) != 0 ||
      plen != KS_PLAIN_LEN) {
    e = CX_E_PASSPHRASE;
    cx_errf(err, errlen, e, "%s: wrong passphrase or damaged keystore", path);
    goto out;
  }
  /* The secrets must match the public keys the file shows (they always do
   * for a file we wrote; anything else is a damaged or forged keystore). */
  if ((e = key_from_bytes(plain, &out->sign)) != CX_OK) {
    e = e == CX_E_NOMEM ? e : CX_E_PASSPHRASE;
    goto out;
  }
  key_public(out->sign, &pub);
  memcpy(out->enc_secret, plain + 32, 32);
  if (crypto_scalarmult_base(derived_pub, out->enc_secret) != 0 ||
      sodium_memcmp(pub.b, f.key.b, 32) != 0 ||
      sodium_memcmp(derived_pub, f.enc_key, 32) != 0) {
    e = CX_E_PASSPHRASE;
    cx_errf(err, errlen, e, "%s: keystore secrets do not match its public keys", path);
    goto out;
  }
  out->pub = f.key;
  memcpy(out->enc_public, f.enc_key, 32);
  e = CX_OK;
out:
  if (dk) sodium_free(dk);
  if (plain) sodium_free(plain);
  sodium_memzero(&f, sizeof f);
  if (e) keystore_keys_free(out);
  return e;
}

cx_err keystore_public(const char *path, cx_pubkey *key, uint8_t enc_key[32], char *err,
                       size_t errlen) {
  CX_ASSERT(path);
  if (err && errlen) err[0] = 0;
  ks_file f;
  cx_err e = ks_read(path, &f, err, errlen);
  if (e) return e;
  if (key) *key = f.key;
  if (enc_key) memcpy(enc_key, f.enc_key, 32);
  return CX_OK;
}

/* ---- passphrases ---- */

/* Reads the first line of a file into a sodium_malloc'd buffer without the
 * text ever passing through ordinary heap memory. */
static cx_err pass_from_file(const char *path, char **out, char *err, size_t errlen) {
  cx_err e = CX_E_IO;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    e = errno == ENOENT ? CX_E_NOT_FOUND : CX_E_IO;
    cx_errf(err, errlen, e, "%s: cannot read (%s)", path, strerror(errno));
    return e;
  }
  char *buf = sodium_malloc(KS_PASS_CAP + 1);
  if (!buf) {
    close(fd);
    return CX_E_NOMEM;
  }
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, KS_PASS_CAP + 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      cx_errf(err, errlen, e, "%s: cannot read (%s)", path, strerror(errno));
      goto fail;
    }
    if (r == 0) break;
    n += (size_t)r;
    if (n > KS_PASS_CAP) break;
  }
  buf[n < KS_PASS_CAP ? n : KS_PASS_CAP] = 0;
  char *nl = memchr(buf, '\n', n < KS_PASS_CAP ? n : KS_PASS_CAP);
  if (!nl && n > KS_PASS_CAP) {
    e = CX_E_CONFIG;
    cx_errf(err, errlen, e, "%s: first line longer than 4096 bytes", path);
    goto fail;
  }
  if (nl) *nl = 0;
  size_t len = strlen(buf);
  if (len && buf[len - 1] == '\r') buf[--len] = 0; /* a file edited on Windows */
  if (len == 0) {
    e = CX_E_CONFIG;
    cx_errf(err, errlen, e, "%s: empty passphrase", path);
    goto fail;
  }
  close(fd);
  *out = buf;
  return CX_OK;
fail:
  close(fd);
  sodium_free(buf);
  return e;
}

cx_err keystore_passphrase(const char *path, char **out, char *err, size_t errlen) {
  CX_ASSERT(out);
  *out = NULL;
  if (err && errlen) err[0] = 0;
  if (!ks_sodium_ready()) return CX_E_CRYPTO;
  if (path && *path) return pass_from_file(path, out, err, errlen);
  const char *env = getenv("CUSTOS_PASSPHRASE");
  if (!env || !*env) {
    return cx_errf(err, errlen, CX_E_CONFIG, "no passphrase: no passphrase file given and $CUSTOS_PASSPHRASE is %s",
           env ? "empty" : "unset");
  }
  size_t len = strlen(env);
  if (len > KS_PASS_CAP) {
    return cx_errf(err, errlen, CX_E_CONFIG, "$CUSTOS_PASSPHRASE: longer than 4096 bytes");
  }
  char *buf = sodium_malloc(len + 1);
  if (!buf) return CX_E_NOMEM;
  memcpy(buf, env, len + 1);
  *out = buf;
  return CX_OK;
}

void keystore_passphrase_free(char *p) {
  if (p) sodium_free(p);
}
