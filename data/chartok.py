"""A character-level tokenizer with a chat template, as a real `PreTrainedTokenizerFast`.

ArithWorld's policies are trained from scratch, so their tokenizer is built here rather than
downloaded: one token per printable ASCII character (plus newline and tab) and a few special
tokens for the chat roles. It saves and loads with `save_pretrained` / `AutoTokenizer` and
formats prompts through `apply_chat_template` like any hub model, so every code path that
serves a real model serves this one unchanged.
"""

from __future__ import annotations

import string

from tokenizers import Tokenizer, decoders, models
from transformers import PreTrainedTokenizerFast

PAD, BOS, UNK, EOS = "<pad>", "<s>", "<unk>", "<|end|>"
ROLE_TOKENS = {"system": "<|system|>", "user": "<|user|>", "assistant": "<|assistant|>"}

# Each message is its role token, its content and <|end|>; the generation prompt opens an
# assistant turn, so a partial solution appended to it continues that turn. The
# {% generation %} markers let TRL compute assistant-only losses on conversations.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "<|assistant|>{% generation %}{{ message['content'] }}<|end|>{% endgeneration %}"
    "{% else %}"
    "{{ '<|' + message['role'] + '|>' }}{{ message['content'] }}<|end|>"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)

CHARACTERS = [c for c in string.printable if c not in "\r\x0b\x0c"]


def build_char_tokenizer() -> PreTrainedTokenizerFast:
    specials = [PAD, BOS, UNK, EOS, *ROLE_TOKENS.values()]
    vocab = {token: i for i, token in enumerate(specials + CHARACTERS)}
    # BPE without merges splits text into single characters and maps unknown ones to <unk>.
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK))
    backend.add_special_tokens(specials)
    backend.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        pad_token=PAD,
        chat_template=CHAT_TEMPLATE,
        padding_side="left",  # generation batches are left-padded
        model_max_length=2048,
    )
