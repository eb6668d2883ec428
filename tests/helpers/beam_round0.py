"""Round 0 of beam search through the real engine, recorded: the N first-step candidates that each
problem's N identical round-0 prompts produced, before the PRM prunes any.

Run by tests/benchmarks/real_model.py with the python of the backend's venv (vLLM spawns workers,
hence the `__main__` guard). Beam search with `max_steps` 1 is exactly its round 0: the round's
prompts and sampling do not depend on how many rounds follow. Argument: one JSON object with
backend, model, prm_model, source (SourceArguments fields), n, beam_width, seed, temperature,
max_step_tokens, system_prompt. Prints `RESULT {"first_steps": [[text, ...] per problem]}`.
"""

import json
import sys

if __name__ == "__main__":
    from ponder.data.sources import SourceArguments
    from ponder.infer.prm import load_prm
    from ponder.infer.strategies import STRATEGIES, SearchContext

    config = json.loads(sys.argv[1])
    if config["backend"] == "vllm":
        from ponder.infer.backends.vllm import VLLMBackend

        backend = VLLMBackend(config["model"], dtype="float32", max_model_len=4096, enforce_eager=True)
    else:
        from ponder.infer.backends.hf import HFBackend

        backend = HFBackend(config["model"])

    class Recording:
        """The backend, keeping the texts of every call."""

        def __init__(self, inner):
            self.inner, self.calls = inner, []
            self.num_parameters, self.tokenizer = inner.num_parameters, inner.tokenizer

        def generate(self, prompts, n, sampling):
            generations = self.inner.generate(prompts, n, sampling)
            self.calls.append([g.text for group in generations for g in group])
            return generations

    recording = Recording(backend)
    ctx = SearchContext(
        backend=recording,
        prm=load_prm("token-cls", config["prm_model"], device="cpu"),
        tokenizer=backend.tokenizer,
        system_prompt=config["system_prompt"],
        temperature=config["temperature"],
        max_step_tokens=config["max_step_tokens"],
        max_steps=1,
        seed=config["seed"],
    )
    problems = SourceArguments(**config["source"]).load()
    n = config["n"]
    STRATEGIES["beam_search"].run(problems, n, ctx, beam_width=config["beam_width"])
    round0 = recording.calls[0]  # N prompts per problem, problem by problem
    first_steps = [round0[i * n : (i + 1) * n] for i in range(len(problems))]
    print("RESULT " + json.dumps({"first_steps": first_steps}))
