#!/usr/bin/env bash
# make bench's whole-process figures for issue 11: the same keyctl command
# against a keyring file, a keyring in PostgreSQL reached directly over TCP
# (SCRAM, as a remote client would), the same server over its Unix socket
# (a local PostgreSQL's usual way in: no TCP, no password exchange), and the
# same keyring through PgBouncer in transaction mode (when with-cluster.sh
# started one). ROUNDS rounds of RUNS runs of each, all interleaved
# in every round (so a burst of noise does not land on one only); prints
# the median wall time of a run and the ratio to the file keyring's.
# Run under testdata/pg/with-cluster.sh (make bench does).
set -euo pipefail
: "${KEYCTL_TEST_DATABASE_URL:?run under testdata/pg/with-cluster.sh}"
ROUNDS=${ROUNDS:-5}
RUNS=${RUNS:-10}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
pgbin=$(bash "$root/testdata/pg/cluster.sh" bindir)
work=$(mktemp -d)
db=keyctl_bench_$$
cleanup() {
	"$pgbin/psql" "$KEYCTL_TEST_DATABASE_URL" -Xq -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$work/keyctl" . &&
	CGO_ENABLED=0 go build -trimpath -o "$work/connect" ./testdata/bench/pg/connect)
K=$work/keyctl
"$pgbin/psql" "$KEYCTL_TEST_DATABASE_URL" -Xq -c "CREATE DATABASE $db" >/dev/null
base=${KEYCTL_TEST_DATABASE_URL%%\?*}
direct="${base%/*}/$db?${KEYCTL_TEST_DATABASE_URL#*\?}"
umask 077
mkdir -p "$work/home" "$work/config"
export HOME=$work/home XDG_CONFIG_HOME=$work/config NO_COLOR=1
unset KEYCTL_KEYRING KEYCTL_CONFIG KEYCTL_PASSPHRASE
KEYCTL_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
export KEYCTL_MASTER_KEY

names=(file tcp)
rings=("$work/keyring.json" "$direct")
if [ -n "${KEYCTL_TEST_PG_DIR:-}" ]; then
	port=${KEYCTL_TEST_DATABASE_URL##*:}
	port=${port%%/*}
	names+=(socket)
	rings+=("postgres://postgres@/$db?host=$KEYCTL_TEST_PG_DIR&port=$port&sslmode=disable")
fi
if [ -n "${KEYCTL_TEST_PGBOUNCER_URL:-}" ]; then
	b=${KEYCTL_TEST_PGBOUNCER_URL#*@}
	names+=(pgbouncer)
	rings+=("${direct%%@*}@${b%%/*}/$db?${direct#*\?}")
fi

"$K" --keyring "$direct" db migrate >/dev/null 2>&1
for r in "$work/keyring.json" "$direct"; do
	"$K" --keyring "$r" keys create >/dev/null 2>&1
	"$K" --keyring "$r" keys rotate --force >/dev/null 2>&1
done

# run RING ARGS...: RUNS runs; appends each run's milliseconds to $work/t.
# RING "connect:URI" runs the connect floor on URI instead of keyctl.
run() {
	local ring=$1 start end i
	shift
	for ((i = 0; i < RUNS; i++)); do
		start=$EPOCHREALTIME
		if [[ $ring == connect:* ]]; then
			"$work/connect" "${ring#connect:}" >/dev/null 2>"$work/err" || { echo "whole.sh: connect: $(cat "$work/err")" >&2; exit 1; }
		else
			"$K" --keyring "$ring" "$@" >/dev/null 2>"$work/err" || { echo "whole.sh: keyctl $*: $(cat "$work/err")" >&2; exit 1; }
		fi
		end=$EPOCHREALTIME
		echo "$start $end" | awk '{ printf "%.3f\n", ($2 - $1) * 1000 }'
	done
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-36s' "command (median of $((ROUNDS * RUNS)) runs)"
for n in "${names[@]}"; do printf ' %10s' "$n"; [ "$n" = file ] || printf ' %7s' ratio; done
echo
# The last row is the floor under every PostgreSQL figure: a Go process
# that connects as keyctl does, runs SELECT 1 and exits (the file column
# runs the minting command again, for the ratio); the mint targets' room
# over the file keyring (0.5x of it) is smaller than this alone.
floor="connect, SELECT 1, exit (no keyctl)"
for cmd in "gen bearer-jwt --role authenticated" "keys max-token-lifetime 1h" "$floor"; do
	for n in "${names[@]}"; do : >"$work/t-$n"; done
	for ((r = 0; r < ROUNDS; r++)); do
		for i in "${!names[@]}"; do
			ring=${rings[$i]} args=$cmd
			if [ "$cmd" = "$floor" ]; then
				args="gen bearer-jwt --role authenticated"
				[ "${names[$i]}" = file ] || ring=connect:$ring
			fi
			# shellcheck disable=SC2086
			run "$ring" $args >>"$work/t-${names[$i]}"
		done
	done
	f=$(median <"$work/t-file")
	printf '%-36s' "$cmd"
	for n in "${names[@]}"; do
		m=$(median <"$work/t-$n")
		printf ' %8.2fms' "$m"
		[ "$n" = file ] || awk -v m="$m" -v f="$f" 'BEGIN { printf " %6.2fx", m / f }'
	done
	echo
done
