"""Never silent garbage: a diverging stage stops with a one-line error and keeps its last good checkpoints, a
stray inf/NaN step is skipped, nonsense trainer settings fail at once, and collapsed models are flagged."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
import torch
from conftest import REPO
from test_trainer import make_trainer
from torch import nn

from distillx.distill.objectives import HardCrossEntropy
from distillx.errors import DistillxError
from distillx.files import file_digest
from distillx.models.heads import TaskHeads
from distillx.models.transformer import TransformerEncoder
from distillx.report.results import Results
from distillx.report.scores import Decoded, score
from distillx.train.batching import EncodedSet

CE = HardCrossEntropy()
STEPS_PER_EPOCH = 4  # toy_data() in batches of 8


make_trainer = partial(make_trainer, epochs=3)  # test_trainer's toy trainer, 3 epochs


def toy_data(n: int = 32) -> EncodedSet:
    g = torch.Generator().manual_seed(0)
    rows = [torch.randint(2, 8, (3 + i % 4,), generator=g).tolist() for i in range(n)]
    return EncodedSet(rows, pad_id=0, targets={"intent": torch.tensor([i % 2 for i in range(n)])})


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return TaskHeads(TransformerEncoder(10, 16, 16, 1, 2, 32, 0.1, 16), num_intents=2)


class NanGradient(torch.autograd.Function):
    """Identity forward, NaN gradient: a finite loss whose gradients are not."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad * float("nan")


def poisoned(bad_steps: Callable[[int], bool], gradient: bool = False):
    """Cross-entropy whose loss (or, with ``gradient``, only its gradient) is NaN on the steps ``bad_steps`` picks
    (1-based, counted over the whole run)."""
    step = 0

    def loss_fn(outputs, targets, model=None):
        nonlocal step
        step += 1
        loss = CE(outputs, targets, model=model)
        if not bad_steps(step):
            return loss
        return NanGradient.apply(loss) if gradient else loss * float("nan")

    return loss_fn


def counting_optimizer(steps: list[int]):
    def factory(params, lr):
        optimizer = torch.optim.AdamW(params, lr=lr)
        optimizer.register_step_post_hook(lambda *_: steps.append(1))
        return optimizer

    return factory


def test_divergence_stops_the_stage_and_keeps_the_last_good_checkpoints(tmp_path: Path):
    on_disk: dict[int, dict[str, str]] = {}

    def snapshot(metrics, epoch):  # called after the epoch's checkpoints would have been written
        on_disk[epoch] = {f: file_digest(tmp_path / f) for f in ("last.pt", "best.pt")}

    loss_fn = poisoned(lambda step: step > STEPS_PER_EPOCH)  # epoch 1 trains, then every loss is NaN
    trainer = make_trainer(max_nonfinite_steps=6)
    with pytest.raises(DistillxError) as err:
        trainer.fit(make_model(), toy_data(), loss_fn, lambda m: {"s": 0.5}, "s", 1e-3, tmp_path, snapshot, "toy")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("stage toy: loss or gradients were not finite for 6 consecutive steps")
    assert "(epoch 3, step 2)" in message and "lower the learning rate (lr=0.001)" in message
    assert str(tmp_path / "last.pt") in message
    assert on_disk[2] == on_disk[1]  # epoch 2 ended in NaN steps: not checkpointed
    assert {f: file_digest(tmp_path / f) for f in ("last.pt", "best.pt")} == on_disk[1]
    assert not (tmp_path / "done.json").exists()


def test_a_huge_learning_rate_fails_in_the_epoch_it_diverges(tmp_path: Path):
    evaluated: list[nn.Module] = []
    with pytest.raises(DistillxError, match=r"^stage toy: .* \(epoch \d+, step \d+\); lower the learning rate"):
        make_trainer(epochs=20).fit(
            make_model(), toy_data(), CE, evaluated.append, "s", 1e4, tmp_path, lambda *_: None, "toy"
        )
    assert not evaluated and not (tmp_path / "best.pt").exists()  # no diverged epoch was scored or saved


