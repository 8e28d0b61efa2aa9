"""The shared training loop: it learns, keeps the best epoch, stops early, and resumes after a kill."""

from pathlib import Path

import pytest
import torch
from torch import nn

from distillx.distill.objectives import HardCrossEntropy
from distillx.errors import DistillxError
from distillx.models.heads import TaskHeads
from distillx.models.transformer import TransformerEncoder
from distillx.train.batching import EncodedSet, bucketed_batches
from distillx.train.checkpoint import load_weights
from distillx.train.loop import Trainer

CE = HardCrossEntropy()


def make_trainer(**kw) -> Trainer:
    defaults = dict(
        optimizer=lambda params, lr: torch.optim.AdamW(params, lr=lr),
        epochs=4,
        batch_size=8,
        eval_batch_size=16,
        patience=None,
        precision="fp32",
        device="cpu",
        progress=False,
        seed=1,
    )
    return Trainer(**{**defaults, **kw})


def toy_data(n: int = 64) -> EncodedSet:
    """Label = whether token 7 occurs: learnable in a few epochs."""
    g = torch.Generator().manual_seed(0)
    rows, labels = [], []
    for i in range(n):
        length = 3 + i % 5
        row = torch.randint(2, 7, (length,), generator=g).tolist()
        if i % 2:
            row[i % length] = 7
        rows.append(row)
        labels.append(i % 2)
    return EncodedSet(rows, pad_id=0, targets={"intent": torch.tensor(labels)})


def make_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return TaskHeads(TransformerEncoder(10, 16, 16, 1, 2, 32, 0.1, 16), num_intents=2)


def accuracy_on(trainer: Trainer, model: nn.Module, data: EncodedSet) -> float:
    return (trainer.predict(model, data)["intent"].argmax(-1) == data.targets["intent"]).float().mean().item()


def test_fit_learns_and_keeps_best(tmp_path: Path):
    trainer, data, model = make_trainer(epochs=12), toy_data(), make_model()
    scores = []

    def evaluate(m):
        scores.append(accuracy_on(trainer, m, data))
        return {"dev_accuracy": scores[-1]}

    result = trainer.fit(model, data, CE, evaluate, "dev_accuracy", 3e-3, tmp_path, lambda *_: None, "toy")
    assert result.best_score == max(scores) and result.best_score > 0.9
    assert accuracy_on(trainer, model, data) == pytest.approx(result.best_score)  # best weights loaded
    assert (tmp_path / "done.json").exists() and not (tmp_path / "last.pt").exists()
    assert result.seconds == pytest.approx(sum(h["epoch_seconds"] for h in result.history)) and result.seconds > 0


def test_early_stopping(tmp_path: Path):
    trainer = make_trainer(epochs=20, patience=2)
    result = trainer.fit(
        make_model(),
        toy_data(),
        CE,
        lambda m: {"s": 0.5},
        "s",
        1e-3,
        tmp_path,
        lambda *_: None,
        "toy",
    )
    assert result.epochs_run == 3  # epoch 1 is best, then two epochs without improvement


