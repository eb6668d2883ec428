#!/usr/bin/env bash
# The device check: on one GPU, train configs/train/policy_large.yaml, search ArithWorld with every
# strategy on the transformers (hf) backend at N = 16 with the oracle PRM, and print one JSON line
# (scripts/device_check.py says what is in it). Meant to take at most 8 minutes on one H100/H200.
#
# It needs this checkout and a Python with torch, transformers, accelerate and peft; ponder runs from
# the checkout without being installed (scripts/ponder_path.sh). ponder also needs trl, datasets and
# math-verify. A machine without them and without network gets them as wheels, fetched elsewhere
# for its Python version (3.X below) and put in a folder inside the checkout:
#
#   pip download --no-deps --only-binary=:all: --python-version 3.X --platform manylinux_2_28_x86_64 \
#       -d wheels trl datasets pyarrow pandas python-dateutil six dill multiprocess xxhash \
#       math-verify latex2sympy2_extended antlr4-python3-runtime==4.13.2
#   PONDER_WHEELS=wheels bash scripts/device_check.sh
#
# With PONDER_WHEELS set, `pip install --no-index --find-links $PONDER_WHEELS trl datasets math-verify`
# runs first (what is installed already is kept). A module still missing stops the check with one
# line naming it. PYTHON picks the interpreter (default python3). Options go to device_check.py,
# e.g. a quicker look: bash scripts/device_check.sh --max_steps 500 --per_level 2
# stdout is the JSON line alone; everything else goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
export WANDB_MODE="${WANDB_MODE:-offline}" TOKENIZERS_PARALLELISM=false

if [[ -n "${PONDER_WHEELS:-}" ]]; then
  "$PYTHON" -m pip install -q --no-index --find-links "$PONDER_WHEELS" trl datasets math-verify >&2
fi

missing=$("$PYTHON" - <<'EOF'
import importlib.util

modules = ["torch", "transformers", "accelerate", "peft", "trl", "datasets", "math_verify", "yaml", "tqdm"]
print(" ".join(m for m in modules if importlib.util.find_spec(m) is None))
EOF
)
if [[ -n "$missing" ]]; then
  echo "device_check: $PYTHON lacks: $missing (bring wheels and set PONDER_WHEELS; see the top of $0)" >&2
  exit 1
fi

source scripts/ponder_path.sh
"$PYTHON" scripts/device_check.py "$@"
