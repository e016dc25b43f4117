// SPDX-License-Identifier: MIT
/* addr.h - "scheme:rest?opt=val&opt=val" addresses, parsed once into a
 * struct the transports read.  No I/O. */
#ifndef IPK_ADDR_H
#define IPK_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ADDR_MAX        1024 /* longest address string accepted */
#define ADDR_SCHEME_MAX 24   /* longest scheme, with its NUL */
#define ADDR_OPTS_MAX   16   /* options per address */
#define ADDR_KEY_MAX    24
#define ADDR_VAL_MAX    256

struct ipk_transport;

struct addr_opt {
	char key[ADDR_KEY_MAX];
	char val[ADDR_VAL_MAX];
	bool used; /* read by the transport; unread options are refused */
};

struct ipk_addr {
	const struct ipk_transport *tp; /* borrowed from the registry */
	char scheme[ADDR_SCHEME_MAX];
	/* Everything between "scheme:" and "?": a path, a key, a name,
	 * "host:port", "R,W".  NUL-terminated, never longer than ADDR_MAX. */
	char rest[ADDR_MAX];
	/* For host:port mechanisms, filled by addr_split_hostport(). */
	char host[256];
	uint16_t port;
	mode_t mode; /* from ?mode=, else 0600 */
	struct addr_opt opts[ADDR_OPTS_MAX];
	unsigned n_opts;
};

/*
 * addr_parse - fill *a from text.  Looks the scheme up in the registry and
 * checks the generic options (mode).  Returns 0, IPK_EADDR, IPK_ESCHEME or
 * IPK_EOPTION, with ipk_errdetail() set.
 */
int addr_parse(struct ipk_addr *a, const char *text);

/* addr_opt_str - the value of option key, or NULL if absent.  Marks it read. */
const char *addr_opt_str(struct ipk_addr *a, const char *key);

/*
 * addr_opt_u64 - read a numeric option (decimal; k/M/G suffixes for sizes
 * when suffixes is true) into *out, dflt when absent.  IPK_EOPTION with a
 * detail when malformed or outside [min, max].
 */
int addr_opt_u64(struct ipk_addr *a, const char *key, uint64_t min,
                 uint64_t max, uint64_t dflt, bool suffixes, uint64_t *out);

/* addr_opt_bool - "0", "1", "yes", "no", "true", "false"; dflt if absent. */
int addr_opt_bool(struct ipk_addr *a, const char *key, bool dflt, bool *out);

/* addr_check_unused - IPK_EOPTION naming the first option nobody read. */
int addr_check_unused(const struct ipk_addr *a);

/*
 * addr_split_hostport - parse a->rest as "host:port", "[v6]:port" or
 * ":port" (host "0.0.0.0" for listeners, "127.0.0.1" otherwise) into
 * a->host and a->port.  IPK_EADDR on a bad or missing port.
 */
int addr_split_hostport(struct ipk_addr *a, bool listening);

#endif
