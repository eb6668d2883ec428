#!/usr/bin/env bash
# The vLLM backend tests, in .venv-vllm (scripts/setup_vllm.sh): the engine itself, then every strategy
# through `ponder infer --backend vllm`; about 7 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export WANDB_MODE="${WANDB_MODE:-offline}" TOKENIZERS_PARALLELISM=false
.venv-vllm/bin/python -m pytest -q -p no:cacheprovider tests/test_vllm_backend.py