@pytest.mark.parametrize(
    ("gradient", "max_grad_norm"),
    # without clipping no gradient norm is computed (by design: no extra work per step), so no NaN-gradient case
    [(False, 1.0), (False, None), (True, 1.0)],
    ids=["nan-loss-clipped", "nan-loss-unclipped", "nan-gradient-clipped"],
)
def test_an_isolated_nonfinite_step_is_skipped_and_counted(tmp_path: Path, gradient: bool, max_grad_norm):
    steps: list[int] = []
    logged: dict[str, float] = {}
    trainer = make_trainer(epochs=2, max_grad_norm=max_grad_norm, optimizer=counting_optimizer(steps))
    model = make_model()
    result = trainer.fit(
        model,
        toy_data(),
        poisoned(lambda step: step == 2, gradient),
        lambda m: {"s": 0.5},
        "s",
        1e-3,
        tmp_path,
        lambda metrics, epoch: logged.update(metrics),
        "toy",
    )
    assert result.epochs_run == 2 and result.best_epoch == 1
    assert [h["skipped_steps"] for h in result.history] == [1, 0]
    assert logged["toy/skipped_steps"] == 0  # the last epoch's, as logged
    assert all(math.isfinite(h["train_loss"]) for h in result.history)  # the skipped step is left out of the mean
    assert len(steps) == 2 * STEPS_PER_EPOCH - 1
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("max_grad_norm", [1.0, None], ids=["clipped", "unclipped"])
def test_steps_the_fp16_loss_scaler_skips_are_counted(tmp_path: Path, monkeypatch, max_grad_norm):
    """fp16 needs CUDA, but the scaler's mechanism is the same on the CPU: it skips a step with NaN gradients
    and lowers its scale, which is how the loop sees the skip."""
    monkeypatch.setattr("distillx.train.loop.grad_scaler", lambda *_: torch.amp.GradScaler("cpu", init_scale=256.0))
    steps: list[int] = []
    trainer = make_trainer(epochs=2, max_grad_norm=max_grad_norm, optimizer=counting_optimizer(steps))
    result = trainer.fit(
        make_model(),
        toy_data(),
        poisoned(lambda step: step == 2, gradient=True),
        lambda m: {"s": 0.5},
        "s",
        1e-3,
        tmp_path,
        lambda *_: None,
        "toy",
    )
    assert [h["skipped_steps"] for h in result.history] == [1, 0]
    assert len(steps) == 2 * STEPS_PER_EPOCH - 1


def test_an_epoch_that_only_skipped_is_never_the_best(tmp_path: Path):
    evaluated: list[int] = []
    trainer = make_trainer(epochs=2, max_nonfinite_steps=100)
    with pytest.raises(DistillxError, match="not finite for 8 consecutive steps .* no epoch trained to a checkpoint"):
        trainer.fit(
            make_model(),
            toy_data(),
            poisoned(lambda step: True),
            lambda m: evaluated.append(1) or {"s": 1.0},
            "s",
            1e-3,
            tmp_path,
            lambda *_: None,
            "toy",
        )
    assert not evaluated and not (tmp_path / "best.pt").exists() and not (tmp_path / "done.json").exists()


def test_a_nan_dev_score_is_never_selected(tmp_path: Path):
    scores = iter([float("nan"), 0.3, float("nan")])
    result = make_trainer().fit(
        make_model(), toy_data(), CE, lambda m: {"s": next(scores)}, "s", 1e-3, tmp_path / "some", print, "toy"
    )
    assert result.best_epoch == 2 and result.best_score == 0.3

    with pytest.raises(DistillxError, match=r"^stage toy: s was not finite in any of its 3 epochs"):
        make_trainer().fit(
            make_model(), toy_data(), CE, lambda m: {"s": float("nan")}, "s", 1e-3, tmp_path / "none", print, "toy"
        )
    assert not (tmp_path / "none" / "done.json").exists()


def test_a_zero_selection_score_warns(tmp_path: Path, caplog):
    with caplog.at_level(logging.WARNING, logger="distillx.train.loop"):
        make_trainer(epochs=1).fit(
            make_model(),
            toy_data(),
            CE,
            lambda m: {"dev_teacher_agreement": 0.0},
            "dev_teacher_agreement",
            1e-3,
            tmp_path,
            print,
            "kd2_student",
        )
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith("stage kd2_student epoch 1: dev_teacher_agreement is 0")
    assert "predicts no entity" in warning


