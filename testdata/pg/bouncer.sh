#!/usr/bin/env bash
# A throw-away PgBouncer in transaction mode in front of a test cluster
# (cluster.sh), on a loopback port: what a team puts between keyctl and
# PostgreSQL to keep backends warm.
#
#   bouncer.sh start DIR URL   start PgBouncer for the cluster at URL (its
#                              superuser's URL, as cluster.sh prints it),
#                              print the same URL through PgBouncer on stdout
#   bouncer.sh stop DIR        stop it and remove DIR
#   bouncer.sh available       exit 0 when Debian's pgbouncer is installed
#
# Clients authenticate with SCRAM against the role's SCRAM secret, copied
# from pg_authid (no password in the config), and PgBouncer logs in to the
# server with the client's proof, as a deployment would. As root (CI) it
# runs as the postgres user: PgBouncer refuses to run as root.
set -euo pipefail

PGBOUNCER=/usr/sbin/pgbouncer

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

available() {
	[ -x "$PGBOUNCER" ] || command -v pgbouncer >/dev/null
}

start() {
	local dir=$1 url=$2 bin secret hostport pw port try
	available || { echo "bouncer.sh: pgbouncer not found (apt-get install pgbouncer)" >&2; exit 1; }
	[ -x "$PGBOUNCER" ] || PGBOUNCER=$(command -v pgbouncer)
	bin=$(bash "$(dirname "$0")/cluster.sh" bindir)
	secret=$("$bin/psql" "$url" -XAtq -c "SELECT rolpassword FROM pg_authid WHERE rolname = current_user")
	case "$secret" in SCRAM-SHA-256*) ;; *) echo "bouncer.sh: the role has no SCRAM secret" >&2; exit 1 ;; esac
	hostport=${url#*@}
	hostport=${hostport%%/*}
	mkdir -p "$dir"
	printf '"postgres" "%s"\n' "$secret" >"$dir/userlist.txt"
	for try in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 30000))
		cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=${hostport%:*} port=${hostport##*:}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 400
default_pool_size = 20
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
		if [ "$(id -u)" = 0 ]; then chown -R postgres: "$dir"; fi
		chmod 700 "$dir"
		rm -f "$dir/pgbouncer.pid"
		if as_owner "$PGBOUNCER" -d -q "$dir/pgbouncer.ini" 2>>"$dir/start.log"; then
			for _ in $(seq 50); do
				if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
					pw=${url#postgres://}
					echo "postgres://${pw%%@*}@127.0.0.1:$port/${url##*/}"
					return 0
				fi
				sleep 0.1
			done
			stop_pid "$dir"
		fi
	done
	echo "bouncer.sh: PgBouncer did not start; its log:" >&2
	tail -n 20 "$dir/pgbouncer.log" "$dir/start.log" >&2 || true
	exit 1
}

stop_pid() {
	local dir=$1 pid
	[ -f "$dir/pgbouncer.pid" ] || return 0
	pid=$(cat "$dir/pgbouncer.pid")
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

stop() {
	stop_pid "$1"
	rm -rf "$1"
}

case "${1:-}" in
start) start "${2:?DIR}" "${3:?URL}" ;;
stop) stop "${2:?DIR}" ;;
available) available ;;
*) echo "usage: bouncer.sh start DIR URL | stop DIR | available" >&2; exit 2 ;;
esac
