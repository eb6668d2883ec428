#!/usr/bin/env bash
# The vLLM backend tests, in .venv-vllm (scripts/setup_vllm.sh); about 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export WANDB_MODE="${WANDB_MODE:-offline}" TOKENIZERS_PARALLELISM=false
.venv-vllm/bin/python -m pytest -q -p no:cacheprovider tests/test_vllm_backend.py
