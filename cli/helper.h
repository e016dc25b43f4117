// SPDX-License-Identifier: MIT
/* helper.h - commands run by a helper program (git's way with its
 * sub-commands): `ipckit hub` is ipckit-hub, `ipckit peer` is ipckit-peer,
 * so that ipckit itself loads no library those alone need. */
#ifndef CLI_HELPER_H
#define CLI_HELPER_H

#include "opts.h"

/*
 * helper_exec - replace this process with cmd->helper, passing argv[1..]
 * (argv[0] is the command name, argv[argc] NULL) after the helper's own
 * path as its argv[0].  The helper is looked for beside the running
 * program (a build tree), then in libexecdir/ipckit of the prefix the
 * program runs from (an install, also under DESTDIR or moved whole), then
 * in the configured libexecdir/ipckit; it is exec'd by path, never through
 * a shell or $PATH.  Returns only on failure: EXIT_FAIL, after one line
 * on stderr naming the places looked in or the error of exec.
 */
int helper_exec(const struct cmd *cmd, int argc, char **argv);

#endif
