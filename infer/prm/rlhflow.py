"""`rlhflow`: RLHFlow/Llama3.1-8B-PRM-Deepseek-Data and -Mistral-Data.

Their convention (RLHF-Reward-Modeling math/README.md, "Process Reward Evaluation"; the same in
search-and-learn's `RLHFFlow` scorer): the solution is a chat whose first user turn is the
question, a space and the first step, each later step is its own user turn, and the assistant
answers every step with "+" (correct) or "-". A step's score is P("+") / (P("+") + P("-")) in
the next-token distribution where the assistant's answer to it begins. With "+" written in
every assistant turn, one forward pass scores all steps of a candidate (search-and-learn's
batched path).
"""

from __future__ import annotations

from ponder.errors import ConfigError

from .base import register
from .model import ModelPRM


@register("rlhflow")
class RLHFlowPRM(ModelPRM):
    verdict = ("+", "-")

    def build_input(self, question: str, steps: list[str]) -> tuple[list[int], list[int]]:
        messages = []
        for k, step in enumerate(steps):
            messages.append({"role": "user", "content": f"{question} {step}" if k == 0 else step})
            messages.append({"role": "assistant", "content": self.verdict[0]})
        ids = self._chat_ids(messages, add_generation_prompt=False)
        positions = []
        for k in range(len(steps)):
            # The prompt that ends where the assistant answers step k; its last token predicts it.
            prompt = self._chat_ids(messages[: 2 * k + 1], add_generation_prompt=True)
            if ids[: len(prompt) + 1] != prompt + self.candidates[:1]:
                raise ConfigError(
                    "rlhflow: the tokenizer's chat template does not put the assistant's '+' "
                    "right after its generation prompt"
                )
            positions.append(len(prompt) - 1)
        return ids, positions

    def _chat_ids(self, messages: list[dict], add_generation_prompt: bool) -> list[int]:
        return list(
            self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=add_generation_prompt, return_dict=False
            )
        )
