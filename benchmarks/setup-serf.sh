#!/usr/bin/env bash
# Installs the comparison systems of the benchmark (not needed by zgossip itself):
#   serf        HashiCorp's gossip agent, from Debian's package (needs root and apt-get);
#   zeromq-pyre the Python port of Zyre, from PyPI, into the venv next to this repo.
# Either one missing only turns its row of the benchmark table into "n/a (reason)".
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v serf >/dev/null 2>&1; then
    echo "serf: already installed ($(serf version | head -n 1))"
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends serf >/dev/null
    # The package enables a system agent; the benchmark starts its own agents on loopback.
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now serf >/dev/null 2>&1 || true; fi
    echo "serf: installed ($(serf version | head -n 1))"
else
    echo "serf: not installed (needs root and apt-get: apt-get install serf)" >&2
fi

PIP="${PYTHON:-.venv/bin/python}"
if "$PIP" -c 'import pyre' >/dev/null 2>&1; then
    echo "zeromq-pyre: already installed"
else
    "$PIP" -m pip install --quiet zeromq-pyre && echo "zeromq-pyre: installed"
fi
