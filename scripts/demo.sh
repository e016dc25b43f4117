#!/usr/bin/env bash
# demo.sh - the main job, run by the README's first command: an ADC hub
# (ipckit hub) on 127.0.0.1:1511 (or a free port if that one is taken)
# with one account, "demo", whose password is "demo-password".  Builds
# nothing: run `meson setup build && ninja -C build` first.  State (the
# database, its key, the settings) lives in $IPCKIT_DEMO_DIR, by default
# ./demo-state; $IPCKIT_DEMO_PORT picks another port (0: any free one).
# Ctrl-C stops the hub after telling connected users.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ipckit=${IPCKIT:-$root/build/cli/ipckit}
state=${IPCKIT_DEMO_DIR:-$PWD/demo-state}
password=demo-password

if [ ! -x "$ipckit" ]; then
	echo "demo.sh: $ipckit not found; build first: meson setup build && ninja -C build" >&2
	exit 1
fi
mkdir -p "$state"
chmod 700 "$state"
if [ ! -f "$state/hub.conf" ]; then
	cat >"$state/hub.conf" <<CONF
# ipckit hub settings for the demo (docs/hub.md lists every key)
db = "$state/hub.db"
hub_name = "ipckit demo hub"
hub_description = "chat, search and peer-to-peer files over ADC"
motd = "Welcome to the ipckit demo hub. Type !help for commands."
history_on_login = 10
CONF
fi
if ! "$ipckit" hub user list --config "$state/hub.conf" 2>/dev/null |
	grep -q '^demo '; then
	printf '%s\n' "$password" |
		"$ipckit" hub user add demo --role admin --config "$state/hub.conf"
fi

port=${IPCKIT_DEMO_PORT:-1511}
if [ "$port" != 0 ] && (exec 9<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
	echo "demo.sh: port $port is busy; using a free one" >&2
	port=0
fi

# Print how to connect once the hub reports the address it listens on.
exec 3> >(
	read -r _ url || exit 0
	cat <<TEXT

  ipckit hub is running at $url      (Ctrl-C stops it)

  account: demo   password: $password   (role admin: try !help, !users, !stats)
  more accounts: $ipckit hub user add NICK --config $state/hub.conf

  connect with
    ncdc:         /open demo $url   then /hset nick demo, /hset password $password, /reconnect
    EiskaltDC++:  add a favourite hub $url, nick demo, password $password
    ipckit peer:  $ipckit peer $url
  guests (any other nick) are welcome too; chat history is kept in $state/hub.db

TEXT
)
exec "$ipckit" hub --config "$state/hub.conf" --listen "127.0.0.1:$port" --ready-fd 3
