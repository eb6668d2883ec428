"""`ponder quickstart`: the main job, end to end on ArithWorld.

Today's loop: take a policy (the checkpoint shipped with ponder, or one trained afresh with
`--train_policy true`), then report greedy accuracy and pass@k per level on held-out problems.
pass@k far above greedy on the hard levels is the room that PRM-guided search will use.
"""

from __future__ import annotations

import json
import sys
import time
from importlib import resources
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ponder.config import load_yaml, parse_config

SHIPPED_POLICY = Path(__file__).parent / "checkpoints" / "arithworld-policy"


def policy_recipe() -> Path:
    """The default policy recipe; configs/ installs as the package ponder.configs."""
    return Path(str(resources.files("ponder.configs") / "train" / "policy.yaml"))


@dataclass
class QuickstartArguments:
    output_dir: str = field(default="outputs/quickstart", metadata={"help": "Folder for everything the quickstart writes."})
    train_policy: bool = field(default=False, metadata={"help": "Train a policy afresh with the default recipe instead of using the shipped checkpoint."})
    policy: str | None = field(default=None, metadata={"help": "Use this policy folder instead (overrides train_policy)."})
    per_level: int = field(default=200, metadata={"help": "Held-out ArithWorld problems per level."})
    k: int = field(default=16, metadata={"help": "Samples per problem for pass@k."})


def run(args: QuickstartArguments) -> dict:
    from ponder.infer.eval_policy import EvalArguments, evaluate

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings = {}
    start = time.time()
    if args.policy:
        policy = args.policy
    elif args.train_policy or not (SHIPPED_POLICY / "config.json").is_file():
        from ponder.train.policy import main as train_main

        policy = str(out / "policy")
        print(f"[1/2] training a policy with {policy_recipe()} into {policy}")
        train_main(["--config", str(policy_recipe()), "--output_dir", policy, "--eval_k", "0"])
    else:
        policy = str(SHIPPED_POLICY)
        print(f"[1/2] using the shipped policy {policy} (recipe: {load_yaml(SHIPPED_POLICY / 'recipe.yaml').get('command')})")
    timings["policy_s"] = round(time.time() - start, 1)

    print(f"[2/2] greedy accuracy and pass@{args.k} per level, {args.per_level} held-out problems per level")
    start = time.time()
    levels = evaluate(
        EvalArguments(model=policy, per_level=args.per_level, k=args.k, output=str(out / "levels.json"))
    )
    timings["eval_s"] = round(time.time() - start, 1)
    summary = {"policy": policy, "levels": levels, **timings, "args": asdict(args)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {out / 'summary.json'}")
    return summary


def main(argv: list[str] | None = None) -> None:
    (args,) = parse_config((QuickstartArguments,), argv, prog="ponder quickstart", description=__doc__)
    run(args)


if __name__ == "__main__":
    main(sys.argv[1:])
