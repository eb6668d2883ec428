"""Benchmark: a PRM learned from ponder's own Monte-Carlo labels, against the exact checker.

The default ArithWorld recipe, end to end with the shipped policy:
  1. `ponder data prm-labels` with configs/data/prm_labels.yaml (training problems, seed 2);
  2. `ponder train prm` with configs/train/prm.yaml, timed (target: at most 10 minutes on 2 cores);
  3. `ponder eval prm`: step AUROC against the oracle checker on held-out problems (seed 1;
     target >= 0.90);
  4. `ponder infer` with weighted best-of-N at N=16 on held-out problems, once with the learned
     PRM and once with the oracle PRM, on the same samples (same seed): the gap in accuracy
     points (target <= 5).
Last line: one JSON object with keys `auroc`, `gap_points`, `train_s` (and the details).

    python tests/benchmarks/prm_quality.py [--work_dir DIR] [--per_level 100] [--label_per_level 300]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from ponder.config import from_yaml, recipe
from ponder.data.results import read_results
from ponder.infer.eval_prm import EvalPRMArguments
from ponder.infer.eval_prm import run as eval_prm
from ponder.infer.run import InferArguments
from ponder.infer.run import run as infer
from ponder.models import SHIPPED_POLICY, SHIPPED_VERIFIER
from ponder.train.prm import PRMArguments, PRMConfig
from ponder.train.prm import run as train_prm
from ponder.train.prm_labels import LabelArguments
from ponder.train.prm_labels import run as label


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return round(time.perf_counter() - start, 1)


def accuracy(results_dir: Path) -> dict:
    rows = read_results(results_dir / "results.jsonl")
    by_level = {}
    for row in rows:
        by_level.setdefault(row.level, []).append(row.correct)
    return {
        "all": 100 * sum(r.correct for r in rows) / len(rows),
        **{f"L{lv}": 100 * sum(v) / len(v) for lv, v in sorted(by_level.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--policy",
        default=str(SHIPPED_POLICY),
        help="ArithWorld policy folder: it writes the labelled and the searched solutions",
    )
    parser.add_argument(
        "--prm_base",
        default=str(SHIPPED_VERIFIER),
        help="causal-LM folder the PRM starts from (default: the shipped verifier LM, as in the recipe)",
    )
    parser.add_argument(
        "--work_dir", default=None, help="folder for labels, PRM and results (default: a temporary one)"
    )
    parser.add_argument(
        "--label_per_level", type=int, default=None, help="override the recipe's training problems per level"
    )
    parser.add_argument(
        "--per_level", type=int, default=100, help="held-out problems per level for AUROC and search"
    )
    parser.add_argument("--n", type=int, default=16, help="weighted best-of-N budget")
    args = parser.parse_args()
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="prm_quality_"))

    per_level = {"per_level": args.label_per_level} if args.label_per_level else {}
    label_s = timed(
        label,
        *from_yaml(
            (LabelArguments,),
            recipe("data", "prm_labels.yaml"),
            model_name_or_path=args.policy,
            output_dir=str(work / "labels"),
            **per_level,
        ),
    )
    train_s = timed(
        train_prm,
        *from_yaml(
            (PRMArguments, PRMConfig),
            recipe("train", "prm.yaml"),
            model_name_or_path=args.prm_base,
            dataset=str(work / "labels" / "labels.jsonl"),
            output_dir=str(work / "prm"),
            report_to="none",
        ),
    )
    table = eval_prm(
        EvalPRMArguments(
            prm="token-cls",
            prm_model=str(work / "prm"),
            model_name_or_path=args.policy,
            per_level=args.per_level,
            output=str(work / "eval_prm.json"),
        )
    )
    search = {}
    for name, prm, prm_model in (("learned", "token-cls", str(work / "prm")), ("oracle", "oracle", None)):
        infer(
            InferArguments(
                model_name_or_path=args.policy,
                prm=prm,
                prm_model=prm_model,
                strategies=["weighted_best_of_n"],
                budgets=[args.n],
                per_level=args.per_level,
                output_dir=str(work / f"search_{name}"),
            )
        )
        search[name] = accuracy(work / f"search_{name}")
    overall = table[-1]
    print(
        json.dumps(
            {
                "auroc": round(overall.auroc, 4),
                "gap_points": round(search["oracle"]["all"] - search["learned"]["all"], 1),
                "train_s": train_s,
                "label_s": label_s,
                "wbon_learned": search["learned"],
                "wbon_oracle": search["oracle"],
                "auroc_by_level": {s.group: s.auroc for s in table[:-1]},
                "processbench_f1": overall.f1,
                "n": args.n,
                "per_level": args.per_level,
                "work_dir": str(work),
            }
        )
    )


if __name__ == "__main__":
    main()
