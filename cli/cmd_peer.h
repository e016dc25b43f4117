// SPDX-License-Identifier: MIT
/* cmd_peer.h - the keys of `ipckit peer`'s options, shared by its table
 * (cmd_peer.c, in both ipckit and ipckit-peer) and its parser
 * (peer_main.c, in ipckit-peer only). */
#ifndef CLI_CMD_PEER_H
#define CLI_CMD_PEER_H

enum peer_opt_key {
	OPT_PASSWORD_FILE = 256,
	OPT_PASSWORD_ENV,
	OPT_BATCH,
	OPT_STATE_DIR,
	OPT_DOWNLOADS,
	OPT_SLOTS,
	OPT_READY_FD,
	OPT_TIMEOUT,
};

#endif
