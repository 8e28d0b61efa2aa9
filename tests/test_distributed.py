"""Data-parallel training on 2 gloo processes (torch DDP): one writer, shards, and the 1-process result."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import mlflow
import pytest
import torch
from conftest import TINY, compose_config
from test_lean import TINY_LEAN
from test_trainer import make_trainer
from torch import nn

from distillx.cli import run
from distillx.distill.objectives import HardCrossEntropy
from distillx.errors import DistillxError
from distillx.models.heads import TaskHeads
from distillx.models.transformer import TransformerEncoder
from distillx.train.batching import EncodedSet
from distillx.train.distributed import data_parallel

CPU = torch.device("cpu")


class CountingCE(HardCrossEntropy):
    """Cross-entropy that counts the rows it sees in this process."""

    rows = 0

    def forward(self, outputs, targets, model=None):
        CountingCE.rows += targets["intent"].numel()
        return super().forward(outputs, targets, model=model)


def toy_data(n: int = 61) -> EncodedSet:
    g = torch.Generator().manual_seed(0)
    rows = [torch.randint(2, 8, (3 + i % 5,), generator=g).tolist() for i in range(n)]
    labels = [int(7 in row) for row in rows]
    return EncodedSet(rows, pad_id=0, targets={"intent": torch.tensor(labels)})


def train_toy(tmp_path: Path, name: str, evaluate=None) -> tuple[nn.Module, list[float]]:
    """Three epochs of a dropout-free toy model (so 1 and 2 processes see the same function): batches of 5 rows
    (shards of 3 and 2) and one of 1 (rank 1 gets its row at weight 0)."""
    torch.manual_seed(0)
    model = TaskHeads(TransformerEncoder(10, 16, 16, 1, 2, 32, 0.0, 16), num_intents=2, dropout=0.0)
    trainer = make_trainer(optimizer=functools.partial(torch.optim.AdamW), epochs=3, batch_size=5, threads=1)
    data = toy_data()
    scores = iter(range(1, 100))  # every epoch better: the last one is kept
    evaluate = evaluate or (lambda m: {"s": float(next(scores))})
    result = trainer.fit(model, data, CountingCE(), evaluate, "s", 3e-3, tmp_path / name, print, name)
    assert result.best_epoch == 3
    return model, [h["train_loss"] for h in result.history]


def logits(model: nn.Module) -> torch.Tensor:
    data = toy_data()
    trainer = make_trainer(optimizer=functools.partial(torch.optim.AdamW))
    return trainer.predict(model, data)["intent"]


def test_two_gloo_processes_train_like_one_with_the_same_global_batch(tmp_path: Path, caplog):
    """The 2-process run: each rank trains on half of every batch (rank 0 sees half the rows), the replicas end
    identical (checked by the trainer, logged), rank 0 alone writes the stage, and the result equals that of one
    process with the same global batch up to float summation order. Stated tolerance: epoch losses within 1e-6
    (relative) and the trained model's logits within 1e-4. Not the raw weights: parameters whose gradient is
    zero in exact arithmetic (attention key biases) get float noise that Adam normalises into full-size steps."""
    CountingCE.rows = 0
    single, single_losses = train_toy(tmp_path, "one")
    assert CountingCE.rows == 3 * 61

    CountingCE.rows = 0
    caplog.set_level(logging.INFO)
    with data_parallel(2, CPU, threads=1, timeout_s=120) as world:
        assert world is not None and world.main and world.size == 2
        parallel, parallel_losses = train_toy(tmp_path, "two")
    assert CountingCE.rows == 3 * (12 * 3 + 1)  # rank 0's shards: 3 of each batch of 5, the lone row
    assert "stage two: weights identical on the 2 ranks" in caplog.text
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["best.pt", "done.json"]
    assert parallel_losses == pytest.approx(single_losses, rel=1e-6)
    trained = logits(single)
    torch.testing.assert_close(logits(parallel), trained, rtol=0, atol=1e-4)
    torch.manual_seed(0)
    untrained = TaskHeads(TransformerEncoder(10, 16, 16, 1, 2, 32, 0.0, 16), num_intents=2, dropout=0.0)
    assert (logits(untrained) - trained).abs().max() > 0.1  # the models compared did train


def test_a_two_process_stage_killed_mid_way_resumes_from_its_last_epoch(tmp_path: Path):
    """Rank 0 fails during epoch 2's evaluation: the worker is stopped, last.pt holds epoch 1, and a new 2-process
    world continues from there (the worker receives the optimizer state) to the weights of an uninterrupted run."""
    with data_parallel(2, CPU, threads=1, timeout_s=120):
        whole, _ = train_toy(tmp_path, "whole")

    def failing(name: str) -> None:
        calls = iter(range(1, 100))

        def evaluate(_: nn.Module) -> dict[str, float]:
            if next(calls) == 2:
                raise RuntimeError("killed")
            return {"s": 1.0}

        return evaluate

    with pytest.raises(RuntimeError, match="killed"), data_parallel(2, CPU, threads=1, timeout_s=120):
        train_toy(tmp_path, "resumed", evaluate=failing("resumed"))
    assert sorted(p.name for p in (tmp_path / "resumed").iterdir()) == ["best.pt", "last.pt"]
    with data_parallel(2, CPU, threads=1, timeout_s=120):
        resumed, _ = train_toy(tmp_path, "resumed")
    torch.testing.assert_close(logits(resumed), logits(whole), rtol=0, atol=1e-6)


def test_a_run_on_two_processes_has_one_output_directory_and_one_mlflow_run(tmp_path: Path, shared_cache, caplog):
    """``trainer.devices=2`` from one job: every stage of the demo's ft-distill (pre-training distillation, the
    teacher, intermediate-layer KD with the teacher run on each rank's batches, prediction KD) trains on both
    ranks; Hugging Face models already run once on rank 0 (output-capturing hooks installed) reach the worker
    and return their hidden states there; the run leaves one output directory and one MLflow run."""
    cfg = compose_config(
        [*TINY_LEAN, "method=ft_distill", "trainer.devices=2", "trainer.threads=1"],
        tmp_path,
        shared_cache,
    )
    caplog.set_level(logging.INFO)
    out = tmp_path / "run"
    results = run(cfg, out, "ddp")
    assert results is not None and (out / "results.json").exists()
    for stage in ("pretrain_distill", "teacher_en", "ft_distill_student_intermediate", "ft_distill_student"):
        assert f"stage {stage}: weights identical on the 2 ranks" in caplog.text
    store = ("mlflow.db", ".mlflow.db.lock", "mlartifacts")  # the tracking store, its lock and artifacts
    assert [p.name for p in tmp_path.iterdir() if p.name not in store] == ["run"]
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert "test/student/zh/accuracy" in runs[0].data.metrics


@pytest.mark.parametrize(
    ("devices", "message"),
    [(0, "trainer.devices"), ("external", "trainer.devices=external but RANK")],
)
def test_impossible_process_counts_stop_with_one_line(tmp_path: Path, monkeypatch, devices, message):
    for key in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    cfg = compose_config([*TINY, f"trainer.devices={devices}"], tmp_path)
    with pytest.raises(DistillxError, match=message) as err:
        run(cfg, tmp_path / "run", "bad")
    assert "\n" not in str(err.value)
