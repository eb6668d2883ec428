#!/usr/bin/env bash
# The test suite (about 10 minutes on 2 cores). Benchmarks under tests/benchmarks/ are run by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
export WANDB_MODE="${WANDB_MODE:-offline}" TOKENIZERS_PARALLELISM=false
# lint and format first: they take a second and fail fast (configured in pyproject.toml)
ruff check .
ruff format --check .
python -m pytest -q -p no:cacheprovider tests
