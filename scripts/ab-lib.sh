# Shared by scripts/ab-core.sh and scripts/ab-e2e.sh (sourced, not run): builds a commit in a git worktree of its own.
# Expects ROOT (the repository) to be set; uses AB_WORK_DIR, else $TMPDIR/vigil-ab, else /tmp/vigil-ab.

WORK=${AB_WORK_DIR:-${TMPDIR:-/tmp}/vigil-ab}
mkdir -p "$WORK"

# Builds one commit in a worktree of its own (kept between calls, so a second A/B of the same commit does not rebuild).
build() {
  local sha dir
  sha=$(git -C "$ROOT" rev-parse --verify "$1^{commit}") || { echo "ab: no commit '$1'." >&2; exit 2; }
  dir="$WORK/$sha"
  if [ ! -d "$dir" ]; then
    git -C "$ROOT" worktree add --detach -q "$dir" "$sha" >&2
  fi
  echo "ab: building $1 ($sha) in $dir" >&2
  if ! dotnet build "$dir/src/Vigil.Server/Vigil.Server.csproj" -c Release -nologo -v q -clp:ErrorsOnly >"$dir/.ab-build.log" 2>&1; then
    cat "$dir/.ab-build.log" >&2
    echo "ab: the build of $1 failed (log above)." >&2
    exit 1
  fi
  echo "$dir/src/Vigil.Server/bin/Release/net10.0/vigil.dll"
}

