#!/usr/bin/env bash
# Times keyctl against the JWT signing tools available on this machine, in
# one run, and prints the tables docs/performance.md shows. Run it with
# `make bench-peers`.
#
#   one token  keyctl gen bearer-jwt --key key.json --role authenticated
#              beside a minimal go-jose v4 program built here and now
#              (testdata/bench/gojose), the same program built with
#              -tags stackimports (it also links cobra, viper, lipgloss and
#              net/http without calling them: the floor for a binary on
#              keyctl's stack), the C `jose` tool (Debian package
#              jose) and panva/jose on Node (npm package jose, the version
#              pinned below, installed in a temporary directory). Ratios are
#              to the go-jose program.
#   bulk       keyctl gen bearer-jwt --count N, and --claims-from with N
#              lines, beside testdata/bench/rawsign, which computes the same
#              N ES256 signatures on every core and nothing else: the time of
#              N x raw sign / cores. keyctl verify --each-line on N tokens
#              beside rawsign -verify: N x raw verify / cores.
#
# The machine is shared, so the tools are timed in alternation. One-token
# runs go through testdata/bench/shuffle: RUNS iterations, each running
# every tool once in a fresh random order (a fixed order, or one tool's runs
# in a row, biases ratios by several percent on a VM); the ratio reported
# is the median of the per-iteration ratios. Bulk runs alternate in
# BULK_ROUNDS rounds; their CPU time (user + system) is shown beside wall
# time: it does not depend on how many cores were free.
#
# Missing tools are skipped with a note. Debian: apt-get install -y jose
# time. Node and npm come with the machine; the npm registry must be
# reachable for panva/jose. Environment: RUNS (one-token iterations,
# default 300), BULK (default 100000), BULK_ROUNDS (default 5),
# JOSE_NPM_VERSION.
set -euo pipefail

JOSE_NPM_VERSION=${JOSE_NPM_VERSION:-6.2.18}
RUNS=${RUNS:-300}
BULK=${BULK:-100000}
BULK_ROUNDS=${BULK_ROUNDS:-5}

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/keyctl-peers.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

note() { printf '%s\n' "$*" >&2; }

