// SPDX-License-Identifier: MIT
/* cmds.h - every sub-command's table entry; cli/main.c lists them.  A new
 * command is one cmd_<name>.c defining `const struct cmd cmd_<name>` and a
 * line here and in main.c. */
#ifndef CLI_CMDS_H
#define CLI_CMDS_H

#include "opts.h"

extern const struct cmd cmd_help;
extern const struct cmd cmd_send;
extern const struct cmd cmd_recv;
extern const struct cmd cmd_relay;
extern const struct cmd cmd_chat;
extern const struct cmd cmd_exec;
extern const struct cmd cmd_ls;
extern const struct cmd cmd_rm;
extern const struct cmd cmd_bench;
extern const struct cmd cmd_hub;
extern const struct cmd cmd_ratings;
extern const struct cmd cmd_peer;

/* The table, NULL-terminated (main.c). */
extern const struct cmd *const cli_commands[];

#endif