def test_killed_run_resumes_to_the_same_weights(tmp_path: Path):
    data = toy_data()

    def improving(calls: list[int]):  # every epoch beats the last, so fit ends on the final epoch's weights
        def evaluate(m):
            calls.append(len(calls) + 1)
            return {"s": float(len(calls))}

        return evaluate

    reference = make_model()
    make_trainer(epochs=3).fit(reference, data, CE, improving([]), "s", 1e-3, tmp_path / "a", print, "r")

    killed_evals: list[int] = []
    score = improving(killed_evals)

    def dies_in_epoch_2(m):
        if len(killed_evals) == 1:
            raise KeyboardInterrupt  # killed after epoch 2's training, before its checkpoint
        return score(m)

    logged: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        make_trainer(epochs=3).fit(
            make_model(),
            data,
            CE,
            dies_in_epoch_2,
            "s",
            1e-3,
            tmp_path / "b",
            lambda m, e: logged.append(e),
            "r",
        )
    assert logged == [1]  # log_metrics runs after an epoch's last.pt is written: epoch 1 is on disk
    assert (tmp_path / "b" / "last.pt").exists() and not (tmp_path / "b" / "done.json").exists()

    first_init = make_model().state_dict()
    resumed = make_model(seed=1)  # a fresh process: fresh random init, which only a restore can undo
    assert not torch.equal(resumed.intent.weight, first_init["intent.weight"])
    resumed_evals = [1]  # scores go on from the killed run's epoch 1, so epochs 2 and 3 keep improving
    result = make_trainer(epochs=3).fit(
        resumed, data, CE, improving(resumed_evals), "s", 1e-3, tmp_path / "b", print, "r"
    )
    assert resumed_evals == [1, 2, 3]  # only epochs 2 and 3 ran again
    assert result.epochs_run == 3 and result.best_epoch == 3
    for key, value in reference.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_finished_stage_is_not_rerun(tmp_path: Path):
    data = toy_data()
    first = make_model()
    make_trainer(epochs=2).fit(first, data, CE, lambda m: {"s": 1.0}, "s", 1e-3, tmp_path, print, "t")
    again = make_model()
    logged: list[int] = []
    make_trainer(epochs=2).fit(again, data, CE, lambda m: {"s": 1.0}, "s", 1e-3, tmp_path, logged.append, "t")
    assert logged == []
    for key, value in again.state_dict().items():
        assert torch.equal(value, first.state_dict()[key])


def frozen_embedding_model() -> nn.Module:
    model = make_model()
    model.encoder.embed.tokens.weight.requires_grad_(False)  # as an mPLM's word embedding in KD step 1
    return model


def test_checkpoints_leave_frozen_parameters_out_and_restore_them(tmp_path: Path):
    data, trained = toy_data(), frozen_embedding_model()
    scores = iter([0.1, 0.9, 0.2])  # epoch 2 is best, so the end of fit reloads best.pt
    make_trainer(epochs=3).fit(trained, data, CE, lambda m: {"s": next(scores)}, "s", 3e-3, tmp_path, print, "t")
    saved = torch.load(tmp_path / "best.pt", weights_only=True)
    assert "encoder.embed.tokens.weight" not in saved["weights"]
    assert set(saved["frozen"]) == {"encoder.embed.tokens.weight"}
    assert "encoder.embed.positions.weight" in saved["weights"]

    fresh = frozen_embedding_model()  # a new process: frozen rows come from the base model, the rest from the file
    assert not torch.equal(
        fresh.state_dict()["encoder.embed.positions.weight"], trained.state_dict()["encoder.embed.positions.weight"]
    )
    load_weights(fresh, tmp_path / "best.pt")
    for key, value in trained.state_dict().items():
        assert torch.equal(value, fresh.state_dict()[key]), key


def test_checkpoint_refuses_a_base_model_whose_frozen_weights_changed(tmp_path: Path):
    make_trainer(epochs=1).fit(
        frozen_embedding_model(), toy_data(), CE, lambda m: {"s": 1.0}, "s", 1e-3, tmp_path, print, "t"
    )
    other = frozen_embedding_model()
    with torch.no_grad():
        other.encoder.embed.tokens.weight[3] += 0.5  # another base model
    with pytest.raises(DistillxError, match=r"best\.pt: frozen parameter 'encoder\.embed\.tokens\.weight'"):
        load_weights(other, tmp_path / "best.pt")
    torch.manual_seed(0)  # the same base weights, another label set
    three_intents = TaskHeads(TransformerEncoder(10, 16, 16, 1, 2, 32, 0.1, 16), num_intents=3)
    with pytest.raises(DistillxError, match=r"does not fit the model \(size mismatch for intent"):
        load_weights(three_intents, tmp_path / "best.pt")


