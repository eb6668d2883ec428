"""Benchmark: compute-optimal, difficulty-routed search against weighted best-of-N (Snell et al. 2024).

With the shipped ArithWorld policy and a PRM (the learned one from `ponder train prm` with
`--prm_model`, else the oracle checker), `ponder.pipelines.routing.run_routing` searches a validation
split with every strategy and budget, bins its problems by the policy's pass rate, fits the
router and a difficulty predictor there, and then on a disjoint test split runs every fixed
strategy (the best-of-N family to N = 64) and compute-optimal search with oracle and predicted
bins. The ratio is how many more policy tokens weighted best-of-N needs to reach compute-optimal's
accuracy at N=16 (target >= 4); `reached: false` marks a lower bound (weighted best-of-N never
got there by N = 64).
Last line: one JSON object with keys `efficiency_oracle`, `efficiency_predicted` (and details).

    python tests/benchmarks/compute_optimal.py [--prm_model DIR] [--work_dir DIR] [--val_per_level 60]
                                               [--test_per_level 100]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from ponder.models import SHIPPED_POLICY
from ponder.pipelines.routing import RoutingPlan, run_routing


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--policy", default=str(SHIPPED_POLICY), help="ArithWorld policy folder")
    parser.add_argument(
        "--prm_model",
        default=None,
        help="token-cls PRM folder (`ponder train prm`); default: the oracle checker",
    )
    parser.add_argument(
        "--work_dir", default=None, help="folder for every stage's output (default: a temporary one)"
    )
    parser.add_argument(
        "--val_per_level", type=int, default=60, help="validation problems per level (router and predictor)"
    )
    parser.add_argument("--test_per_level", type=int, default=100, help="test problems per level")
    parser.add_argument(
        "--baseline_max_n", type=int, default=64, help="largest N of the best-of-N family on the test split"
    )
    args = parser.parse_args()
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="compute_optimal_"))

    start = time.perf_counter()
    summary = run_routing(
        RoutingPlan(
            policy=args.policy,
            prm="token-cls" if args.prm_model else "oracle",
            prm_model=args.prm_model,
            output_dir=str(work),
            val_per_level=args.val_per_level,
            test_per_level=args.test_per_level,
            baseline_max_n=args.baseline_max_n,
        )
    )
    detail = {k: v for k, v in summary.items() if k.startswith("efficiency")}
    print(
        json.dumps(
            {
                "efficiency_oracle": round(summary["efficiency_oracle"]["ratio"], 2),
                "efficiency_predicted": round(summary["efficiency_predicted"]["ratio"], 2),
                "details": detail,
                "predictor": summary["predictor"],
                "prm": args.prm_model or "oracle",
                "wall_s": round(time.perf_counter() - start, 1),
                "work_dir": str(work),
            }
        )
    )


if __name__ == "__main__":
    main()
