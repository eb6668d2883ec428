"""`ponder merge`: join the results folders of sharded `ponder infer` runs into one folder."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ponder.config import ConfigError, parse_config


@dataclass
class MergeArguments:
    inputs: list[str] = field(default_factory=list, metadata={"help": "Results folders of the shards."})
    output_dir: str = field(
        default="outputs/infer", metadata={"help": "Folder for the merged results.jsonl."}
    )

    def __post_init__(self):
        if not self.inputs:
            raise ConfigError("inputs: give the shards' results folders")
        missing = [p for p in self.inputs if not (Path(p) / "results.jsonl").is_file()]
        if missing:
            raise ConfigError(f"inputs: no results.jsonl in {missing[0]}")


def merge(inputs: list[str], output_dir: str) -> Path:
    """Concatenate shards, refusing shards of different configurations or overlapping rows."""
    hashes = {json.loads((Path(p) / "config.json").read_text())["config_hash"] for p in inputs}
    if len(hashes) > 1:
        raise ConfigError(f"inputs: shards come from different configurations ({sorted(hashes)})")
    seen, lines = set(), []
    for folder in inputs:
        for line in (Path(folder) / "results.jsonl").read_text().splitlines():
            row = json.loads(line)
            key = (row["problem_id"], row["strategy"], row["n"])
            if key in seen:
                raise ConfigError(f"inputs: {key} appears in more than one shard")
            seen.add(key)
            lines.append(line)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = json.loads((Path(inputs[0]) / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, "shard": "0/1", "merged_from": inputs}, indent=2))
    (out / "results.jsonl").write_text("".join(line + "\n" for line in lines))
    return out / "results.jsonl"


def run(args: MergeArguments) -> Path:
    """Merge the shards' folders into `args.output_dir`; the merged results file."""
    path = merge(args.inputs, args.output_dir)
    print(f"merged {len(args.inputs)} shards into {path}")
    return path


def main(argv: list[str] | None = None) -> Path:
    return run(*parse_config((MergeArguments,), argv, prog="ponder merge", description=__doc__))


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder merge", main)
