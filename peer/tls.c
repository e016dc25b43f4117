// SPDX-License-Identifier: MIT
/* tls.c - OpenSSL glue for the hub link.  Certificates are not checked
 * against a CA (DC hubs use self-signed ones); the keyprint is what
 * identifies a hub, as ADC's KEYP extension says. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base32.h"
#include "tls.h"

static SSL_CTX *tls_ctx; /* one client context for the process */
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void
tls_init_ctx(void)
{
	tls_ctx = SSL_CTX_new(TLS_client_method());
	if (tls_ctx == NULL)
		return;
	SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(tls_ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                                  SSL_MODE_ENABLE_PARTIAL_WRITE);
}

int
tls_start(struct link *l, const char *host, const char **why)
{
	SSL *ssl;

	pthread_once(&tls_once, tls_init_ctx);
	if (tls_ctx == NULL) {
		*why = "cannot set up TLS (OpenSSL)";
		return -ENOMEM;
	}
	ssl = SSL_new(tls_ctx);
	if (ssl == NULL || SSL_set_fd(ssl, l->fd) != 1) {
		SSL_free(ssl);
		*why = "cannot set up TLS (OpenSSL)";
		return -ENOMEM;
	}
	/* SSL_set_tlsext_host_name() is a macro that casts away const. */
	SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
	         (void *)(uintptr_t)host);
	SSL_set_connect_state(ssl);
	l->ssl = ssl;
	return 0;
}

int
tls_handshake(struct link *l, const char **why)
{
	int rc = SSL_do_handshake(l->ssl);

	l->tls_want_write = false;
	if (rc == 1)
		return 0;
	switch (SSL_get_error(l->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		l->tls_want_write = true;
		return -EAGAIN;
	default:
		*why = "TLS handshake failed (is it an adcs:// hub?)";
		ERR_clear_error();
		return -EPROTO;
	}
}

int
tls_keyprint(const struct link *l, char out[TLS_KEYPRINT_LEN])
{
	X509 *cert = SSL_get1_peer_certificate(l->ssl);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int ok;

	if (cert == NULL)
		return -ENOENT;
	ok = X509_digest(cert, EVP_sha256(), md, &n);
	X509_free(cert);
	if (!ok)
		return -ENOENT;
	memcpy(out, "SHA256/", 7);
	base32_encode(md, n, out + 7, TLS_KEYPRINT_LEN - 7);
	return 0;
}

const char *
tls_version(const struct link *l)
{
	return SSL_get_version(l->ssl);
}
