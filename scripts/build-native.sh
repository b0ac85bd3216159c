#!/usr/bin/env bash
# Builds the optional OpenBLAS addon lib/native/build/Release/fbc_native.node, offline, with the
# node-gyp bundled inside npm and the Node headers already on this machine (no downloads).
#
#   bash scripts/build-native.sh           build if the sources changed since the last build
#   bash scripts/build-native.sh --force   rebuild from scratch
#
# Needs a C compiler, make, python3, Node's headers (include/node/node_api.h) and OpenBLAS with
# its CBLAS header (Debian: apt-get install libopenblas-dev). Overrides: FBC_NODEDIR (folder
# holding include/node), FBC_NODE_GYP (path to node-gyp.js), FBC_OPENBLAS_INCLUDE and
# FBC_OPENBLAS_LIBDIR (folders holding cblas.h and libopenblas.so).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NATIVE="$ROOT/lib/native"
OUT="$NATIVE/build/Release/fbc_native.node"
STAMP="$NATIVE/build/fbc-build-config.txt"

say() { echo "build-native: $*"; }
die() {
  echo "build-native: ERROR: $*" >&2
  exit 1
}

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *) die "unknown argument '$1' (usage: build-native.sh [--force])" ;;
esac

command -v node >/dev/null || die "node is not on PATH"
for tool in cc make python3; do
  command -v "$tool" >/dev/null || die "'$tool' is not on PATH (Debian: apt-get install build-essential python3)"
done

# --- Node headers: the folder that holds include/node/node_api.h --------------------------------
node_bin="$(readlink -f "$(command -v node)")"
nodedir=""
for d in ${FBC_NODEDIR:-} "$(dirname "$(dirname "$node_bin")")" /usr /usr/local; do
  if [[ -f "$d/include/node/node_api.h" ]]; then nodedir="$d"; break; fi
done
[[ -n $nodedir ]] || die "Node headers not found (no include/node/node_api.h under $(dirname "$(dirname "$node_bin")"), /usr or /usr/local; set FBC_NODEDIR)"

# --- node-gyp bundled with npm -------------------------------------------------------------------
node_gyp=""
candidates=(${FBC_NODE_GYP:-})
if command -v npm >/dev/null; then
  npm_cli="$(readlink -f "$(command -v npm)")" # .../node_modules/npm/bin/npm-cli.js
  candidates+=("$(dirname "$(dirname "$npm_cli")")/node_modules/node-gyp/bin/node-gyp.js")
fi
candidates+=(
  "$(dirname "$(dirname "$node_bin")")/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
  /usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js
  /usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js
  "$ROOT/node_modules/node-gyp/bin/node-gyp.js"
)
for c in "${candidates[@]}"; do
  if [[ -f $c ]]; then node_gyp="$c"; break; fi
done
[[ -n $node_gyp ]] || die "node-gyp not found (looked inside npm's own node_modules; set FBC_NODE_GYP)"

# --- OpenBLAS: a cblas.h that declares openblas_get_config, and libopenblas.so --------------------
has_openblas_header() { [[ -f "$1/cblas.h" ]] && grep -q openblas_get_config "$1/cblas.h"; }
ob_inc="${FBC_OPENBLAS_INCLUDE:-}"
ob_lib="${FBC_OPENBLAS_LIBDIR:-}"
if [[ -z $ob_inc || -z $ob_lib ]] && command -v pkg-config >/dev/null && pkg-config --exists openblas 2>/dev/null; then
  pc_inc="$(pkg-config --cflags-only-I openblas | sed -e 's/^ *-I//' -e 's/ .*//' -e 's:/$::')"
  pc_lib="$(pkg-config --libs-only-L openblas | sed -e 's/^ *-L//' -e 's/ .*//' -e 's:/$::')"
  [[ -n $ob_inc ]] || ob_inc="$pc_inc"
  [[ -n $ob_lib ]] || ob_lib="$pc_lib"
