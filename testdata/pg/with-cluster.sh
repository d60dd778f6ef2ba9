#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL cluster: starts one (see
# cluster.sh), exports its URL as KEYCTL_TEST_DATABASE_URL, and, when
# pgbouncer is installed, a PgBouncer in front of it (bouncer.sh) as
# KEYCTL_TEST_PGBOUNCER_URL; runs "$@", and stops and removes both on exit,
# whatever happened.
#
# Without PostgreSQL installed the command still runs and the PostgreSQL
# tests skip, saying how to install it; under CI=true they fail instead.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if [ -n "${KEYCTL_TEST_DATABASE_URL:-}" ]; then
	exec "$@"
fi
if ! bash "$here/cluster.sh" bindir >/dev/null 2>&1; then
	echo "== PostgreSQL is not installed: its tests will skip (apt-get install postgresql)" >&2
	exec "$@"
fi
dir=$(mktemp -d /tmp/keyctl-pg.XXXXXX)
bdir=$dir-bouncer
trap 'bash "$here/bouncer.sh" stop "$bdir"; bash "$here/cluster.sh" stop "$dir"' EXIT INT TERM
url=$(bash "$here/cluster.sh" start "$dir") || exit 1
export KEYCTL_TEST_DATABASE_URL="$url"
export KEYCTL_TEST_PG_DIR="$dir"
echo "== PostgreSQL test cluster on ${url##*@}" >&2
# PgBouncer in transaction mode in front of it, for the pooler's tests.
if bash "$here/bouncer.sh" available; then
	burl=$(bash "$here/bouncer.sh" start "$bdir" "$url") || exit 1
	export KEYCTL_TEST_PGBOUNCER_URL="$burl"
	echo "== PgBouncer (transaction mode) on ${burl##*@}" >&2
else
	echo "== PgBouncer is not installed: its tests will skip (apt-get install pgbouncer)" >&2
fi
"$@"
