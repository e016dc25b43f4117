// SPDX-License-Identifier: MIT
/* cmd_hub.h - the keys of `ipckit hub`'s options, shared by its table
 * (cmd_hub.c, in both ipckit and ipckit-hub) and its parser (hub_main.c,
 * in ipckit-hub only). */
#ifndef CLI_CMD_HUB_H
#define CLI_CMD_HUB_H

enum hub_opt_key {
	OPT_CONFIG = 'c',
	OPT_LISTEN = 'l',
	OPT_VERBOSE = 'v',
	OPT_DB = 256,
	OPT_KEY,
	OPT_READY,
	OPT_REGONLY,
	OPT_SET,
	OPT_ROLE,
};

#endif
