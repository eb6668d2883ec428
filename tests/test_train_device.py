"""`--device` reaches every trainer: TrainingArguments settles its device when it is built, so
`--device cpu` on a GPU machine must rebuild it with `use_cpu` (on this CPU machine every config
already has it; the test takes it away the way a GPU machine would leave it unset)."""

from __future__ import annotations

import pytest

from ponder.train.defaults import on_device
from ponder.train.difficulty import DifficultyConfig
from ponder.train.distill import DistillDPOConfig, DistillSFTConfig
from ponder.train.policy import PolicyConfig
from ponder.train.prm import PRMConfig


@pytest.mark.parametrize(
    "config_type", [PolicyConfig, PRMConfig, DifficultyConfig, DistillSFTConfig, DistillDPOConfig]
)
def test_device_cpu_rebuilds_a_config_that_would_use_the_gpu(tmp_path, config_type):
    config = config_type(output_dir=str(tmp_path), report_to=["none"], learning_rate=3e-4, max_steps=7)
    assert on_device(config, "auto") is config and on_device(config, "cuda") is config
    config.use_cpu = False  # what a config built on a GPU machine holds
    placed = on_device(config, "cpu")
    assert placed.use_cpu and placed.device.type == "cpu"
    # everything else the user set survives the rebuild
    assert (placed.output_dir, placed.learning_rate, placed.max_steps) == (str(tmp_path), 3e-4, 7)
    assert placed.report_to == config.report_to and placed.lr_scheduler_type == config.lr_scheduler_type
