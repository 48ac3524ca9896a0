#!/usr/bin/env bash
# Create ./.venv with mmdr and its test dependencies.
#
# torch is installed first and pinned: an unpinned torch may pull a
# multi-GB CUDA build. On a GPU machine, install your CUDA build of the same
# torch release into the venv first; this script then keeps it.
#   PYTHON=python3.11 bash tools/setup_env.sh    # choose the interpreter
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade 'pip>=23.2'
if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
  "$VENV/bin/python" -m pip install --quiet 'torch==2.13.0'
fi
"$VENV/bin/python" -m pip install --quiet -e '.[tests]'
"$VENV/bin/python" -c 'import mmdr, mmaction.models, torch; print(f"mmdr {mmdr.__version__} ready in '"$VENV"' (torch {torch.__version__})")'
