#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for keyctl's tests, on a loopback port.
#
#   cluster.sh start DIR   initdb in DIR, start the server on 127.0.0.1 and a
#                          free port, print the superuser's URL on stdout
#   cluster.sh stop DIR    stop the server and remove DIR
#   cluster.sh restart DIR stop and start the server again, same port
#   cluster.sh halt DIR    stop the server, keep DIR
#   cluster.sh bindir      print the directory of Debian's server binaries
#
# As root (CI), the server runs as the postgres user. The superuser's
# password is a throw-away test fixture; the server listens on 127.0.0.1 only
# and its socket lives in DIR. fsync is off for speed unless
# KEYCTL_TEST_PG_FSYNC=on (make bench: a fair comparison with the file
# keyring, which fsyncs).
set -euo pipefail

PASSWORD=keyctl-test-throwaway

bindir() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && { echo "$d"; return 0; }
	done
	command -v initdb >/dev/null && { dirname "$(readlink -f "$(command -v initdb)")"; return 0; }
	return 1
}

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

start() {
	local dir=$1 bin port try
	bin=$(bindir) || { echo "cluster.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
	mkdir -p "$dir"
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$dir"
	fi
	chmod 700 "$dir"
	local pw="$dir/pw"
	as_owner sh -c "umask 077; printf '%s\n' '$PASSWORD' > '$pw'"
	as_owner "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$pw" \
		--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	for try in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 30000))
		if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
			-o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=${KEYCTL_TEST_PG_FSYNC:-off} -c max_connections=200 -c shared_buffers=32MB" >/dev/null 2>&1; then
			echo "$port" >"$dir/port" 2>/dev/null || as_owner sh -c "echo $port > '$dir/port'"
			echo "postgres://postgres:$PASSWORD@127.0.0.1:$port/postgres?sslmode=disable"
			return 0
		fi
	done
	echo "cluster.sh: the server did not start; its log:" >&2
	tail -n 20 "$dir/server.log" >&2 || true
	exit 1
}

stop() {
	local dir=$1 bin
	bin=$(bindir) || exit 0
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}

# restart: stop and start again on the same port (pg_ctl keeps the options).
restart() {
	local dir=$1 bin
	bin=$(bindir)
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 30 restart >/dev/null
}

# halt: stop the server, keep DIR (stop removes it).
halt() {
	local dir=$1 bin
	bin=$(bindir)
	as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
}

case "${1:-}" in
halt) halt "${2:?DIR}" ;;
restart) restart "${2:?DIR}" ;;
start) start "${2:?DIR}" ;;
stop) stop "${2:?DIR}" ;;
bindir) bindir ;;
*) echo "usage: cluster.sh start|stop DIR | bindir" >&2; exit 2 ;;
esac
