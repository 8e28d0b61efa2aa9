"""Every experiment preset composes, and so does every value its sweep visits (a typo in a preset would
otherwise surface hours into a sweep)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CONF
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf, open_dict

PRESETS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


def composed(overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=True)


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_and_each_swept_value_compose(preset: str, tmp_path: Path):
    cfg = composed([f"+experiment={preset}", f"cache_dir={tmp_path}"])
    assert str(cfg.hydra.mode).endswith("MULTIRUN")
    params = {k: str(v).split(",") for k, v in cfg.hydra.sweeper.params.items()}
    assert params, preset
    first = [f"{k}={values[0]}" for k, values in params.items()]
    for key, values in params.items():
        for value in values:
            overrides = [o for o in first if not o.startswith(f"{key}=")] + [f"{key}={value}"]
            job = composed([f"+experiment={preset}", f"cache_dir={tmp_path}", *overrides])
            with open_dict(job):
                job.pop("hydra")
            OmegaConf.resolve(job)


def test_table1_rows_set_method_and_augmentation():
    cfg = composed(["+same_arch=bilstm", "+recipe=kd_balanced_augmented"])
    assert cfg.teacher.encoder._target_.endswith("BiLSTMEncoder")
    assert cfg.student.encoder._target_.endswith("BiLSTMEncoder")
    assert cfg.method.balanced is True and cfg.augmentation._target_.endswith("Paraphrase")
    assert composed(["+recipe=gold_supervised"]).method._target_.endswith("GoldSupervised")


def test_table_presets_carry_the_papers_training_settings():
    cfg = composed(["+experiment=table1_mtop"])
    assert cfg.trainer.epochs == 50 and cfg.vocab.vocab_size == 10000 and cfg.trainer.lr_range_test.enabled
    assert cfg.teacher.encoder.hidden_size == 256  # Table 2 transformer (size=paper)