def test_plain_state_dict_checkpoints_still_load(tmp_path: Path):
    source = make_model()
    torch.save(source.state_dict(), tmp_path / "old.pt")  # written before frozen parameters were left out
    target = frozen_embedding_model()
    with torch.no_grad():
        for p in target.parameters():
            p.zero_()
    load_weights(target, tmp_path / "old.pt")
    for key, value in source.state_dict().items():
        assert torch.equal(value, target.state_dict()[key]), key


def test_resume_with_frozen_parameters_matches_an_uninterrupted_run(tmp_path: Path):
    data = toy_data()

    def improving():  # every epoch is the best so far, so each run ends holding its last epoch's weights
        epochs = iter(range(1, 100))
        return lambda m: {"s": float(next(epochs))}

    reference = frozen_embedding_model()
    make_trainer().fit(reference, data, CE, improving(), "s", 1e-3, tmp_path / "ref", print, "r")
    run_scores = improving()

    def dies_in_epoch_3(m):
        score = run_scores(m)
        if score["s"] == 3:
            raise KeyboardInterrupt
        return score

    with pytest.raises(KeyboardInterrupt):
        make_trainer().fit(frozen_embedding_model(), data, CE, dies_in_epoch_3, "s", 1e-3, tmp_path / "run", print, "r")
    resumed = frozen_embedding_model()
    result = make_trainer().fit(resumed, data, CE, run_scores, "s", 1e-3, tmp_path / "run", print, "r")
    assert result.epochs_run == 4
    for key, value in reference.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_bucketed_batches_cover_every_index_once_and_reduce_padding():
    lengths = [int(x) for x in torch.randint(1, 60, (1000,), generator=torch.Generator().manual_seed(0))]
    batches = bucketed_batches(lengths, 32, torch.Generator().manual_seed(1), bucket_batches=10)
    assert sorted(i for b in batches for i in b) == list(range(1000))

    def padding(bs):
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in bs)

    random_batches = bucketed_batches(lengths, 32, torch.Generator().manual_seed(1), bucket_batches=1)
    assert padding(batches) < 0.3 * padding(random_batches)


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_cpu_precisions_train(tmp_path: Path, precision: str):
    trainer = make_trainer(epochs=1, precision=precision)
    result = trainer.fit(make_model(), toy_data(), CE, lambda m: {"s": 0.0}, "s", 1e-3, tmp_path, lambda *_: None, "p")
    assert result.history[0]["train_loss"] > 0


def test_threads_option_sets_torch_threads_and_rejects_nonsense():
    before = torch.get_num_threads()
    try:
        make_trainer(threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(DistillxError, match="trainer.threads=0"):
        make_trainer(threads=0)


def test_mean_loss_averages_over_every_row_in_batches_of_one_language():
    """Dev scoring of stages with no output to score: the mean of the objective over all rows, each batch of one
    language so that a per-language teacher gets its own rows."""
    data = toy_data(20)
    data.languages = ["en" if i % 3 else "fr" for i in range(len(data))]
    model = make_model().eval()
    offset = {"en": 1.0, "fr": -2.0}  # each language's "teacher" gives another target
    seen_rows: list[int] = []

    def teacher(rows: list[int], language: str | None, device: torch.device) -> dict[str, torch.Tensor]:
        assert {data.languages[i] for i in rows} == {language}
        seen_rows.extend(rows)
        return {"target": torch.full((len(rows),), offset[language])}

    def loss_fn(outputs, targets, model=None):
        return ((outputs["intent"][:, 0] - targets["target"]) ** 2).mean()

    value = make_trainer(eval_batch_size=4).mean_loss(model, data, loss_fn, teacher)
    with torch.no_grad():
        by_hand = [
            (model(torch.tensor([row]), torch.ones(1, len(row), dtype=torch.long))["intent"][0, 0] - offset[lang]) ** 2
            for row, lang in zip(data.input_ids, data.languages, strict=True)
        ]
    assert sorted(seen_rows) == list(range(len(data)))
    assert value == pytest.approx(float(sum(by_hand) / len(by_hand)), rel=1e-5)
