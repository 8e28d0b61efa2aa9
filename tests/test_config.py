"""Every option of every config group composes, and the components it names can be built."""

from pathlib import Path

import pytest
from conftest import CONF, compose_config
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf import OmegaConf

GROUPS = [
    "method",
    "teacher",
    "student",
    "dataset",
    "language",
    "augmentation",
    "mplm",
    "trainer",
    "size",
    "tracking",
]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_every_required_group_has_options():
    for group in GROUPS:
        assert options(group), group


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)], ids=lambda v: str(v))
def test_every_option_composes_and_resolves(tmp_path: Path, group: str, option: str):
    overrides = [f"{group}={option}"]
    if (group, option) == ("mplm", "local"):
        overrides.append("mplm.name_or_path=/models/mine")
    cfg = compose_config(overrides, tmp_path)
    OmegaConf.resolve(cfg)  # every interpolation resolves
    assert OmegaConf.missing_keys(cfg) == set()


@pytest.mark.parametrize("arch", options("teacher"))  # the from-scratch architectures
@pytest.mark.parametrize("role", ["teacher", "student"])
@pytest.mark.parametrize("size", ["demo", "paper"])
def test_architectures_instantiate_at_both_sizes(tmp_path: Path, arch: str, role: str, size: str):
    from distillx.models.heads import TaskHeads, count_parameters

    cfg = compose_config([f"{role}={arch}", f"size={size}"], tmp_path)
    encoder = instantiate(cfg[role].encoder)(vocab_size=10_000)
    params = count_parameters(TaskHeads(encoder, num_intents=12))
    if size == "paper":  # freetransfer-x.md Table 2: ~5M parameters with a 10k BPE vocabulary
        assert 4.5e6 < params < 6.0e6, params
    else:
        assert params < 1.5e6, params


@pytest.mark.parametrize("lang", options("language"))
def test_every_language_builds_its_segmenter(tmp_path: Path, lang: str):
    cfg = compose_config([f"language={lang}"], tmp_path)
    segment = instantiate(cfg.language.segmenter)
    assert cfg.language.code == lang
    assert segment("ok") or lang in {"zh", "ja", "th"}


def test_the_language_catalog_lists_every_language(tmp_path: Path):
    """Methods that read many languages look segmenters up in `languages` (conf/languages/all.yaml): a language
    file missing there fails only when such a run reaches that language."""
    cfg = compose_config([], tmp_path)
    assert sorted(cfg.languages) == options("language")


def test_trainer_tracking_method_augmentation_dataset_instantiate(tmp_path: Path):
    cfg = compose_config([], tmp_path)
    for key in ("trainer", "method", "augmentation", "dataset", "tracking"):
        assert instantiate(cfg[key]) is not None, key


def test_typo_in_override_gives_hydra_error(tmp_path: Path):
    with pytest.raises(ConfigCompositionException, match="epoch"):
        compose_config(["trainer.epoch=3"], tmp_path)
    with pytest.raises(ConfigCompositionException, match="xx"):
        compose_config(["language=xx"], tmp_path)


def test_paper_trainer_settings(tmp_path: Path):
    cfg = compose_config(["trainer=paper", "size=paper"], tmp_path)
    assert cfg.trainer.epochs == 50 and cfg.trainer.optimizer.eps == 1e-8
    assert cfg.vocab.vocab_size == 10_000