@pytest.mark.parametrize("key", ["epochs", "batch_size", "max_nonfinite_steps"])
def test_nonsense_trainer_settings_fail_at_construction(key: str):
    with pytest.raises(DistillxError, match=rf"^trainer\.{key}=0: must be >= 1$"):
        make_trainer(**{key: 0})


class Model:
    def __init__(self, role: str, arch: str) -> None:
        self.role, self.arch = role, arch


def test_results_flag_majority_class_and_no_entity_models(caplog):
    gold_intents = ["flight", "flight", "flight", "fare"]
    gold_slots = [["B-city", "O"], ["O", "O"], ["B-city", "I-city"], ["O", "B-day"]]
    results = Results(source="en", target="de")
    results.set_majority("de", gold_intents)
    with caplog.at_level(logging.WARNING, logger="distillx.report.results"):
        results.add(Model("teacher", "transformer"), "en", score(Decoded(intents=gold_intents), gold_intents))
        collapsed = Decoded(intents=["flight"] * 4, slots=[["O", "O"]] * 4)
        results.add(Model("student", "cnn"), "de", score(collapsed, gold_intents, gold_slots))
    assert [r.getMessage() for r in caplog.records] == [
        "student: cnn de: intent accuracy 75.0% at or below the majority class (75.0%), likely a collapsed model",
        "student: cnn de: predicts no entity, likely a collapsed model",
    ]
    table = results.table()
    assert "| de (target) | — | 75.0 ! | 75.0 |" in table  # teacher, student, majority class
    assert "| en (source) | 100.0 | — |" in table  # a model that learnt is not marked
    assert "| de (target) | 0.0 ! |" in table  # slot F1
    assert "! student: cnn de: intent accuracy 75.0% at or below the majority class (75.0%)" in table
    assert "! student: cnn de: predicts no entity" in table
    # the diagnostics flag, they are not scores
    assert results.scores["student"]["de"] == {"accuracy": 0.75, "slot_f1": 0.0, "exact_match": 0.25}
    assert not any(k.endswith(("/majority", "/predicted_entities")) for k in results.metrics())
    assert set(results.to_dict()["flags"]["student"]["de"]) == {"accuracy", "slot_f1"}


def test_cli_reports_a_diverging_stage_in_one_line(tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "distillx.cli",
            "teacher.lr=1e4",  # the source model, the first stage to train
            "tracking=none",
            f"hydra.run.dir={tmp_path}/run",
            f"cache_dir={tmp_path}/cache",
            "trainer.epochs=2",
            "trainer.progress=false",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("distillx: error: stage source_model: loss or gradients were not finite")
    assert "lower the learning rate (lr=10000)" in line
    assert not (tmp_path / "run" / "results.json").exists()


def test_a_skipped_first_step_advances_the_schedule_without_a_false_warning(tmp_path: Path):
    """The linear schedule counts every step, skipped or not (a resumed run lands on the same learning rate); when
    the first one is skipped, PyTorch's "lr_scheduler.step() before optimizer.step()" warning would name a bug
    there is not."""

    def run(bad_steps: Callable[[int], bool], out: Path) -> tuple[list[float], list[warnings.WarningMessage]]:
        lrs: list[float] = []

        def optimizer(params, lr):
            opt = torch.optim.AdamW(params, lr=lr)
            opt.register_step_pre_hook(lambda o, *_: lrs.append(o.param_groups[0]["lr"]))
            return opt

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            make_trainer(epochs=1, optimizer=optimizer).fit(
                make_model(), toy_data(), poisoned(bad_steps), lambda m: {"s": 0.5}, "s", 1e-3, out,
                lambda *_: None, "toy",
            )  # fmt: skip
        return lrs, caught

    clean, _ = run(lambda step: False, tmp_path / "clean")
    skipped, caught = run(lambda step: step == 1, tmp_path / "skipped")
    assert skipped == clean[1:]  # steps 2-4 at the learning rates they have without the skip
    assert not [w for w in caught if "lr_scheduler.step()" in str(w.message)]