if ! { [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; }; then
	note "peers.sh: GNU time is needed for peak RSS and bulk timing (apt-get install -y time)"
	exit 1
fi
gnutime=/usr/bin/time

# Every Go program is built the way `make build` builds keyctl: static
# (CGO_ENABLED=0), trimmed and stripped.
note "building keyctl and the go-jose and raw-sign programs ..."
export CGO_ENABLED=0
(cd "$root" && go build -trimpath -ldflags '-s -w' -o "$work/keyctl" . &&
	go build -trimpath -ldflags '-s -w' -o "$work/gojose" ./testdata/bench/gojose &&
	go build -trimpath -ldflags '-s -w' -tags stackimports -o "$work/gojose-stack" ./testdata/bench/gojose &&
	go build -trimpath -ldflags '-s -w' -o "$work/rawsign" ./testdata/bench/rawsign &&
	go build -trimpath -o "$work/shuffle" ./testdata/bench/shuffle)

kid=peers-es256
./keyctl gen signing-key --algorithm ES256 --kid "$kid" > key.json
# The C tool signs a claims file made here (it has no clock of its own for
# iat and exp) with a header template naming the kid and typ.
now=$(date +%s)
printf '{"exp":%d,"iat":%d,"is_anonymous":true,"role":"authenticated"}' $((now + 1800)) "$now" > claims.json
printf '{"protected":{"typ":"JWT","kid":"%s"}}' "$kid" > sig.json

# name|command; the go-jose program first: it is the reference.
peers=("go-jose v4.1.9 program|./gojose key.json authenticated"
	"the same + cobra, viper, lipgloss, net/http|./gojose-stack key.json authenticated"
	"keyctl|./keyctl gen bearer-jwt --key key.json --role authenticated")
if command -v jose >/dev/null; then
	peers+=("C jose $(dpkg-query -W -f '${Version}' jose 2>/dev/null || echo '?')|jose jws sig -I claims.json -k key.json -s sig.json -c -o -")
else
	note "skipping the C jose tool: not installed (apt-get install -y jose)"
fi
if command -v node >/dev/null && command -v npm >/dev/null; then
	mkdir node && cp "$root/testdata/bench/jose-sign.mjs" node/
	if (cd node && npm init -y >/dev/null && npm install --no-audit --no-fund --silent "jose@$JOSE_NPM_VERSION" >/dev/null 2>&1); then
		peers+=("panva/jose $JOSE_NPM_VERSION on node $(node --version)|node node/jose-sign.mjs key.json authenticated")
	else
		note "skipping panva/jose: npm install jose@$JOSE_NPM_VERSION failed"
	fi
else
	note "skipping panva/jose: node or npm not found"
fi

# Every tool must print an ES256 token before it is timed.
for p in "${peers[@]}"; do
	tok=$(${p#*|} 2>/dev/null) || { note "${p%%|*} failed: ${p#*|}"; exit 1; }
	[[ $tok =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}$ ]] || { note "${p%%|*} printed no ES256 token: $tok"; exit 1; }
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# One token: every tool RUNS times in shuffled order; shuffle prints name,
# median ms, median ratio to tool 0 and median CPU ms per tool, in order.
note "timing one token: $RUNS shuffled iterations of every tool ..."
./shuffle -n "$RUNS" "${peers[@]}" > single.tsv
for i in "${!peers[@]}"; do
	for _ in 1 2 3 4 5; do $gnutime -f %M ${peers[$i]#*|} 2>&1 >/dev/null | tail -1; done | sort -n | tail -1 > "rss.$i"
done

# Bulk rounds: every command once per round, wall and CPU seconds and peak
# RSS from GNU time. Each command has a raw floor (bbase) its ratios are to,
# and a file for its stdin.
note "timing bulk minting and verifying: $BULK tokens, $BULK_ROUNDS rounds ..."
seq 1 "$BULK" | awk '{ printf "{\"sub\":\"user-%d\"}\n", $1 }' > lines.ndjson
./keyctl gen bearer-jwt --key key.json --role authenticated --valid-for 24h --count "$BULK" > tokens.txt
bname=("raw ES256 sign x $BULK / cores" "keyctl --count $BULK" "keyctl --claims-from ($BULK lines)"
	"raw ES256 verify x $BULK / cores" "keyctl verify --each-line ($BULK tokens)")
bcmd=("./rawsign $BULK" "./keyctl gen bearer-jwt --key key.json --role authenticated --count $BULK"
	"./keyctl gen bearer-jwt --key key.json --role authenticated --claims-from lines.ndjson"
	"./rawsign -verify $BULK" "./keyctl verify --each-line --key key.json")
bstdin=(/dev/null /dev/null /dev/null /dev/null tokens.txt)
bbase=(0 0 0 3 3)
for ((r = 0; r < BULK_ROUNDS; r++)); do
	for i in "${!bcmd[@]}"; do
		read -r wall user sys rss < <($gnutime -f '%e %U %S %M' ${bcmd[$i]} < "${bstdin[$i]}" 2>&1 >/dev/null | tail -1)
		echo "$wall" >> "bwall.$i"
		awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }' >> "bcpu.$i"
		echo "$rss" >> "brss.$i"
		echo "$wall" > "blast.$i"
	done
	for i in "${!bcmd[@]}"; do ratio "$(cat "blast.$i")" "$(cat "blast.${bbase[$i]}")" >> "bratio.$i"; echo >> "bratio.$i"; done
done
kb=$($gnutime -f %M ./keyctl gen bearer-jwt --key key.json --role authenticated --count $((BULK * 10)) 2>&1 >/dev/null | tail -1)

line() { printf '|%s|%s:|%s:|%s:|\n' "$(printf -- '-%.0s' {1..46})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..12})" "$(printf -- '-%.0s' {1..16})"; }
host="$(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr)"
printf '\nMachine: %s. %s. Load average at the end: %s.\n\n' "$host" "$(go env GOVERSION)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '| %-44s | %13s | %11s | %15s |\n' "one ES256 token per process" "median (ms)" "x go-jose" "peak RSS (MB)"
line
for i in "${!peers[@]}"; do
	IFS=$'\t' read -r _ ms x _ < <(sed -n "$((i + 1))p" single.tsv)
	printf '| %-44s | %13.2f | %11.2f | %15.1f |\n' "${peers[$i]%%|*}" "$ms" "$x" "$(awk '{ print $1 / 1024 }' "rss.$i")"
done
printf '\n| %-44s | %13s | %11s | %15s |\n' "bulk, $(nproc) cores" "median (s)" "x raw" "CPU s, x raw"
line
for i in "${!bcmd[@]}"; do
	cpu=$(median < "bcpu.$i")
	printf '| %-44s | %13.2f | %11.2f | %15s |\n' "${bname[$i]}" "$(median < "bwall.$i")" \
		"$(grep . "bratio.$i" | median)" "$(printf '%.2f, %s' "$cpu" "$(ratio "$cpu" "$(median < "bcpu.${bbase[$i]}")")")"
done
mb() { sort -n "$1" | tail -1 | awk '{ printf "%.1f", $1 / 1024 }'; }
printf '\nPeak RSS, bulk: %s MB for --count %s, %s MB for --claims-from, %s MB for --each-line, %s MB for --count %s.\n' \
	"$(mb brss.1)" "$BULK" "$(mb brss.2)" "$(mb brss.4)" \
	"$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')" $((BULK * 10))
note "done"
