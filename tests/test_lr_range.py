"""The LR range test: an exponential sweep that picks a LR that trains, leaves the model and RNG as they were,
and, as a trainer option, replaces a fresh stage's LR, records it, and is never re-run on resume."""

import json
import math
from pathlib import Path

import hydra.utils
import pytest
import torch
from conftest import compose_config
from test_trainer import accuracy_on, make_model, make_trainer, toy_data

from distillx.distill.objectives import HardCrossEntropy
from distillx.errors import DistillxError
from distillx.train.loop import Trainer
from distillx.train.lr_range import exponential_lrs, lr_range_test, plot_lr_range, suggest_lr

CE = HardCrossEntropy()

CPU = torch.device("cpu")


def adamw(params, lr):
    return torch.optim.AdamW(params, lr=lr)


def sweep(model=None, data=None, **kw):
    options = dict(min_lr=1e-5, max_lr=10.0, steps=50, batch_size=16, device=CPU, precision="fp32", seed=1)
    model = make_model() if model is None else model
    return lr_range_test(model, toy_data() if data is None else data, CE, adamw, **{**options, **kw})


def test_sweep_is_exponential_between_min_and_max():
    lrs = exponential_lrs(1e-6, 1.0, 25)
    assert lrs[0] == pytest.approx(1e-6) and lrs[-1] == pytest.approx(1.0) and len(lrs) == 25
    ratios = [b / a for a, b in zip(lrs, lrs[1:], strict=False)]
    assert ratios == pytest.approx([ratios[0]] * len(ratios))  # equal steps in log LR
    with pytest.raises(ValueError):
        exponential_lrs(1.0, 1e-3, 10)


def test_sweep_records_the_schedule_and_a_suggestion_that_trains(tmp_path: Path):
    data = toy_data()
    result = sweep(data=data, max_lr=1.0, steps=60)  # toy_data cycles: 60 steps are 15 epochs of 4 batches
    assert result.lrs == pytest.approx(exponential_lrs(1e-5, 1.0, 60)[: len(result.lrs)])
    assert len(result.losses) == len(result.smoothed) == len(result.lrs) > 10
    assert 1e-5 < result.suggested_lr < 1.0
    trainer, model = make_trainer(epochs=8), make_model()
    fit = trainer.fit(
        model,
        data,
        CE,
        lambda m: {"acc": accuracy_on(trainer, m, data)},
        "acc",
        result.suggested_lr,
        tmp_path,
        lambda *_: None,
        "toy",
    )
    assert fit.best_score > 0.9


def test_rules_read_the_curve_as_documented():
    lrs = exponential_lrs(1e-4, 1.0, 41)  # 10 points per decade
    # flat, a fall that is steepest at 1e-2, a minimum at 1e-1, then a rise
    losses = [1.0 - 0.5 * (1 + math.tanh(4 * (math.log10(lr) + 2))) / 2 for lr in lrs]
    losses = [v if lr <= 1e-1 else v + (math.log10(lr) + 1) for lr, v in zip(lrs, losses, strict=True)]
    assert suggest_lr(lrs, losses, "steepest") == pytest.approx(1e-2)
    best = min(range(len(lrs)), key=losses.__getitem__)
    assert suggest_lr(lrs, losses, "min_div10") == pytest.approx(lrs[best] / 10)
    with pytest.raises(ValueError):
        suggest_lr(lrs, losses, "valley")


def test_divergence_stops_the_sweep_early():
    result = sweep(min_lr=1e-3, max_lr=1e4, steps=60, max_grad_norm=None)  # Adam at LR 1e4 wrecks anything
    assert len(result.lrs) < 60
    assert all(math.isfinite(v) for v in result.losses)  # a non-finite loss ends the sweep unrecorded
    assert 1e-3 <= result.suggested_lr < result.lrs[-1]


def test_model_and_global_rng_are_left_untouched():
    model = make_model()
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(123)
    rng = torch.get_rng_state()
    sweep(model=model, steps=20)
    assert torch.equal(torch.get_rng_state(), rng)
    assert not model.training and all(p.grad is None for p in model.parameters())
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert sweep(steps=20).smoothed == sweep(steps=20).smoothed  # seeded: the same sweep every time


