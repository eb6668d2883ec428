"""`qwen2.5-math-prm`: Qwen/Qwen2.5-Math-PRM-7B.

Its model card's convention: a chat of system "Please reason step by step, and put your final
answer within \\boxed{}.", user the question, and assistant the steps joined by `<extra_0>` with
one more after the last, rendered by the chat template and encoded; the model (custom code,
loaded with `AutoModel`) returns two logits per token, and a step's score is softmax(...)[1]
at its `<extra_0>`. Any model whose output is [batch, length, 2] logits works here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ponder.errors import ConfigError

from .base import register
from .model import ModelPRM, output_logits, token_id

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
STEP_TOKEN = "<extra_0>"


@register("qwen2.5-math-prm")
class QwenMathPRM(ModelPRM):
    auto_class = "AutoModel"

    def __init__(
        self,
        model: str | PreTrainedModel,
        *,
        trust_remote_code: bool = False,
        tokenizer=None,
        batch_size: int = 4,
        dtype: str = "bfloat16",
        device: str | None = None,
    ):
        if isinstance(model, str) and not trust_remote_code:
            # Loading the published model runs code from its repository: the user must opt in.
            raise ConfigError(
                "trust_remote_code: Qwen2.5-Math-PRM runs code from its model repository; "
                "pass trust_remote_code=True (--trust_remote_code true) to allow it"
            )
        super().__init__(
            model,
            trust_remote_code=trust_remote_code,
            tokenizer=tokenizer,
            batch_size=batch_size,
            dtype=dtype,
            device=device,
        )
        self.step_id = token_id(self.tokenizer, STEP_TOKEN, "step separator")

    def build_input(self, question: str, steps: list[str]) -> tuple[list[int], list[int]]:
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": question},
            {"role": "assistant", "content": STEP_TOKEN.join(steps) + STEP_TOKEN},
        ]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        ids = self.tokenizer.encode(text, add_special_tokens=False)  # the template writes any bos itself
        positions = [i for i, token in enumerate(ids) if token == self.step_id]
        if len(positions) != len(steps):
            raise ConfigError(
                f"qwen2.5-math-prm: {len(positions)} '{STEP_TOKEN}' tokens for {len(steps)} steps; "
                "the question or a step contains it"
            )
        return ids, positions

    def token_scores(self, output, input_ids: torch.Tensor) -> torch.Tensor:
        return output_logits(output).float().softmax(-1)[..., 1]
