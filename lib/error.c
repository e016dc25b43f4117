// SPDX-License-Identifier: MIT
/* error.c - ipk_strerror() for errno values and our own codes, and the
 * per-thread detail sentence behind ipk_errdetail(). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ipckit.h"

#include "transport.h"

#define DETAIL_MAX 512

static _Thread_local char error_detail[DETAIL_MAX];

int
errdetail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error_detail, sizeof(error_detail), fmt, ap);
	va_end(ap);
	return err;
}

void
errdetail_clear(void)
{
	error_detail[0] = '\0';
}

const char *
ipk_errdetail(void)
{
	return error_detail;
}

const char *
ipk_strerror(int err)
{
	switch (err) {
	case 0:
		return "Success";
	case IPK_EADDR:
		return "Malformed address";
	case IPK_ESCHEME:
		return "Unknown address scheme";
	case IPK_EOPTION:
		return "Bad address option";
	case IPK_ECORRUPT:
		return "Malformed frame from peer";
	case IPK_EKIND:
		return "Operation does not fit this kind of channel";
	case IPK_ELIMIT:
		return "Size refused by a system limit";
	case -EAGAIN:
		return "Not ready (would wait)";
	case -ETIMEDOUT:
		return "Timed out";
	case -EMSGSIZE:
		return "Message too long";
	case -EPIPE:
		return "Peer is gone";
	default:
		break;
	}
	if (err < 0 && err > -IPK_ERR_BASE)
		return strerrordesc_np(-err) ? strerrordesc_np(-err)
		                             : "Unknown error";
	return "Unknown error";
}