def test_plot_and_record_are_written(tmp_path: Path):
    result = sweep(steps=20)
    plot_lr_range(result, tmp_path / "sub" / "lr_range.png")
    assert (tmp_path / "sub" / "lr_range.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["lr_range.png"]  # no temp file left behind


def range_trainer(**kw) -> Trainer:
    options = {"enabled": True, "min_lr": 1e-5, "max_lr": 1.0, "steps": 40}
    return make_trainer(lr_range_test=options, **kw)


def test_fit_uses_the_suggestion_and_matches_a_run_given_that_lr(tmp_path: Path):
    data, logged = toy_data(), []
    model = make_model()
    result = range_trainer(epochs=2, warmup_ratio=0.0).fit(
        model, data, CE, lambda m: {"s": 0.0}, "s", 123.0, tmp_path / "a", lambda m, e: logged.append(m), "t"
    )
    record = json.loads((tmp_path / "a" / "lr_range.json").read_text())
    chosen = record["chosen_lr"]
    assert set(record) >= {"lrs", "losses", "smoothed", "suggested_lr"} and len(record["lrs"]) == len(record["losses"])
    assert chosen == record["suggested_lr"] != 123.0
    assert (tmp_path / "a" / "lr_range.png").exists()
    assert logged[0] == {"t/lr_range_suggested": chosen}
    # no warmup: after epoch 1 of 2 the linear decay is at exactly half the initial LR
    assert result.history[0]["lr"] == pytest.approx(chosen / 2)
    # the test leaves no trace: training from the suggestion without it gives the same weights
    plain = make_model()
    make_trainer(epochs=2, warmup_ratio=0.0).fit(
        plain, data, CE, lambda m: {"s": 0.0}, "s", chosen, tmp_path / "b", lambda *_: None, "t"
    )
    for key, value in plain.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key


def test_a_sweep_that_finds_no_fall_keeps_the_configured_lr(tmp_path: Path):
    options = {"enabled": True, "min_lr": 1e-9, "max_lr": 1e-8, "steps": 10}
    trainer = make_trainer(epochs=2, warmup_ratio=0.0, lr_range_test=options)
    logged: list[dict] = []
    result = trainer.fit(
        make_model(),
        toy_data(),
        CE,
        lambda m: {"s": 0.0},
        "s",
        1e-3,
        tmp_path,
        lambda m, e: logged.append(m),
        "t",
    )
    record = json.loads((tmp_path / "lr_range.json").read_text())
    assert record["suggested_lr"] == pytest.approx(1e-9) and record["chosen_lr"] == 1e-3
    assert logged[0] == {"t/lr_range_suggested": pytest.approx(1e-9)}
    assert result.history[0]["lr"] == pytest.approx(1e-3 / 2)  # trained from 1e-3 (halfway through the decay)


def test_resume_after_a_kill_reads_the_lr_back_and_does_not_rerun(tmp_path: Path, monkeypatch):
    data = toy_data()

    def improving(calls: dict, die_at: int | None = None):
        """A score that rises every epoch, so the best checkpoint is the last one; optionally a kill."""

        def evaluate(m):
            calls["n"] = calls.get("n", 0) + 1
            if calls["n"] == die_at:
                raise KeyboardInterrupt  # killed after this epoch's training, before its checkpoint
            return {"s": float(calls["n"])}

        return evaluate

    reference = make_model()
    ref = range_trainer().fit(reference, data, CE, improving({}), "s", 1e-3, tmp_path / "ref", print, "ref")

    calls: dict = {}
    with pytest.raises(KeyboardInterrupt):
        range_trainer().fit(make_model(), data, CE, improving(calls, 3), "s", 1e-3, tmp_path / "run", print, "r")
    assert (tmp_path / "run" / "last.pt").exists()
    record = (tmp_path / "run" / "lr_range.json").read_text()

    def no_rerun(*args, **kwargs):
        raise AssertionError("the LR range test ran again on resume")

    monkeypatch.setattr("distillx.train.loop.lr_range_test", no_rerun)
    logged: list[tuple[dict, int]] = []
    calls["n"] = 2  # the resumed process's evaluate continues the count
    resumed = make_model()
    result = range_trainer().fit(
        resumed,
        data,
        CE,
        improving(calls),
        "s",
        1e-3,
        tmp_path / "run",
        lambda m, e: logged.append((m, e)),
        "r",
    )
    assert [e for _, e in logged] == [3, 4]  # only per-epoch metrics: the suggestion was logged by the first run
    assert [h["lr"] for h in result.history] == pytest.approx([h["lr"] for h in ref.history])
    assert (tmp_path / "run" / "lr_range.json").read_text() == record
    ref_state = torch.load(tmp_path / "ref" / "best.pt", weights_only=True)["weights"]
    for key, value in resumed.state_dict().items():
        assert torch.equal(value, ref_state[key]), key


def test_bad_options_fail_when_the_trainer_is_built():
    with pytest.raises(DistillxError, match="rule"):
        make_trainer(lr_range_test={"enabled": True, "rule": "valley"})
    with pytest.raises(DistillxError, match="unknown keys"):
        make_trainer(lr_range_test={"enable": True})


def test_config_enables_it_through_hydra(tmp_path: Path):
    cfg = compose_config(["trainer.lr_range_test.enabled=true", "trainer.lr_range_test.rule=steepest"], tmp_path)
    trainer = hydra.utils.instantiate(cfg.trainer)
    assert trainer.lr_range["enabled"] is True and trainer.lr_range["rule"] == "steepest"
    assert trainer.lr_range["min_lr"] == pytest.approx(1e-7) and trainer.lr_range["steps"] == 100
    assert hydra.utils.instantiate(compose_config([], tmp_path).trainer).lr_range["enabled"] is False  # demo
    assert compose_config(["trainer=paper"], tmp_path).trainer.lr_range_test.enabled is True


def test_stages_option_limits_the_test_to_the_named_stages(tmp_path: Path):
    """The mPLM's stages keep mplm.lr: a range test on a pre-trained model's fresh head overshoots."""
    options = {"enabled": True, "steps": 12, "stages": ["source_model"]}
    make_trainer(epochs=1, lr_range_test=options).fit(
        make_model(), toy_data(), CE, lambda m: {"s": 0.0}, "s", 1e-3, tmp_path, lambda *_: None, "kd1_mplm"
    )
    assert not (tmp_path / "lr_range.json").exists()


def test_a_pretrained_model_keeps_its_configured_lr(tmp_path: Path):
    """lr_search=False (a student on a pre-trained encoder, e.g. the lean one) skips the test in a listed stage."""
    options = {"enabled": True, "steps": 12, "stages": ["kd2_student"]}
    result = make_trainer(epochs=2, warmup_ratio=0.0, lr_range_test=options).fit(
        make_model(), toy_data(), CE, lambda m: {"s": 0.0}, "s", 1e-3, tmp_path, lambda *_: None, "kd2_student",
        lr_search=False,
    )  # fmt: skip
    assert not (tmp_path / "lr_range.json").exists()
    assert result.history[0]["lr"] == pytest.approx(1e-3 / 2)
