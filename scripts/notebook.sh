#!/usr/bin/env bash
# `npm run notebook`: Debian's classic Jupyter Notebook (6.4) on 127.0.0.1 with the project-local tslab
# kernel (.jupyter/kernels/tslab, written by `npm run setup`), opened on notebooks/.
#
#   npm run notebook [-- --port N] [--token TOKEN] [--notebook-dir DIR] [-- EXTRA JUPYTER OPTIONS]
#
# Without --port it takes 8888 or the next free port; without --token it makes a fresh random one. It
# prints the URL with its token. Ctrl-C (or SIGTERM) stops the server, which shuts its kernels down.
# FBC_MODE=quick npm run notebook runs the notebooks' quick versions of the slow parts.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO="$(pwd)"

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "notebook: $*" >&2; exit 2; }

port=""
token=""
dir="$REPO/notebooks"
extra=()
while (($#)); do
  case "$1" in
    --port) (($# >= 2)) || die "--port needs a value"; port="$2"; shift 2 ;;
    --port=*) port="${1#*=}"; shift ;;
    --token) (($# >= 2)) || die "--token needs a value"; token="$2"; shift 2 ;;
    --token=*) token="${1#*=}"; shift ;;
    --notebook-dir) (($# >= 2)) || die "--notebook-dir needs a value"; dir="$2"; shift 2 ;;
    --notebook-dir=*) dir="${1#*=}"; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; extra+=("$@"); break ;;
    *) die "unknown option '$1' (try --help)" ;;
  esac
done

[[ -z $port || $port =~ ^[0-9]+$ && $port -ge 1 && $port -le 65535 ]] || die "--port must be a port number, got '$port'"
[[ -z $token || $token =~ ^[A-Za-z0-9_-]+$ ]] || die "--token may hold only letters, digits, '-' and '_'"
[[ -d $dir ]] || die "no such folder: $dir"
dir="$(cd "$dir" && pwd)"

command -v jupyter-notebook >/dev/null 2>&1 ||
  die "jupyter-notebook is not installed; run \`npm run setup\` (it installs Debian's jupyter-notebook)"
[[ -f $REPO/.jupyter/kernels/tslab/kernel.json ]] ||
  die "no project-local tslab kernel in .jupyter/; run \`npm run setup\`"
[[ -f $REPO/lib/dist/index.js ]] ||
  die "the lib is not built (notebooks import it as \`fbcontrol\` from lib/dist); run \`npm run build\`"

if [[ -z $port ]]; then
  # 8888 if free, else the next free one up to 8937, else any free port the system hands out.
  port="$(/usr/bin/python3 -c '
import socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return s.getsockname()[1]
    except OSError:
        return None
    finally:
        s.close()
print(next((p for p in range(8888, 8938) if free(p)), None) or free(0))
')"
fi
[[ -n $token ]] || token="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"

args=(--no-browser --ip=127.0.0.1 --port="$port" --port-retries=0 --notebook-dir="$dir"
  --NotebookApp.token="$token" --NotebookApp.answer_yes=True)
[[ $(id -u) -ne 0 ]] || args+=(--allow-root)

export JUPYTER_PATH="$REPO/.jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
echo "notebook: serving $dir with the tslab kernel (FBC_MODE=${FBC_MODE:-full})"
echo "notebook: open http://127.0.0.1:$port/tree?token=$token"
echo "notebook: Ctrl-C stops the server and its kernels"
# exec: the server itself receives Ctrl-C / SIGTERM and shuts its kernels down before it exits.
exec jupyter-notebook "${args[@]}" ${extra[@]+"${extra[@]}"}
