// SPDX-License-Identifier: MIT
/* queue_hooks.h - switches the queue transports expose to their tests
 * (internal: only the static test library reaches them). */
#ifndef IPK_QUEUE_HOOKS_H
#define IPK_QUEUE_HOOKS_H

#include <stdbool.h>

/* sysvmq_hook_msg_copy - whether ipk_peek_size() may use msgrcv(MSG_COPY);
 * false makes it use the fallback a kernel without MSG_COPY gets. */
void sysvmq_hook_msg_copy(bool usable);

/* fileq_hook_mid_send - call fn in the middle of every send's copy, with
 * the queue locked and half the payload written (a test kills the process
 * there).  NULL turns it off. */
void fileq_hook_mid_send(void (*fn)(void));

#endif
