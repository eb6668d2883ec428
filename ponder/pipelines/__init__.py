"""Pipelines: typed code above data, infer and train that chains their commands.

    quickstart   the whole loop on ArithWorld, ending in a report folder (`ponder quickstart`)
    routing      compute-optimal routing end to end: splits, searches, bins, predictor, router
    evolve       rounds of search, distillation and PRM relabelling (`ponder evolve`)
    ladder       policy sizes, each trained on doubling samples to its plateau (`ponder ladder`)
    report       a quickstart run's report.md and PNG plots (`ponder report`)

Each calls the commands' `run(Args)` with their argument dataclasses, never argv lists.
"""