fi
multiarch="$(cc -print-multiarch 2>/dev/null || true)"
if [[ -z $ob_inc ]] || ! has_openblas_header "$ob_inc"; then
  ob_inc=""
  for d in /usr/include/"$multiarch"/openblas-pthread /usr/include/"$multiarch"/openblas-openmp \
    /usr/include/"$multiarch"/openblas-serial /usr/include/openblas /usr/local/include /usr/include; do
    if has_openblas_header "$d"; then ob_inc="$d"; break; fi
  done
fi
if [[ -z $ob_lib || ! -e $ob_lib/libopenblas.so ]]; then
  ob_lib=""
  for d in /usr/lib/"$multiarch"/openblas-pthread /usr/lib/"$multiarch"/openblas-openmp \
    /usr/lib/"$multiarch"/openblas-serial /usr/lib/"$multiarch" /usr/lib64 /usr/local/lib /usr/lib; do
    if [[ -e $d/libopenblas.so ]]; then ob_lib="$d"; break; fi
  done
fi
[[ -n $ob_inc ]] || die "OpenBLAS's cblas.h not found (Debian: apt-get install libopenblas-dev; or set FBC_OPENBLAS_INCLUDE)"
[[ -n $ob_lib ]] || die "libopenblas.so not found (Debian: apt-get install libopenblas-dev; or set FBC_OPENBLAS_LIBDIR)"

# --- Up to date? ----------------------------------------------------------------------------------
config="node=$(node -p process.versions.node) nodedir=$nodedir openblas_include=$ob_inc openblas_libdir=$ob_lib"
if [[ $force == 0 && -f $OUT && -f $STAMP && "$(cat "$STAMP")" == "$config" &&
  -z "$(find "$NATIVE" -maxdepth 1 \( -name "*.c" -o -name "*.h" -o -name binding.gyp \) -newer "$OUT")" ]]; then
  say "up to date: $OUT"
else
  say "node-gyp:  $node_gyp"
  say "nodedir:   $nodedir"
  say "OpenBLAS:  headers $ob_inc, library $ob_lib"
  rm -f "$STAMP"
  (
    cd "$NATIVE"
    GYP_DEFINES="openblas_include=$ob_inc openblas_libdir=$ob_lib" \
      node "$node_gyp" rebuild --nodedir="$nodedir" --loglevel=warn
  ) || die "node-gyp failed (output above)"
  [[ -f $OUT ]] || die "node-gyp finished but $OUT is missing"
  echo "$config" >"$STAMP"
  say "built $OUT"
fi

# --- Smoke test: load it and multiply a 2x2 ------------------------------------------------------
node -e '
  const a = require(process.argv[1]);
  const x = new Float64Array([1, 2, 3, 4]), c = new Float64Array(4);
  a.dgemm(false, false, 2, 2, 2, 1, x, 2, x, 2, 0, c, 2);
  if (c.join() !== "7,10,15,22") throw new Error("dgemm smoke test gave " + c.join());
  const i = a.info();
  console.log(`build-native: loads: ${i.config} (core ${i.corename}, ${i.threads} threads, ${i.parallel})`);
' "$OUT" || die "the addon was built but does not load or compute correctly"

# --- The bench's floor program (bench/floors.c): plain C against the same OpenBLAS ----------------
FLOORS="$NATIVE/build/fbc_floors"
if [[ -f $ROOT/bench/floors.c ]] && { [[ ! -x $FLOORS ]] || [[ $ROOT/bench/floors.c -nt $FLOORS ]] || [[ $force == 1 ]]; }; then
  if cc -O3 -march=native -I"$ob_inc" "$ROOT/bench/floors.c" -L"$ob_lib" -Wl,-rpath,"$ob_lib" -lopenblas -o "$FLOORS"; then
    say "built $FLOORS (npm run bench's floors)"
  else
    echo "build-native: WARNING: bench/floors.c did not compile; npm run bench will print no floors" >&2
  fi
fi
