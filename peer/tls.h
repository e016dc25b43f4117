// SPDX-License-Identifier: MIT
/* tls.h - TLS for the hub link (adcs://) over OpenSSL: a nonblocking
 * client handshake on a link's socket, then the link reads and writes
 * through it.  The hub's certificate is identified by its keyprint
 * (ADC-EXT KEYP: "SHA256/" + base32 of the SHA-256 of the DER
 * certificate); given one in the address, it must match. */
#ifndef PEER_TLS_H
#define PEER_TLS_H

#include <stddef.h>

#include "link.h"

#define TLS_KEYPRINT_LEN 64 /* "SHA256/" + 52 base32 characters + NUL */

/* tls_start - put a TLS client on l's socket (SNI: host).  0 or -errno;
 * *why says what failed. */
int tls_start(struct link *l, const char *host, const char **why);

/* tls_handshake - advance the handshake: 0 when done, -EAGAIN to wait
 * (l->tls_want_write says for which event), or -EPROTO (*why set). */
int tls_handshake(struct link *l, const char **why);

/* tls_keyprint - the peer certificate's keyprint.  0 or -ENOENT. */
int tls_keyprint(const struct link *l, char out[TLS_KEYPRINT_LEN]);

/* tls_version - "TLSv1.3" and the like. */
const char *tls_version(const struct link *l);

#endif
