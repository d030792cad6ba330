#!/usr/bin/env bash
# Runs every Vigil test on this machine, installing what the tests need first.
#   ./scripts/test.sh            all test projects
#   ./scripts/test.sh Storage    only tests/Vigil.Storage.Tests (any name fragment)
#   ./scripts/test.sh Server "FullyQualifiedName~ScaleOutTests"   one project, filtered
# It starts a throw-away PostgreSQL server on loopback and removes it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FILTER=${1:-}
TEST_FILTER=${2:-}

log() { printf '[test] %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
need_pkg() {
  # need_pkg BINARY-PATH PACKAGE...
  local probe=$1; shift
  if ! compgen -G "$probe" >/dev/null; then
    if [ $apt_updated = 0 ]; then log "apt-get update"; as_root apt-get update -qq >/dev/null; apt_updated=1; fi
    log "installing $*"
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  fi
}

need_pkg '/usr/lib/postgresql/*/bin/initdb' postgresql
need_pkg /usr/bin/kcat kcat
need_pkg /usr/bin/chromium chromium
"$ROOT/scripts/fetch-geo.sh" || log "fetch-geo.sh failed: the IP geolocation data is missing, so Vigil.Geo.Tests will fail"

# --- a throw-away PostgreSQL on a free loopback port ---------------------------------------------
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGDIR=$(mktemp -d /tmp/vigil-pg.XXXXXX)
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
run_pg() {
  # PostgreSQL refuses to run as root; use its own account when we are root.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then chown postgres "$PGDIR"; fi
cleanup() {
  run_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PGDIR"
}
trap cleanup EXIT
log "starting PostgreSQL on 127.0.0.1:$PGPORT"
run_pg "$PGBIN/initdb" -D "$PGDIR/data" -U vigil -A trust --no-sync -E UTF8 >/dev/null
run_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGDIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null
export VIGIL_TEST_POSTGRES="Host=127.0.0.1;Port=$PGPORT;Username=vigil;Database=postgres;Pooling=true"

# --- build once, then run each test project -------------------------------------------------------
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
log "building"
if [ -z "$FILTER" ]; then
  dotnet build Vigil.slnx -c Release -nologo -clp:ErrorsOnly -v:q
else
  for proj in tests/*"$FILTER"*/*.csproj; do dotnet build "$proj" -c Release -nologo -clp:ErrorsOnly -v:q; done
fi

passed=0; failed=0; skipped=0; status=0
RESULTS=$(mktemp -d /tmp/vigil-results.XXXXXX)
for proj in tests/*/*.Tests.csproj; do
  name=$(basename "$proj" .csproj)
  if [ -n "$FILTER" ] && [[ "$name" != *"$FILTER"* ]]; then continue; fi
  log "running $name"
  if ! dotnet test "$proj" -c Release --no-build -nologo ${TEST_FILTER:+--filter "$TEST_FILTER"} \
      --logger "trx;LogFileName=$name.trx" --results-directory "$RESULTS" \
      --logger "console;verbosity=minimal" 2>&1 | tee "$RESULTS/$name.log" | grep -E '^\s*(Passed|Failed)!|^\s*(Failed|Skipped) |error' ; then
    :
  fi
  if grep -qE '^\s*Failed!' "$RESULTS/$name.log" || ! grep -qE '(Passed!|Failed!)' "$RESULTS/$name.log"; then
    status=1
    # The failures' messages, so that a red CI log says why without the deleted result files.
    grep -E -A25 '^\s*Failed [A-Za-z]' "$RESULTS/$name.log" | grep -vE '^\s+at ' | head -200 >&2 || true
  fi
  trx="$RESULTS/$name.trx"
  if [ -f "$trx" ]; then
    c=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
    p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$c"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$c")
    t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$c"); e=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$c")
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${t:-0} - ${e:-0}))
  else
    status=1
  fi
done
# --- the dashboard in a real headless Chromium ------------------------------------------------------
if [ -z "$FILTER" ] || [[ "browser" == *"$FILTER"* ]]; then
  log "running the browser tests (screenshots in artifacts/screenshots)"
  if [ ! -f tests/browser/node_modules/.package-lock.json ]; then
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  if (cd tests/browser && node --test --test-concurrency=1 --test-reporter=tap) >"$RESULTS/browser.log" 2>&1; then :; else status=1; fi
  grep -E '^not ok|^# (pass|fail)' "$RESULTS/browser.log" >&2 || true
  bp=$(sed -n 's/^# pass \([0-9]*\)/\1/p' "$RESULTS/browser.log" | tail -1)
  bf=$(sed -n 's/^# fail \([0-9]*\)/\1/p' "$RESULTS/browser.log" | tail -1)
  if [ -z "$bp" ]; then status=1; cat "$RESULTS/browser.log" >&2; fi
  passed=$((passed + ${bp:-0})); failed=$((failed + ${bf:-0}))
fi

rm -rf "$RESULTS"
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$failed" -gt 0 ]; then status=1; fi
exit $status
