#!/usr/bin/env bash
# Screenshot an exported report in headless Chromium (offline) to check that its figures render.
#   scripts/check_report.sh REPORT.html OUT.png
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 REPORT.html OUT.png" >&2
  exit 2
fi
report="$(realpath "$1")"
out="$(realpath -m "$2")"
[[ -f $report ]] || { echo "check_report: no such file: $1" >&2; exit 2; }

chromium_bin="$(command -v chromium || command -v chromium-browser || true)"
if [[ -z $chromium_bin ]]; then
  echo "check_report: chromium not found; install it with: apt-get install -y --no-install-recommends chromium" >&2
  exit 1
fi

profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT

# --virtual-time-budget lets scripts (plotly.js) finish before the screenshot is taken.
timeout 180 "$chromium_bin" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --no-first-run --disable-sync --user-data-dir="$profile" \
  --hide-scrollbars --window-size=1200,3000 --virtual-time-budget=20000 \
  --screenshot="$out" "file://$report" 2>"$profile/chromium.log" || {
  cat "$profile/chromium.log" >&2
  echo "check_report: chromium failed" >&2
  exit 1
}
[[ -s $out ]] || { cat "$profile/chromium.log" >&2; echo "check_report: no screenshot written" >&2; exit 1; }
echo "check_report: wrote $out"
