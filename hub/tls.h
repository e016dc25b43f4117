// SPDX-License-Identifier: MIT
/* tls.h - ADCS for the hub: the TLS context (OpenSSL), a self-signed
 * certificate made on first start when none is configured, and the
 * keyprint clients pin (adcs://host:port/?kp=SHA256/<base32>). */
#ifndef HUB_TLS_H
#define HUB_TLS_H

#include <stddef.h>

/*
 * tls_ctx_new - a server SSL_CTX (TLS 1.2 or newer) with the certificate
 * and key in the given PEM files; when neither exists both are created
 * (P-256 key, mode 0600; self-signed, ten years, CN = cn).  Returns the
 * SSL_CTX (as void *, so callers need not include OpenSSL), or NULL with
 * a sentence in err.  *kp receives "SHA256/<base32 of the DER cert>".
 */
void *tls_ctx_new(const char *cert_path, const char *key_path, const char *cn,
                  char *kp, size_t kpcap, char *err, size_t errcap);
void tls_ctx_free(void *ctx);

#endif
