"""Runs the vLLM backend in its own process (vLLM spawns workers, so it needs a __main__ guard)
and prints its generations as JSON for tests/test_vllm_backend.py."""

import json
import sys
from dataclasses import asdict

if __name__ == "__main__":
    from ponder.infer.backends.base import Sampling
    from ponder.infer.backends.vllm import VLLMBackend

    model, prompts = sys.argv[1], json.loads(sys.argv[2])
    backend = VLLMBackend(model, dtype="float32", max_model_len=512, enforce_eager=True)
    runs = {
        "greedy": backend.generate(prompts, 1, Sampling(temperature=0.0, max_tokens=100)),
        "sampled": backend.generate(prompts, 4, Sampling(temperature=1.0, max_tokens=100, seed=3)),
        "sampled_again": backend.generate(prompts, 4, Sampling(temperature=1.0, max_tokens=100, seed=3)),
        "steps": backend.generate(
            prompts, 2, Sampling(temperature=1.0, max_tokens=100, seed=5, stop=["\n\n"])
        ),
        "short": backend.generate(prompts, 1, Sampling(temperature=0.0, max_tokens=3)),
    }
    out = {name: [[asdict(g) for g in group] for group in groups] for name, groups in runs.items()}
    print("RESULT " + json.dumps({**out, "num_parameters": backend.num_parameters}))
