"""Shared fixtures: offline settings, composed configs written to tmp_path, a cached tiny demo mPLM."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from distillx.data.schema import Example
from distillx.labels import label_purpose

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
SHARED = REPO.parent / "shared"

for key, value in {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(key, value)

# Small and fast: every end-to-end test uses these on top of its own overrides.
TINY = [
    "trainer.epochs=2",
    "trainer.patience=null",
    "trainer.progress=false",
    "mplm.build.steps=60",
    "mplm.build.hidden_size=32",
    "mplm.build.num_layers=1",
    "mplm.build.intermediate_size=64",
    "mplm.build.vocab_size=3000",
    "teacher.encoder.hidden_size=48",
    "student.encoder.hidden_size=48",
]


def compose_config(overrides: list[str], tmp_path: Path, cache_dir: Path | None = None) -> DictConfig:
    """The config ``distillx`` would run with these overrides, writing only under tmp_path."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            config_name="config",
            overrides=[
                f"cache_dir={cache_dir or tmp_path / 'cache'}",
                f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
                *overrides,
            ],
        )
    with open_dict(cfg):
        cfg.pop("hydra", None)
    return cfg


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One cache dir per test session, so the tiny demo mPLM is pre-trained once."""
    return tmp_path_factory.mktemp("distillx-cache")


@pytest.fixture
def spy_gold(monkeypatch):
    """Records every read of a gold label (``Example.intent`` / ``Example.slots``, however it is made) with the
    purpose the code declared for it (``distillx.labels.reading_labels``; None when undeclared)."""
    reads: list[str | None] = []

    def audited(name: str) -> property:
        def get(self):
            reads.append(label_purpose())
            return self.__dict__[name]

        def put(self, value):
            self.__dict__[name] = value

        return property(get, put)

    for name in ("intent", "slots"):
        monkeypatch.setattr(Example, name, audited(name), raising=False)
    return reads
