# Shared by scripts/ab-core.sh and scripts/ab-e2e.sh (sourced, not run): the arguments, the worktree builds, the
# alternated invocations and the summary. Expects NAME (the script's name, for messages); sets ROOT (the repository);
# uses AB_WORK_DIR, else $TMPDIR/vigil-ab, else /tmp/vigil-ab.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${AB_WORK_DIR:-${TMPDIR:-/tmp}/vigil-ab}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Reads REV_A REV_B [PAIRS] [-- flags] into REV_A, REV_B, PAIRS and FLAGS (the calling script's header, lines 2-14,
# is its usage), checks for node and builds both commits into DLL_A and DLL_B.
ab_start() {
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
  FLAGS=("$@")
  case "$PAIRS" in '' | *[!0-9]* | 0) echo "$NAME: PAIRS must be a positive whole number, not '$PAIRS'." >&2; exit 2 ;; esac
  command -v node >/dev/null 2>&1 || { echo "$NAME: node is needed to read the bench's JSON." >&2; exit 1; }
  mkdir -p "$WORK"
  DLL_A=$(ab_build "$REV_A")
  DLL_B=$(ab_build "$REV_B")
}

# Builds one commit in a worktree of its own (kept between calls, so a second A/B of the same commit does not rebuild).
ab_build() {
  local sha dir
  sha=$(git -C "$ROOT" rev-parse --verify "$1^{commit}") || { echo "$NAME: no commit '$1'." >&2; exit 2; }
  dir="$WORK/$sha"
  if [ ! -d "$dir" ]; then
    git -C "$ROOT" worktree add --detach -q "$dir" "$sha" >&2
  fi
  echo "$NAME: building $1 ($sha) in $dir" >&2
  if ! dotnet build "$dir/src/Vigil.Server/Vigil.Server.csproj" -c Release -nologo -v q -clp:ErrorsOnly >"$dir/.ab-build.log" 2>&1; then
    cat "$dir/.ab-build.log" >&2
    echo "$NAME: the build of $1 failed (log above)." >&2
    exit 1
  fi
  echo "$dir/src/Vigil.Server/bin/Release/net10.0/vigil.dll"
}

# ab_run VERB EXTRACT -- bench flags: runs `bench VERB` with the flags PAIRS times for each side, alternately (A B A B
# ...), from the repository root (as ./vigil does, so both builds read the same data files). EXTRACT is JavaScript that
# reads the JSON `d` and prints one tab-separated line; each line goes to RESULTS and the terminal after the side and
# the pair's number.
ab_run() {
  local verb=$1 extract=$2 side dll json line i
  shift 3
  RESULTS="$WORK/ab-$verb-$(date +%Y%m%d-%H%M%S).tsv"
  : >"$RESULTS"
  for ((i = 1; i <= PAIRS; i++)); do
    for side in A B; do
      dll=$([ $side = A ] && echo "$DLL_A" || echo "$DLL_B")
      json=$(cd "$ROOT" && dotnet "$dll" bench "$verb" "$@" 2>/dev/null)
      line=$(node -e "const d = JSON.parse(require('fs').readFileSync(0, 'utf8')); $extract" <<<"$json")
      printf '%s\t%s\t%s\n' "$side" "$i" "$line" | tee -a "$RESULTS"
    done
  done
}

# ab_summary COLUMN LABEL [COLUMN LABEL ...]: for the first column (counted from 0 in RESULTS' rows, a larger value
# winning), both medians, their ratio and the pairs B won; for the others, both medians.
ab_summary() {
  node -e '
    const [file, ...specs] = process.argv.slice(1);
    const rows = require("fs").readFileSync(file, "utf8").trim().split("\n").map(l => l.split("\t"));
    const median = xs => { const s = [...xs].sort((a, b) => a - b), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
    const col = (side, c) => rows.filter(r => r[0] === side).map(r => Number(r[c]));
    for (let k = 0; k < specs.length; k += 2) {
      const c = Number(specs[k]), label = specs[k + 1], a = col("A", c), b = col("B", c), ma = median(a), mb = median(b);
      if (k > 0) { console.log(`median ${label}: A ${ma}, B ${mb}`); continue; }
      let wonB = 0;
      for (let i = 0; i < Math.min(a.length, b.length); i++) if (b[i] > a[i]) wonB++;
      console.log(`median ${label}: A ${Math.round(ma)}, B ${Math.round(mb)}, B/A ${(mb / ma).toFixed(3)}; B won ${wonB} of ${a.length} pairs`);
    }
  ' "$RESULTS" "$@"
  echo "$NAME: rows in $RESULTS; the worktrees stay in $WORK (git worktree remove them when done)" >&2
}
