"""ModelArguments: one model option set for every command, and where inference puts the model."""

from __future__ import annotations

import pytest
import torch

from ponder.config import ConfigError, parse_config
from ponder.infer.backends.base import Sampling
from ponder.infer.backends.hf import HFBackend
from ponder.models import SHIPPED_POLICY, ModelArguments


def test_auto_device_and_dtype_follow_the_machine():
    args = ModelArguments(model_name_or_path=str(SHIPPED_POLICY))
    gpu = torch.cuda.is_available()
    assert args.resolved_device() == ("cuda" if gpu else "cpu")
    assert args.resolved_dtype() == ("bfloat16" if gpu else "float32")
    assert args.torch_dtype(for_training=True) == torch.float32  # trainers keep float32 weights
    assert ModelArguments(device="cpu", dtype="bfloat16").torch_dtype() == torch.bfloat16


@pytest.mark.parametrize(
    "argv, key",
    [(["--device", "gpu"], "device"), (["--dtype", "fp8"], "dtype"), (["--lora_r", "0"], "lora_r")],
)
def test_bad_model_options_name_the_key(argv, key):
    with pytest.raises(ConfigError, match=key):
        parse_config((ModelArguments,), argv)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error a CPU-only machine gives")
def test_asking_for_a_gpu_without_one_is_a_user_error():
    with pytest.raises(ConfigError, match="no GPU"):
        ModelArguments(device="cuda")


def test_the_transformers_backend_runs_on_the_device_it_is_given():
    backend = HFBackend(str(SHIPPED_POLICY), device="cpu")
    assert backend.model.device.type == "cpu"
    prompt = backend.tokenizer.apply_chat_template(
        [{"role": "user", "content": "3 +4"}], tokenize=False, add_generation_prompt=True
    )
    (greedy,) = backend.generate([prompt], 1, Sampling(temperature=0.0, max_tokens=40))
    assert greedy[0].text.endswith("\\boxed{7}") and greedy[0].finish_reason == "eos"


def test_a_character_tokenizer_encodes_step_prompts_unchanged():
    """`encode_prompt` re-tokenizes a trailing separator only where a BPE merges it differently."""
    from ponder.infer.backends.base import encode_prompt
    from ponder.infer.prompts import build_prompt

    tokenizer = HFBackend(str(SHIPPED_POLICY)).tokenizer
    for partial in ("", "1+2=3\n\n", "1+2=3\n\n3*4=12\n\n"):
        prompt = build_prompt(tokenizer, "1 +2 *4", None, partial)
        assert encode_prompt(tokenizer, prompt) == tokenizer(prompt, add_special_tokens=False)["input_ids"]


def test_backend_options_carry_the_dtype_each_backend_takes():
    """hf always gets a resolved dtype; vLLM keeps the checkpoint's unless --dtype names one."""
    from ponder.infer.backends import model_options

    auto = ModelArguments(model_name_or_path=str(SHIPPED_POLICY), device="cpu")
    assert model_options("hf", auto)["dtype"] == "float32" and "dtype" not in model_options("vllm", auto)
    chosen = ModelArguments(model_name_or_path=str(SHIPPED_POLICY), device="cpu", dtype="bfloat16")
    assert model_options("vllm", chosen)["dtype"] == "bfloat16" == model_options("hf", chosen)["dtype"]
