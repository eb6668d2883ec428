"""Benchmark: wall time of the whole loop, `ponder quickstart`, on 2 CPU cores (target <= 600 s).

Runs the quickstart into a fresh folder (the shipped policy unless `--train_policy`), with its
default sizes unless overridden by passing quickstart options after `--`, and prints the time of
each stage. Last line: one JSON object with key `wall_s` (and the stage times).

    python tests/benchmarks/quickstart_time.py [--work_dir DIR] [-- --search_per_level 20 ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

from ponder.pipelines.quickstart import main as quickstart_main


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    ours = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--work_dir", default=None, help="quickstart output folder (default: a fresh temporary one)"
    )
    args = parser.parse_args(ours)
    work = args.work_dir or tempfile.mkdtemp(prefix="quickstart_time_")
    start = time.perf_counter()
    # the options after `--` are the user's own command line, so they go through the quickstart's parser
    summary = quickstart_main(["--output_dir", work, *extra])
    wall = round(time.perf_counter() - start, 1)
    print(
        json.dumps(
            {
                "wall_s": wall,
                **{k: v for k, v in summary.items() if k.endswith("_s")},
                "options": extra,
                "work_dir": work,
            }
        )
    )


if __name__ == "__main__":
    main()
