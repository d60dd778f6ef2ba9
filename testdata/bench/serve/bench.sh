#!/usr/bin/env bash
# make bench-serve: keyctl serve against nginx serving the same JWKS bytes
# with the same headers, side by side on loopback, with the same bounded
# load (testdata/bench/serve/loadgen: CONNS connections, DURATION each),
# for a 23-key and a 1,000-key JWKS, before and after a write to the keys
# file. Prints req/s, p99 and the keyctl/nginx ratios. Installs Debian's
# nginx-light when nginx is missing (as root). Stops all it started.
set -euo pipefail
CONNS=${CONNS:-50}
DURATION=${DURATION:-5s}
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

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "bench-serve: nginx is missing; install nginx-light (apt-get install nginx-light) or run as root" >&2
		exit 1
	fi
	echo "bench-serve: installing nginx-light" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

(cd "$root" && go build -o "$work/keyctl" . && go build -o "$work/loadgen" ./testdata/bench/serve/loadgen)
KEYCTL="$work/keyctl"
export XDG_CONFIG_HOME="$work/config"
unset KEYCTL_CONFIG KEYCTL_KEYRING
umask 077

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# keysfile N: a keys file of N ES256 keys.
keysfile() {
	local f="$work/keys-$1/signing_keys.json"
	mkdir -p "$(dirname "$f")"
	"$KEYCTL" gen signing-key --keys-file "$f" >/dev/null 2>&1
	for ((i = 1; i < $1; i++)); do "$KEYCTL" gen signing-key --keys-file "$f" --append >/dev/null 2>&1; done
	echo "$f"
}

load() { "$work/loadgen" -c "$CONNS" -d "$DURATION" -addr "$1"; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

printf '%-28s %10s %9s %10s %9s %9s %9s\n' case keyctl_rps keyctl_p99 nginx_rps nginx_p99 rps_ratio p99_ratio
for n in 23 1000; do
	f=$(keysfile "$n")
	kport=$(freeport)
	"$KEYCTL" serve --keys-file "$f" --addr "127.0.0.1:$kport" 2>"$work/serve-$n.log" &
	pids+=($!)
	for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$kport/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
	nport=$(freeport)
	(umask 022 && mkdir -p "$work/nginx-$n/www/.well-known" "$work/nginx-$n/tmp")
	curl -fsS "http://127.0.0.1:$kport/.well-known/jwks.json" >"$work/nginx-$n/www/.well-known/jwks.json"
	chmod 644 "$work/nginx-$n/www/.well-known/jwks.json"
	sed -e "s|@DIR@|$work/nginx-$n|g" -e "s|@PORT@|$nport|g" "$here/nginx.conf.in" >"$work/nginx-$n/nginx.conf"
	"$NGINX" -c "$work/nginx-$n/nginx.conf" -e "$work/nginx-$n/nginx-error.log" &
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
			curl -fsS "http://127.0.0.1:$kport/.well-known/jwks.json" >"$work/nginx-$n/www/.well-known/jwks.json.new"
			chmod 644 "$work/nginx-$n/www/.well-known/jwks.json.new"
			mv "$work/nginx-$n/www/.well-known/jwks.json.new" "$work/nginx-$n/www/.well-known/jwks.json"
		fi
		k=$(load "127.0.0.1:$kport")
		g=$(load "127.0.0.1:$nport")
		kr=$(echo "$k" | field rps) kp=$(echo "$k" | field p99_ms)
		gr=$(echo "$g" | field rps) gp=$(echo "$g" | field p99_ms)
		awk -v c="$n keys, $phase a write" -v kr="$kr" -v kp="$kp" -v gr="$gr" -v gp="$gp" \
			'BEGIN { printf "%-28s %10.0f %8.2fms %10.0f %8.2fms %9.2f %9.2f\n", c, kr, kp, gr, gp, kr/gr, kp/gp }'
	done
done
