#!/usr/bin/env bash
# Run every benchmark (benchmarks/run.py) on this machine, after installing what it
# compares against when missing: Prism 5.14.2 and Mockoon CLI 9.9.0 from
# benchmarks/package-lock.json (npm ci) and wrk (Debian package; only as root, else the Python load generator
# is used). Arguments go to run.py: --json, --duration, --jobs, ...
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
python="${PYTHON:-$root/.venv/bin/python}"
if [ ! -x "$python" ]; then
  echo "no $python: make the venv first (python3 -m venv .venv && .venv/bin/pip install -e .)" >&2
  exit 1
fi
if [ ! -x "$here/node_modules/.bin/prism" ] || [ ! -x "$here/node_modules/.bin/mockoon-cli" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "[bench] installing Prism and Mockoon CLI into benchmarks/node_modules (npm ci)" >&2
    npm ci --prefix "$here" --no-audit --no-fund --loglevel=error >&2
  else
    echo "[bench] npm not found: Prism and Mockoon are skipped" >&2
  fi
fi
if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[bench] installing wrk (apt-get)" >&2
    { apt-get install -y wrk || { apt-get update -qq && apt-get install -y wrk; }; } >/dev/null 2>&1 ||
      echo "[bench] wrk could not be installed: the Python load generator is used" >&2
  else
    echo "[bench] wrk not found (apt-get install wrk): the Python load generator is used" >&2
  fi
fi
exec "$python" "$here/run.py" "$@"
