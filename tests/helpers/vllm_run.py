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
    out["num_parameters"] = backend.num_parameters
    if len(sys.argv) > 3:  # beam search through the real engine on these problems, twice
        from ponder.data.sources import SourceArguments
        from ponder.infer.prm import load_prm
        from ponder.infer.strategies import STRATEGIES, SearchContext

        class Recording:
            """The backend, keeping the texts of every call so round 0's first steps can be read."""

            def __init__(self, inner):
                self.inner, self.calls = inner, []
                self.num_parameters, self.tokenizer = inner.num_parameters, inner.tokenizer

            def generate(self, prompts, n, sampling):
                generations = self.inner.generate(prompts, n, sampling)
                self.calls.append([[g.text for g in group] for group in generations])
                return generations

        problems = SourceArguments(**json.loads(sys.argv[3])).load()
        for name in ("beam", "beam_again"):
            recording = Recording(backend)
            ctx = SearchContext(
                backend=recording, prm=load_prm("oracle", "arithworld"), tokenizer=backend.tokenizer, seed=1
            )
            rows = STRATEGIES["beam_search"].run(problems, 8, ctx, beam_width=4)
            out[name] = [{"answer": r.answer, "correct": r.correct} for r in rows]
            out[name + "_round0"] = recording.calls[0]  # 8 identical prompts per problem, in order
    print("RESULT " + json.dumps(out))
