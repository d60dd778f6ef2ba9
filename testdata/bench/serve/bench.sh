#!/usr/bin/env bash
# make bench-serve: keyctl serve against nginx serving the same JWKS bytes
# with the same headers, side by side on loopback, with the same bounded
# wrk load (THREADS threads, CONNS connections, DURATION a run), for a
# 23-key and a 1,000-key JWKS, before and after a write to the keys file.
# Each case runs ROUNDS rounds, keyctl and nginx alternating, and reports
# the median req/s and median p99 of each and their keyctl/nginx ratios
# (one run alone swings by 20 % or more on a busy 2-core machine); then
# the 23-key case again at the same paced load for both. Installs
# Debian's nginx-light and wrk when missing (as root). Stops all it started.
# PINNED=1 repeats the comparisons with each server on CPU 0 and wrk on
# CPU 1 (taskset).
set -euo pipefail
THREADS=${THREADS:-2}
CONNS=${CONNS:-50}
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
chmod 755 "$work" # nginx's workers (www-data) read its www directory
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

need() { # need COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "bench-serve: $1 is missing; install $2 (apt-get install $2) or run as root" >&2
		exit 1
	fi
	echo "bench-serve: installing $2" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need nginx nginx-light
need wrk wrk
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

(cd "$root" && go build -o "$work/keyctl" .)
KEYCTL="$work/keyctl"
export XDG_CONFIG_HOME="$work/config"
unset KEYCTL_CONFIG KEYCTL_KEYRING
umask 077

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# keysfile N [TAG]: a keys file of N ES256 keys.
keysfile() {
	local f="$work/keys-$1${2:+-$2}/signing_keys.json"
	mkdir -p "$(dirname "$f")"
	"$KEYCTL" gen signing-key --keys-file "$f" >/dev/null 2>&1
	for ((i = 1; i < $1; i++)); do "$KEYCTL" gen signing-key --keys-file "$f" --append >/dev/null 2>&1; done
	echo "$f"
}

# load ADDR: one bounded wrk run with the script $LUA; prints its report line.
LUA=$here/report.lua
load() {
	local out
	local pin=()
	if [ -n "${WRK_PIN:-}" ]; then pin=(taskset -c 1); fi
	out=$("${pin[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 5s -s "$LUA" "http://$1/.well-known/jwks.json")
	echo "$out" | grep '^rps='
}
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# compare CASE PORT-A PORT-B NAME-A NAME-B: ROUNDS loads of A and B in
# alternation; fails on any failed request; prints the medians and A/B.
compare() {
	local r ar ap br bp
	: >"$work/a" && : >"$work/b"
	for ((r = 0; r < ROUNDS; r++)); do
		load "127.0.0.1:$2" >>"$work/a"
		load "127.0.0.1:$3" >>"$work/b"
	done
	if grep -qv 'errors=0 non2xx=0' "$work/a" "$work/b"; then
		echo "bench-serve: failed requests:" >&2
		cat "$work/a" "$work/b" >&2
		exit 1
	fi
	ar=$(field rps <"$work/a" | median) ap=$(field p99_ms <"$work/a" | median)
	br=$(field rps <"$work/b" | median) bp=$(field p99_ms <"$work/b" | median)
	awk -v c="$1" -v ar="$ar" -v ap="$ap" -v br="$br" -v bp="$bp" \
		'BEGIN { printf "%-28s %10.0f %8.2fms %10.0f %8.2fms %9.2f %9.2f\n", c, ar, ap, br, bp, ar/br, ap/bp }'
	if [ -n "${VERBOSE:-}" ]; then sed "s/^/    $4 /" "$work/a"; sed "s/^/    $5 /" "$work/b"; fi
}

# cases TITLE: both servers for a 23-key and a 1,000-key set, before and
# after a write, each compared under the same load. With PIN set, each
# server runs on CPU 0 alone (nginx with one worker, keyctl with
# GOMAXPROCS 1, which Go takes from the affinity) and wrk on CPU 1.
cases() {
	local n f d kport nport phase old srv=() workers=auto
	if [ -n "${PIN:-}" ]; then srv=(taskset -c 0) workers=1; fi
	printf '%-28s %10s %9s %10s %9s %9s %9s\n' "$1" keyctl_rps keyctl_p99 nginx_rps nginx_p99 rps_ratio p99_ratio
	for n in 23 1000; do
		f=$(keysfile "$n" "${PIN:+pinned}")
		d=$work/nginx-$n${PIN:+-pinned}
		kport=$(freeport)
		"${srv[@]}" "$KEYCTL" serve --keys-file "$f" --addr "127.0.0.1:$kport" 2>"$work/serve-$n${PIN:+-pinned}.log" &
		pids+=($!)
		for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$kport/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
		nport=$(freeport)
		(umask 022 && mkdir -p "$d/www/.well-known" "$d/tmp")
		curl -fsS "http://127.0.0.1:$kport/.well-known/jwks.json" >"$d/www/.well-known/jwks.json"
		chmod 644 "$d/www/.well-known/jwks.json"
		sed -e "s|@DIR@|$d|g" -e "s|@PORT@|$nport|g" -e "s|@WORKERS@|$workers|g" "$here/nginx.conf.in" >"$d/nginx.conf"
		"${srv[@]}" "$NGINX" -c "$d/nginx.conf" -e "$d/nginx-error.log" &
		pids+=($!)
		for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$nport/.well-known/jwks.json" >/dev/null 2>&1 && break; sleep 0.05; done
		cmp -s <(curl -fsS "http://127.0.0.1:$kport/.well-known/jwks.json") <(curl -fsS "http://127.0.0.1:$nport/.well-known/jwks.json") || { echo "bench-serve: bodies differ" >&2; exit 1; }
		for phase in before after; do
			if [ "$phase" = after ]; then
				# A write: a key added, taken in by keyctl (inotify) and copied for nginx.
				old=$(curl -fsS -o /dev/null -w '%header{etag}' "http://127.0.0.1:$kport/.well-known/jwks.json")
				"$KEYCTL" gen signing-key --keys-file "$f" --append >/dev/null 2>&1
				for _ in $(seq 200); do
					[ "$(curl -fsS -o /dev/null -w '%header{etag}' "http://127.0.0.1:$kport/.well-known/jwks.json")" != "$old" ] && break
					sleep 0.02
				done
				curl -fsS "http://127.0.0.1:$kport/.well-known/jwks.json" >"$d/www/.well-known/jwks.json.new"
				chmod 644 "$d/www/.well-known/jwks.json.new"
				mv "$d/www/.well-known/jwks.json.new" "$d/www/.well-known/jwks.json"
			fi
			compare "$n keys, $phase a write" "$kport" "$nport" keyctl "nginx "
		done
		if [ "$n" = 23 ] && [ -z "${PIN:-}" ]; then k23=$kport n23=$nport; fi
	done
}

# Both servers and wrk share the machine's cores, as the issue's figures
# were taken. With PINNED=1, and two cores or more, the same again with
# each server on CPU 0 and wrk on CPU 1 (a diagnosis: on this 2-core VM
# wrk's one core saturates first, so the faster server's tail is wrk's).
PIN= cases "shared cores"
if [ -n "${PINNED:-}" ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	echo
	PIN=1 WRK_PIN=1 cases "server CPU 0, wrk CPU 1"
fi

# The same 23-key servers at the same paced load: each connection waits
# PACE_MS between an answer and its next request (wrk's delay hook), so
# both servers get the same requests per second, below what either can
# answer. Above, wrk asks as fast as each server answers and shares the
# two cores with it, so the faster server also gets the busier load
# generator; here p99 compares the servers at equal load.
PACE_MS=${PACE_MS:-1}
{ echo "delay = function() return $PACE_MS end"; cat "$here/report.lua"; } >"$work/paced.lua"
LUA=$work/paced.lua
echo
printf '%-28s %10s %9s %10s %9s %9s %9s\n' "paced: $PACE_MS ms between requests" keyctl_rps keyctl_p99 nginx_rps nginx_p99 rps_ratio p99_ratio
compare "23 keys, paced" "$k23" "$n23" keyctl "nginx "
LUA=$here/report.lua

# Issue 11: a replica backed by PostgreSQL answers as one backed by a file
# (both hold the published set in memory). When run under
# testdata/pg/with-cluster.sh (make bench-serve does when PostgreSQL is
# installed): the same 23-key keyring served from a file and from the
# database, the same load, before and after a write (which the database
# replica learns through NOTIFY). Prints PostgreSQL/file ratios.
[ -n "${KEYCTL_TEST_DATABASE_URL:-}" ] || exit 0
pgbin=$(bash "$root/testdata/pg/cluster.sh" bindir)
db=keyctl_bench_serve_$$
"$pgbin/psql" "$KEYCTL_TEST_DATABASE_URL" -Xq -c "CREATE DATABASE $db" >/dev/null
trap '"$pgbin/psql" "$KEYCTL_TEST_DATABASE_URL" -Xq -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; cleanup' EXIT INT TERM
base=${KEYCTL_TEST_DATABASE_URL%%\?*}
pgring="${base%/*}/$db?${KEYCTL_TEST_DATABASE_URL#*\?}"
fring=$work/keyring.json
KEYCTL_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
export KEYCTL_MASTER_KEY
"$KEYCTL" --keyring "$fring" keys create >/dev/null 2>&1
"$KEYCTL" --keyring "$fring" keys rotate --force >/dev/null 2>&1
for ((i = 1; i < 23; i++)); do "$KEYCTL" --keyring "$fring" keys create >/dev/null 2>&1; done
"$KEYCTL" --keyring "$pgring" db migrate >/dev/null 2>&1
"$KEYCTL" keys copy --from "$fring" --to "$pgring" >/dev/null 2>&1
fport=$(freeport) pport=$(freeport)
"$KEYCTL" serve --keyring "$fring" --addr "127.0.0.1:$fport" 2>"$work/serve-file.log" &
pids+=($!)
"$KEYCTL" serve --keyring "$pgring" --addr "127.0.0.1:$pport" 2>"$work/serve-pg.log" &
pids+=($!)
for p in $fport $pport; do
	for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$p/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
done
echo
printf '%-28s %10s %9s %10s %9s %9s %9s\n' "keyring (23 keys)" pg_rps pg_p99 file_rps file_p99 rps_ratio p99_ratio
for phase in before after; do
	if [ "$phase" = after ]; then
		# The same write in both: a key created in the file (standby keys are
		# published) and the keyring copied over the database's.
		"$KEYCTL" --keyring "$fring" keys create >/dev/null 2>&1
		"$KEYCTL" keys copy --from "$fring" --to "$pgring" --force >/dev/null 2>&1
		for p in $fport $pport; do
			old=$(curl -fsS -o /dev/null -w '%header{etag}' "http://127.0.0.1:$p/.well-known/jwks.json")
			for _ in $(seq 200); do
				[ "$(curl -fsS -o /dev/null -w '%header{etag}' "http://127.0.0.1:$p/.well-known/jwks.json")" != "$old" ] && break
				sleep 0.02
			done
		done
	fi
	cmp -s <(curl -fsS "http://127.0.0.1:$fport/.well-known/jwks.json") <(curl -fsS "http://127.0.0.1:$pport/.well-known/jwks.json") || { echo "bench-serve: the file and PostgreSQL replicas publish different bodies" >&2; exit 1; }
	compare "PostgreSQL vs file, $phase a write" "$pport" "$fport" "pg  " file
done
