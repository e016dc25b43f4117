// SPDX-License-Identifier: MIT
/* tls.c - the hub's TLS context.  A hub certificate is normally
 * self-signed: ADC clients do not check it against authorities but pin its
 * SHA-256 "keyprint" (ADC-EXT KEYP), which the hub logs at start. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base32.h"
#include "tls.h"

static void
tls_fail(char *err, size_t cap, const char *what)
{
	unsigned long e = ERR_get_error();
	char why[256] = "";

	if (e)
		ERR_error_string_n(e, why, sizeof(why));
	snprintf(err, cap, "%s%s%s", what, why[0] ? ": " : "", why);
	ERR_clear_error();
}

/* Write a PEM file through fd (created O_EXCL with mode). */
static FILE *
tls_create(const char *path, int mode, char *err, size_t cap)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	FILE *f;

	if (fd < 0) {
		snprintf(err, cap, "create %s: %s", path, strerror(errno));
		return NULL;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		snprintf(err, cap, "create %s: %s", path, strerror(errno));
		close(fd);
	}
	return f;
}

static int
tls_make_cert(const char *cert_path, const char *key_path, const char *cn,
              char *err, size_t cap)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	FILE *f = NULL;
	int ok = 0;

	if (pk == NULL || x == NULL) {
		tls_fail(err, cap, "TLS key generation failed");
		goto out;
	}
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	name = X509_get_subject_name(x);
	if (bn == NULL || !X509_set_version(x, 2) ||
	    !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400) ||
	    !X509_set_pubkey(x, pk) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	                                (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(x, name) || !X509_sign(x, pk, EVP_sha256()))
		goto fail;
	f = tls_create(key_path, 0600, err, cap);
	if (f == NULL)
		goto out;
	if (!PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) ||
	    fclose(f) != 0) {
		f = NULL;
		unlink(key_path);
		goto fail;
	}
	f = tls_create(cert_path, 0644, err, cap);
	if (f == NULL) {
		unlink(key_path);
		goto out;
	}
	if (!PEM_write_X509(f, x) || fclose(f) != 0) {
		f = NULL;
		unlink(key_path);
		unlink(cert_path);
		goto fail;
	}
	ok = 1;
	goto out;
fail:
	if (f)
		fclose(f);
	tls_fail(err, cap, "making the TLS certificate failed");
out:
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(pk);
	return ok ? 0 : -1;
}

void *
tls_ctx_new(const char *cert_path, const char *key_path, const char *cn,
            char *kp, size_t kpcap, char *err, size_t errcap)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char b32[128];
	SSL_CTX *ctx;
	X509 *x;

	if (access(cert_path, F_OK) != 0 && access(key_path, F_OK) != 0 &&
	    errno == ENOENT &&
	    tls_make_cert(cert_path, key_path, cn, err, errcap) != 0)
		return NULL;
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		tls_fail(err, errcap, "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                              SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		char what[600];

		snprintf(what, sizeof(what), "TLS certificate %s / key %s",
		         cert_path, key_path);
		tls_fail(err, errcap, what);
		SSL_CTX_free(ctx);
		return NULL;
	}
	x = SSL_CTX_get0_certificate(ctx);
	if (x == NULL || X509_digest(x, EVP_sha256(), md, &mdlen) != 1 ||
	    base32_encode(md, mdlen, b32, sizeof(b32)) < 0) {
		tls_fail(err, errcap, "TLS keyprint");
		SSL_CTX_free(ctx);
		return NULL;
	}
	snprintf(kp, kpcap, "SHA256/%s", b32);
	return ctx;
}

void
tls_ctx_free(void *ctx)
{
	SSL_CTX_free(ctx);
}
