#!/usr/bin/env bash
# One-command set-up (`npm run setup`) for a fresh Debian 12 + Node 20 machine and for CI.
# Idempotent: installed apt packages are skipped and `npm ci` only reruns when package-lock.json changed.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO="$(pwd)"

# jupyter-notebook: the classic Notebook 6.4 front end (`npm run notebook`; JupyterLab is not in Debian 12).
# chromium: the browser the tests drive through puppeteer-core (live notebook, exported reports).
APT_PACKAGES=(jupyter-core jupyter-nbconvert jupyter-client jupyter-notebook chromium libopenblas-dev python3-numpy)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run as root, or install them first: apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages present: ${APT_PACKAGES[*]}"
fi

# npm ci wipes node_modules; skip it when the lockfile is the one installed last time.
stamp=node_modules/.setup-lock.sha256
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ -f $stamp && "$(cat "$stamp")" == "$lock_sum" ]]; then
  echo "setup: node_modules matches package-lock.json, skipping npm ci"
else
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
  echo "$lock_sum" >"$stamp"
fi

if [[ -f scripts/build-native.sh ]]; then
  echo "setup: building the optional OpenBLAS addon (scripts/build-native.sh)"
  bash scripts/build-native.sh ||
    echo "setup: WARNING: native addon build failed; the lib falls back to pure TypeScript kernels" >&2
fi

# Project-local tslab kernel (argv as written by `tslab install`, with an absolute binary path).
# Jupyter finds it through JUPYTER_PATH=$REPO/.jupyter (scripts/run_notebooks.py and scripts/notebook.sh set it).
kernel_dir=.jupyter/kernels/tslab
mkdir -p "$kernel_dir"
TSLAB_BIN="$REPO/node_modules/.bin/tslab" node -e '
  const spec = {
    argv: [process.env.TSLAB_BIN, "kernel", "--config-path", "{connection_file}"],
    display_name: "TypeScript (tslab)",
    language: "typescript",
  };
  require("fs").writeFileSync(process.argv[1], JSON.stringify(spec, null, 2) + "\n");
' "$kernel_dir/kernel.json"
echo "setup: wrote $kernel_dir/kernel.json (use JUPYTER_PATH=$REPO/.jupyter)"

echo "setup: npm run build"
npm run build
echo "setup: done; \`npm run notebook\` starts Jupyter Notebook on notebooks/"
