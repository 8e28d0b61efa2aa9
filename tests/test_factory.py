"""The model factory: the same seed gives the same initial models whether the demo mPLM is built in this process or
read from the cache (building it draws from the global RNG)."""

from __future__ import annotations

from pathlib import Path

import torch
from conftest import TINY, compose_config
from hydra.utils import instantiate

from distillx.context import RunContext


def initial_mplm(tmp_path: Path, run: str) -> dict[str, torch.Tensor]:
    cfg = compose_config([*TINY, "language=de", "tracking=none"], tmp_path, tmp_path / "cache")
    ctx = RunContext(cfg, tmp_path / run, instantiate(cfg.tracking))
    return {k: v.clone() for k, v in ctx.models.mplm_model().model.state_dict().items()}


def test_first_run_builds_the_same_initial_mplm_as_a_cached_one(tmp_path: Path):
    built_here = initial_mplm(tmp_path, "first")  # pre-trains the tiny demo mPLM in this process
    from_cache = initial_mplm(tmp_path, "second")
    assert built_here.keys() == from_cache.keys()
    for key, value in built_here.items():
        assert torch.equal(value, from_cache[key]), key


def test_only_models_trained_from_scratch_may_have_their_lr_searched(tmp_path: Path):
    """The LR range test is for the Table-2 models; students on a pre-trained encoder keep their config's LR."""
    tiny = [o for o in TINY if not o.startswith("student.")]
    cfg = compose_config([*tiny, "language=de", "tracking=none", "student=mplm"], tmp_path, tmp_path / "cache")
    ctx = RunContext(cfg, tmp_path / "run", instantiate(cfg.tracking))
    assert ctx.models.small_model("teacher", "en").lr_search
    assert not ctx.models.mplm_model().lr_search
    assert not ctx.models.pretrained_model("student").lr_search
