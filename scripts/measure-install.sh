#!/usr/bin/env bash
# What installing taskforge costs a user, in time and disk, next to the
# packages one would pick instead (bullmq for a Redis queue, p-queue in process).
#
#   scripts/measure-install.sh [runs]     (default 3; README, "What installing costs")
#
# Each measurement is what a user's first install is: `npm install` into a fresh
# empty project (`npm init -y`) with an empty npm cache (`--cache` a new
# directory), timed by the wall clock. After the cold runs, one more install into
# another fresh project reuses the last run's cache (warm: the tarballs are
# there; npm still asks the registry for metadata, and builds native addons
# again, since the cache holds downloads, not builds). Runs go one at a time:
# installs compete for the CPU (native builds) and the network.
#
# Needs the npm registry. Prints a markdown table; npm's logs (npm.log in each
# project) are kept under the directory it names, so a figure can be checked
# against npm's own output; the installed trees and caches are removed.
set -euo pipefail

runs=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/taskforge-install-XXXXXX")

# npm as a user runs it: none of this shell's npm_* variables (set when this
# script runs under `npm run`), the user's own ~/.npmrc still read.
clean_npm() { env -i PATH="$PATH" HOME="$HOME" npm "$@"; }

# The tarball users get. `npm pack` runs `prepare`, which builds dist/; its output
# goes to the log, the tarball is the one .tgz in $work.
echo "packing $root (builds dist/) ..." >&2
(cd "$root" && clean_npm pack --pack-destination "$work" >"$work/pack.log" 2>&1)
tarball=$(ls "$work"/*.tgz)

# The optional peers a Redis + S3 + server user installs, at the versions the
# errors' `npm install` lines name (package.json peerDependencies, README's table).
peers=$(node -p "Object.entries(require('$root/package.json').peerDependencies).map(([n, v]) => n + '@' + v).join(' ')")
# The alternatives at the versions taskforge's own tests use (devDependencies).
dev_version() { node -p "require('$root/package.json').devDependencies['$1']"; }
bullmq="bullmq@$(dev_version bullmq)"
pqueue="p-queue@$(dev_version p-queue)"

# label|npm install arguments (word-split on purpose)
scenarios=(
  "taskforge (in process)|$tarball"
  "taskforge, --omit=optional|--omit=optional $tarball"
  "taskforge + all optional peers|$tarball $peers"
  "$bullmq alone|$bullmq"
  "$pqueue alone|$pqueue"
)

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
now_ms() { date +%s%3N; }

# install DIR CACHE ARGS...: one timed install into a fresh project DIR.
# Prints "seconds KiB packages scripts native": scripts the seconds npm spent in
# install scripts (it runs them one after another), native "name:seconds,..." for
# each addon built from source (node-gyp leaves build/config.gypi; a downloaded
# prebuilt binary does not), both from npm's own timings.
install() {
  local dir=$1 cache=$2
  shift 2
  mkdir -p "$dir"
  (cd "$dir" && clean_npm init -y >/dev/null)
  local start end
  start=$(now_ms)
  # --timing: npm logs how long each install script ran (build:run:install:<location>).
  (cd "$dir" && clean_npm install --no-audit --no-fund --timing --cache "$cache" "$@" >"$dir/npm.log" 2>&1) ||
    { echo "npm install failed, see $dir/npm.log" >&2; exit 1; }
  end=$(now_ms)
  local kib count scripts native=""
  kib=$(du -sk "$dir/node_modules" | cut -f1)
  # Every package npm placed (its hidden lockfile), taskforge itself included.
  count=$(node -p "Object.keys(require('$dir/node_modules/.package-lock.json').packages).filter((k) => k.startsWith('node_modules/')).length")
  scripts=$(timing_s "$dir/npm.log" 'build:run:install')
  local gypi pkg
  for gypi in "$dir"/node_modules/*/build/config.gypi "$dir"/node_modules/@*/*/build/config.gypi; do
    [[ -e $gypi ]] || continue
    pkg=${gypi#"$dir/node_modules/"}
    pkg=${pkg%/build/config.gypi}
    native+="$pkg:$(timing_s "$dir/npm.log" "build:run:install:node_modules/$pkg"),"
  done
  # Measured; the tree itself is not needed again (a few hundred MiB over the runs).
  rm -rf "$dir/node_modules"
  awk -v ms=$((end - start)) -v kib="$kib" -v count="$count" -v scripts="$scripts" -v native="${native%,}" \
    'BEGIN { printf "%.1f %s %s %s %s\n", ms / 1000, kib, count, scripts, (native == "" ? "-" : native) }'
}

# timing_s LOG NAME: seconds of npm's "npm timing NAME Completed in Nms" line, 0 if none.
timing_s() {
  awk -v name="$2" '$1 == "npm" && $2 == "timing" && $3 == name && $5 == "in" { ms = $6 + 0 }
    END { printf "%.0f", ms / 1000 }' "$1"
}

# native_medians "a:59,b:31" "a:60,b:30" ...: each package's median seconds, "a 60 s, b 31 s".
native_medians() {
  printf '%s\n' "$@" | tr ',' '\n' | grep ':' | sort -t: -k1,1 -k2,2n |
    awk -F: '{ v[$1] = v[$1] " " $2 } END { for (p in v) { n = split(substr(v[p], 2), a, " "); out = out sep p " " a[int((n + 1) / 2)] " s"; sep = ", " } print (out == "" ? "none" : out) }'
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
rows=()
for i in "${!scenarios[@]}"; do
  label=${scenarios[i]%%|*}
  read -r -a args <<<"${scenarios[i]#*|}"
  times=() sizes=() counts=() scripts=() natives=()
  for ((run = 1; run <= runs; run++)); do
    echo "$label: cold run $run of $runs ..." >&2
    read -r secs kib count script native < <(install "$work/s$i-cold$run" "$work/s$i-cache$run" "${args[@]}")
    echo "  ${secs} s (install scripts ${script} s), ${kib} KiB, ${count} packages, built from source: $native" >&2
    times+=("$secs") sizes+=("$kib") counts+=("$count") scripts+=("$script") natives+=("$native")
    # Keep only the last cold run's cache: the warm run reuses it.
    if ((run < runs)); then rm -rf "$work/s$i-cache$run"; fi
  done
  echo "$label: warm run (cache of cold run $runs) ..." >&2
  read -r warm _ _ warm_script warm_native < <(install "$work/s$i-warm" "$work/s$i-cache$runs" "${args[@]}")
  echo "  ${warm} s (install scripts ${warm_script} s), built from source: $warm_native" >&2
  rm -rf "$work/s$i-cache$runs"
  mib=$(awk -v k="$(median "${sizes[@]}")" 'BEGIN { printf "%.1f", k / 1024 }')
  rows+=("| $label | $(median "${times[@]}") (${times[*]}) | $warm | $(median "${scripts[@]}") / $warm_script | $(native_medians "${natives[@]}") | $mib | $(median "${counts[@]}") |")
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

echo
echo "node $(node -v), npm $(clean_npm -v), $(nproc) cores; logs under $work"
echo
echo "| npm install | cold s, median (runs) | warm s | install scripts s, cold / warm | built from source, cold | node_modules MiB | packages |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
