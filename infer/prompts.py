"""Prompts go through the tokenizer's chat template, exactly as for a real chat model."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def build_prompt(
    tokenizer: PreTrainedTokenizerBase, question: str, system_prompt: str | None = None, partial: str = ""
) -> str:
    """The chat-formatted question with the assistant turn opened, then `partial` (a solution
    prefix that step-wise search continues inside the same assistant message)."""
    messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
        {"role": "user", "content": question}
    ]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) + partial


def build_revision_prompt(
    tokenizer: PreTrainedTokenizerBase,
    question: str,
    attempts: list[str],
    system_prompt: str | None = None,
    instruction: str | None = None,
) -> str:
    """The chat prompt of a revision model's next attempt: the question, its earlier attempts each
    followed by the revision instruction, and an opened assistant turn (`ponder.data.revisions`)."""
    from ponder.data.revisions import REVISION_INSTRUCTION, revision_messages

    messages = revision_messages(question, attempts, instruction or REVISION_INSTRUCTION, system_prompt)
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
