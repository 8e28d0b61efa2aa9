"""A data file edited in place (same path) is other data: the shared stages trained on the old file are not reused
(issue: the teacher's score fell from 25.0 to 3.3 when label ids were permuted and the old stage was served)."""

from __future__ import annotations

import random
from pathlib import Path

from conftest import TINY, compose_config

from distillx.cli import run

INTENTS = {"alarm": ["wake", "me", "at"], "weather": ["rain", "today", "in"], "music": ["play", "song", "by"]}
FILLERS = ["seven", "paris", "tomorrow", "night", "the", "blue", "please", "now"]


def write_dataset(root: Path, permute: bool) -> None:
    """English and German TSV files of three learnable intents; ``permute`` rotates the English train labels."""
    root.mkdir(parents=True, exist_ok=True)
    names = list(INTENTS)
    for lang in ("en", "de"):
        rng = random.Random(0)
        rows = ["id\tsplit\twords\tintent"]
        for i in range(120):
            split = "train" if i < 80 else "dev" if i < 100 else "test"
            intent = names[i % 3]
            words = INTENTS[intent] + rng.sample(FILLERS, 2)
            label = names[(i + 1) % 3] if permute and lang == "en" and split == "train" else intent
            rows.append(f"{i}\t{split}\t{' '.join(words)}\t{label}")
        (root / f"{lang}.tsv").write_text("\n".join(rows) + "\n")


def test_editing_a_data_file_in_place_retrains_the_shared_stages(tmp_path: Path):
    data = tmp_path / "data"
    overrides = [*TINY, "method=zero_shot", "dataset=custom", f"dataset.path={data}", "language=de"]
    overrides.append("trainer.epochs=20")  # enough for the tiny source model to learn the three intents
    write_dataset(data, permute=False)
    cfg = compose_config(overrides, tmp_path)
    first = run(cfg, tmp_path / "first", "first")
    write_dataset(data, permute=True)  # same path, other labels
    second = run(compose_config(overrides, tmp_path), tmp_path / "second", "second")
    stage = "stages/source_model"
    assert (tmp_path / "first" / stage).resolve() != (tmp_path / "second" / stage).resolve()
    # trained on the rotated labels, the source model misses the (unchanged) test labels; the stale one would not
    assert second.scores["teacher"]["en"]["accuracy"] < first.scores["teacher"]["en"]["accuracy"]
