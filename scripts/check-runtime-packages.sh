#!/usr/bin/env bash
# Checks that the runtime image's package list covers the gateway: every shared library the
# built binary loads (ldd, transitively) must belong to a package named in the list or to one
# of their dependencies (read from dpkg's database, so no network and no apt lists needed).
# Run on the Debian 12 machine that built the binary.
#
#   scripts/check-runtime-packages.sh build/service/otaverify-gateway [scripts/runtime-packages.txt]
#
# Exits 1 naming each library whose package is not covered, or that ldd cannot resolve.
set -euo pipefail

binary=${1:?usage: check-runtime-packages.sh GATEWAY_BINARY [PACKAGE_LIST]}
list=${2:-"$(dirname "$0")/runtime-packages.txt"}

mapfile -t listed < <(grep -v '^[[:space:]]*#' "$list" | awk 'NF {print $1}')
if [ ${#listed[@]} -eq 0 ]; then
  echo "FAIL: $list names no package" >&2
  exit 1
fi

# Closure of the listed packages over Depends and Pre-Depends (every alternative that is
# installed counts; version constraints and architecture qualifiers are dropped).
declare -A covered=()
queue=()
for p in "${listed[@]}"; do queue+=("$p"); done
while [ ${#queue[@]} -gt 0 ]; do
  p=${queue[0]}
  queue=("${queue[@]:1}")
  [ -n "${covered[$p]:-}" ] && continue
  covered[$p]=1
  deps=$(dpkg-query -W -f='${Depends}, ${Pre-Depends}' "$p" 2>/dev/null || true)
  for d in $(printf '%s' "$deps" | tr ',|' '\n\n' | sed -e 's/(.*)//' -e 's/:.*//' -e 's/[[:space:]]//g'); do
    [ -n "$d" ] && [ -z "${covered[$d]:-}" ] && queue+=("$d")
  done
done

# The libraries ldd resolves, as "name path" (path "not-found" when it cannot).
mapfile -t loaded < <(ldd "$binary" | awk '
  /=> not found/ {print $1, "not-found"; next}
  /=>/ && $3 ~ /^\// {print $1, $3; next}
  $1 ~ /^\// {print $1, $1}')

# Their owners, asked of dpkg in one call. /lib and /usr/lib are one folder on Debian 12
# (merged /usr) but dpkg knows each file under only one of the two names: ask for both.
declare -A owner=()
queries=()
for entry in "${loaded[@]}"; do
  path=${entry#* }
  [ "$path" = "not-found" ] && continue
  real=$(readlink -f "$path")
  for q in "$path" "$real"; do
    case "$q" in
      /usr/*) queries+=("$q" "${q#/usr}") ;;
      *) queries+=("$q" "/usr$q") ;;
    esac
  done
done
while IFS= read -r line; do
  pkg=${line%%: *}
  owner[${line#*: }]=${pkg%%:*}
done < <(dpkg -S "${queries[@]}" 2>/dev/null || true)

status=0
declare -A used=()
for entry in "${loaded[@]}"; do
  lib=${entry%% *}
  path=${entry#* }
  if [ "$path" = "not-found" ]; then
    echo "FAIL: $lib: ldd cannot find it on this machine" >&2
    status=1
    continue
  fi
  real=$(readlink -f "$path")
  pkg=""
  for q in "$path" "/usr$path" "${path#/usr}" "$real" "/usr$real" "${real#/usr}"; do
    if [ -n "${owner[$q]:-}" ]; then pkg=${owner[$q]}; break; fi
  done
  if [ -z "$pkg" ]; then
    echo "FAIL: $lib ($path) belongs to no Debian package" >&2
    status=1
  elif [ -z "${covered[$pkg]:-}" ]; then
    echo "FAIL: $lib comes from package $pkg, which is neither in $list nor a dependency of a package listed there" >&2
    status=1
  else
    used[$pkg]=1
  fi
done

for p in "${listed[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    echo "note: $p is listed but not installed here, so its dependencies were not followed"
  fi
done

if [ $status -eq 0 ]; then
  echo "ok: the ${#loaded[@]} libraries $(basename "$binary") loads come from ${#used[@]} packages, all covered by $(basename "$list") (${#listed[@]} packages and their dependencies)"
fi
exit $status
