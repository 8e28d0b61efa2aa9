"""The one training loop behind every stage (teacher, KD step 1, KD step 2, baselines).

AdamW + linear warmup/decay, gradient clipping, AMP, best-dev checkpoint, early stopping, and a
checkpoint after every epoch so a killed run resumes where it stopped. A step whose loss or gradients are not
finite is skipped; a run of them stops the stage with the last good checkpoints kept, rather than finishing with
garbage weights that would be reported as if they had trained."""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from distillx.errors import DistillxError
from distillx.files import atomic_torch_save, atomic_write_json, file_digest, read_json
from distillx.train import distributed
from distillx.train.batching import WORD_LEVEL, EncodedSet, Target, collate, collate_targets, sequential_batches
from distillx.train.checkpoint import frozen_fingerprint, load_weights, restore_weights, weights_state
from distillx.train.lr_range import RULES, lr_range_test, plot_lr_range
from distillx.train.precision import autocast, grad_scaler, resolve_device, resolve_precision
from distillx.train.sampling import MixedBatches

log = logging.getLogger(__name__)

LossFn = Callable[..., "torch.Tensor | tuple[torch.Tensor, Mapping[str, float]]"]
"""An objective: ``(student outputs, targets, model=...)`` -> loss, or (loss, each term's value for the log)."""
TeacherFn = Callable[[list[int], "str | None", torch.device], Mapping[str, torch.Tensor]]
"""A teacher run on the fly: ``(row indices, batch language, device)`` -> its outputs for those rows (features
included) on ``device``. Picklable (see :class:`distillx.distill.teachers.BatchTeacher`): data-parallel ranks
receive it with the stage."""
Sampler = Any
"""Draws an epoch's batches: ``epoch(lengths, languages, batch_size, generator)`` (see :mod:`.sampling`)."""
Evaluate = Callable[[nn.Module], Mapping[str, float]]
LogMetrics = Callable[[Mapping[str, float], int], None]

LR_RANGE_DEFAULTS: dict[str, Any] = {
    "enabled": False,
    "min_lr": 1e-7,
    "max_lr": 1.0,
    "steps": 100,
    "rule": "min_div10",
    "smooth": 0.98,
    "diverge_factor": 4.0,
    "stages": None,
}
"""``trainer.lr_range_test``: keys a config may set (see :func:`distillx.train.lr_range.lr_range_test`)."""


def lr_range_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The range-test settings with defaults filled in, checked when the trainer is built rather than mid-run."""
    given = dict(options or {})
    unknown = sorted(set(given) - set(LR_RANGE_DEFAULTS))
    if unknown:
        raise DistillxError(f"trainer.lr_range_test: unknown keys {unknown}; known: {sorted(LR_RANGE_DEFAULTS)}")
    merged = {**LR_RANGE_DEFAULTS, **given}
    if merged["rule"] not in RULES:
        raise DistillxError(f"trainer.lr_range_test.rule={merged['rule']!r}: choose one of {', '.join(RULES)}")
    if not 0 < float(merged["min_lr"]) < float(merged["max_lr"]) or int(merged["steps"]) < 2:
        raise DistillxError("trainer.lr_range_test needs 0 < min_lr < max_lr and steps >= 2")
    return merged


@dataclass
class StageResult:
    """What a finished stage leaves behind (also written to ``done.json`` in its directory)."""

    best_epoch: int
    best_score: float
    epochs_run: int
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the epochs (training + evaluation) summed over resumes; 0: not recorded
    weights: str | None = None  # digest of the best checkpoint: what a model trained here is known by


@dataclass
class ReplicaJob:
    """One stage's training as every data-parallel rank needs it (sent to the other ranks by rank 0)."""

    model: nn.Module
    train: EncodedSet
    loss_fn: LossFn
    lr: float
    name: str
    sampler: Sampler
    teacher: TeacherFn | None
    resume: dict[str, Any] | None  # optimizer, scheduler, scaler and loop state of last.pt


@dataclass
class _Keeper:
    """What only rank 0 holds: the dev evaluation, the stage directory and the metrics log."""

    evaluate: Evaluate
    select: str
    log_metrics: LogMetrics
    stage_dir: Path
    fingerprint: dict[str, list]


class TrainStep(nn.Module):
    """Student forward (under autocast) and objective in one module, so DDP sees every parameter the loss uses,
    the projections of intermediate matches included, and finds the unused ones (other MBLM branches)."""

    def __init__(self, model: nn.Module, loss_fn: LossFn, features: bool, device: torch.device, precision: str):
        super().__init__()
        self.model = model
        self.features, self.device, self.precision = features, device, precision
        object.__setattr__(self, "loss_fn", loss_fn)  # not a submodule: an objective holds no trained weights

    def forward(self, batch: dict[str, Any], targets: dict[str, torch.Tensor]) -> Any:
        with autocast(self.device, self.precision):
            outputs = self.model(**batch, features=True) if self.features else self.model(**batch)
        return self.loss_fn(outputs, targets, model=self.model)


def linear_schedule(optimizer: torch.optim.Optimizer, total_steps: int, warmup_ratio: float):
    """Linear warmup to the initial LR over ``warmup_ratio`` of the steps, then linear decay to 0."""
    warmup = int(total_steps * warmup_ratio)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def advance(scheduler: torch.optim.lr_scheduler.LRScheduler) -> None:
    """One step of the schedule, trained or skipped (so a skip does not shift the schedule), without PyTorch's
    warning that the scheduler stepped before the optimizer: after a skipped first step that is intended."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"Detected call of `lr_scheduler\.step\(\)` before", UserWarning)
        scheduler.step()


class Trainer:
    """Runs stages. Built by Hydra from the ``trainer`` config group; ``optimizer`` is a partial."""

    def __init__(
        self,
        optimizer: Callable[..., torch.optim.Optimizer],
        epochs: int = 50,
        batch_size: int = 32,
        eval_batch_size: int = 128,
        warmup_ratio: float = 0.1,
        max_grad_norm: float = 1.0,
        patience: int | None = 10,
        bucket_batches: int = 50,
        device: str = "auto",
        precision: str = "auto",
        seed: int = 42,
        progress: bool = True,
        lr_range_test: Mapping[str, Any] | None = None,
        threads: int | None = None,
        max_nonfinite_steps: int = 20,
        devices: int | str = 1,
        dist_timeout_s: float = 1800.0,
    ) -> None:
        # checked here, when the run starts, rather than after the data and the models have been prepared
        for key, value in (
            ("epochs", epochs),
            ("batch_size", batch_size),
            ("eval_batch_size", eval_batch_size),
            ("max_nonfinite_steps", max_nonfinite_steps),
        ):
            if value < 1:
                raise DistillxError(f"trainer.{key}={value}: must be >= 1")
        self.optimizer_factory = optimizer
        self.epochs = epochs
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.warmup_ratio = warmup_ratio
        self.max_grad_norm = max_grad_norm
        self.patience = patience
        self.bucket_batches = bucket_batches
        self.device = resolve_device(device)
        if self.device.type == "cuda":  # same seed, same machine, same result: no autotuned or racy kernels
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
            torch.use_deterministic_algorithms(True, warn_only=True)  # ops without a deterministic kernel warn
        self.precision = resolve_precision(precision, self.device)
        self.seed = seed
        self.progress = progress
        self.lr_range = lr_range_options(lr_range_test)
        self.max_nonfinite_steps = max_nonfinite_steps
        # The data-parallel processes are started by the command line before any trainer exists (rank 0 is the
        # job; see distillx.train.distributed); the trainer finds them through distributed.current().
        self.devices, self.dist_timeout_s = devices, dist_timeout_s
        if threads is not None:  # process-wide: torch has one intra-op pool
            if threads < 1:
                raise DistillxError(f"trainer.threads={threads}: give a positive number of CPU threads, or null")
            torch.set_num_threads(threads)

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict(self, model: nn.Module, data: EncodedSet, desc: str = "predict") -> dict[str, Target]:
        """The model's outputs in float32 on the CPU, in the order of ``data``: sentence-level ones stacked
        ``[N, ...]``, word-level ones (``slots``, ``word_mask``) as one ``[W_i, ...]`` tensor per example."""
        model.to(self.device).eval()
        lengths = [len(r) for r in data.input_ids]
        rows: dict[str, list[torch.Tensor | None]] = {}
        batches = sequential_batches(lengths, self.eval_batch_size)
        for idx in tqdm(batches, desc=desc, leave=False, disable=not self.progress):
            with autocast(self.device, self.precision):
                outputs = model(**collate(data, idx, self.device))
            for head, values in outputs.items():
                values = values.cpu() if values.dtype == torch.bool else values.float().cpu()
                column = rows.setdefault(head, [None] * len(data))
                for i, row in zip(idx, values, strict=True):
                    column[i] = row[: len(data.word_index[i])] if head in WORD_LEVEL else row
        return {head: column if head in WORD_LEVEL else torch.stack(column) for head, column in rows.items()}

    def mean_loss(self, model: nn.Module, data: EncodedSet, loss_fn: LossFn, teacher: TeacherFn) -> float:
        """``loss_fn`` averaged over ``data`` without training, on batches of one language each (so a per-language
        teacher or branch gets its own): how a stage with no output to score (intermediate matches only) is
        judged on dev."""
        model.to(self.device).eval()
        features = bool(getattr(loss_fn, "needs_features", None))
        languages = data.languages or [None] * len(data)
        total, seen = 0.0, 0
        with torch.no_grad():
            for language in dict.fromkeys(languages):
                rows = [i for i, lang in enumerate(languages) if lang == language]
                lengths = [len(data.input_ids[i]) for i in rows]
                for idx in sequential_batches(lengths, self.eval_batch_size):
                    picked = [rows[i] for i in idx]
                    batch = collate(data, picked, self.device)
                    with autocast(self.device, self.precision):
                        targets = dict(teacher(picked, language, self.device))
                        outputs = model(**batch, features=True) if features else model(**batch)
                        loss = loss_fn(outputs, targets, model=model)
                    loss = loss[0] if isinstance(loss, tuple) else loss
                    total += loss.item() * len(picked)
                    seen += len(picked)
        return total / max(1, seen)

    # ------------------------------------------------------------------ training
    def fit(
        self,
        model: nn.Module,
        train: EncodedSet,
        loss_fn: LossFn,
        evaluate: Evaluate,
        select: str,
        lr: float,
        stage_dir: Path,
        log_metrics: LogMetrics,
        name: str,
        *,
        sampler: Sampler | None = None,
        teacher: TeacherFn | None = None,
        lr_search: bool = True,
    ) -> StageResult:
        """Train ``model`` on ``train`` and leave it holding the weights of the best epoch by ``select``.

        ``loss_fn`` compares the model's outputs with the batch's rows of ``train.targets`` (stored teacher outputs
        or label ids), merged with what ``teacher`` computes for the batch when a teacher runs on the fly.
        ``sampler`` draws each epoch's batches (default: length-bucketed batches of mixed languages); a batch of
        one language passes its code to the model (``language=``) and to ``teacher``.

        A finished stage (``done.json`` present) is not run again: its best weights are loaded. An
        unfinished one continues from ``last.pt``. With ``lr_range_test.enabled`` a fresh stage replaces ``lr``
        by the range test's suggestion (see :meth:`_initial_lr`), unless ``lr_search`` is false (a pre-trained
        model, whose config's LR stands).

        A step whose loss or gradient norm is not finite is skipped (counted per epoch as ``skipped_steps``);
        ``max_nonfinite_steps`` of them in a row raise a :class:`DistillxError`, leaving ``last.pt`` and
        ``best.pt`` of the last good epoch as they were. An epoch that ends in skipped steps is neither evaluated
        nor checkpointed, and one whose ``select`` score is not finite is never the best: a stage with no best
        epoch fails instead of finishing without weights."""
        stage_dir = Path(stage_dir)
        best_path, last_path, done_path = (
            stage_dir / "best.pt",
            stage_dir / "last.pt",
            stage_dir / "done.json",
        )
        model.to(self.device)
        if done_path.exists():
            load_weights(model, best_path, self.device)
            log.info("stage %s already finished in %s: loaded its best checkpoint", name, stage_dir)
            done = {k: v for k, v in read_json(done_path).items() if k != "weights"}
            return StageResult(**done, weights=file_digest(best_path))
        if train.targets is None:
            raise ValueError(f"stage {name}: training data has no targets")

        if lr_search:
            lr = self._initial_lr(model, train, loss_fn, lr, stage_dir, log_metrics, name, last_path.exists())
        resume = None
        if last_path.exists():
            ckpt = torch.load(last_path, map_location=self.device, weights_only=False)
            restore_weights(model, ckpt["model"], last_path)
            torch.set_rng_state(ckpt["rng"])
            resume = {k: ckpt[k] for k in ("optimizer", "scheduler", "scaler")}
            resume["state"] = {"seconds": 0.0, "nonfinite": 0, **ckpt["state"]}  # older checkpoints lack these
            log.info("stage %s: resuming after epoch %d from %s", name, resume["state"]["epoch"], last_path)
        job = ReplicaJob(
            model=model,
            train=train,
            loss_fn=loss_fn,
            lr=lr,
            name=name,
            sampler=sampler if sampler is not None else MixedBatches(self.bucket_batches),
            teacher=teacher,
            resume=resume,
        )
        world = distributed.current()
        if world is not None:
            world.send((self, job))  # the other ranks train the same epochs in step (see train_replica)
        keeper = _Keeper(evaluate, select, log_metrics, stage_dir, frozen_fingerprint(model))
        state = self._epochs(job, keeper)

        if not state["best_epoch"]:
            if not state["history"]:  # every epoch ended in skipped steps
                raise self._diverged(name, state["nonfinite"], state["last_skip"], lr, stage_dir)
            raise DistillxError(
                f"stage {name}: {select} was not finite in any of its {state['epoch']} epochs, so none can be kept "
                f"as the best (in {stage_dir}); check the dev set and the evaluation"
            )
        result = StageResult(
            best_epoch=state["best_epoch"],
            best_score=state["best_score"],
            epochs_run=state["epoch"],
            history=state["history"],
            seconds=state["seconds"],
        )
        atomic_write_json(result.__dict__, done_path)
        last_path.unlink(missing_ok=True)  # the best weights are kept; the resume state is no longer needed
        if state["best_epoch"] != state["epoch"]:  # else the model already holds them
            load_weights(model, best_path, self.device)
        result.weights = file_digest(best_path)
        return result

    def train_replica(self, job: ReplicaJob) -> None:
        """A rank other than 0 (see :mod:`.distributed`): train ``job`` in step with rank 0, which alone
        evaluates, checkpoints and logs; this rank's weights are checked against rank 0's at the end."""
        self.device = distributed.current().device
        self._epochs(job, None)

    def _epochs(self, job: ReplicaJob, keeper: _Keeper | None) -> dict[str, Any]:
        """The epochs of one stage on this rank: every rank draws the same batches (one generator per epoch
        from the seed) and trains on its share of each (``rows[rank::size]``); rank 0 (``keeper``) scores,
        checkpoints and logs each epoch and hands the bookkeeping that decides when to stop to the others."""
        world = distributed.current()
        model, train, name = job.model.to(self.device), job.train, job.name
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = self.optimizer_factory(params, lr=job.lr)
        steps_per_epoch = math.ceil(len(train) / self.batch_size)
        scheduler = linear_schedule(optimizer, steps_per_epoch * self.epochs, self.warmup_ratio)
        scaler = grad_scaler(self.device, self.precision)
        # nonfinite: the current run of skipped steps, which may span epochs
        state: dict[str, Any] = {
            "epoch": 0,
            "best_score": -math.inf,
            "best_epoch": 0,
            "bad_epochs": 0,
            "history": [],
            "seconds": 0.0,
            "nonfinite": 0,
        }
        if job.resume is not None:
            optimizer.load_state_dict(job.resume["optimizer"])
            scheduler.load_state_dict(job.resume["scheduler"])
            scaler.load_state_dict(job.resume["scaler"])
            state = dict(job.resume["state"])
        if world is not None and not world.main:  # dropout differs per rank; the averaged gradients do not
            torch.manual_seed(self.seed * 1000 + world.rank)
        lengths = [len(r) for r in train.input_ids]
        features = bool(getattr(job.loss_fn, "needs_features", None))  # intermediate matches: hidden states too
        step_fn: nn.Module = TrainStep(model, job.loss_fn, features, self.device, self.precision)
        if world is not None:  # gradients averaged over the ranks; teachers stay outside, never synchronised
            ids = [self.device.index] if self.device.type == "cuda" else None
            step_fn = nn.parallel.DistributedDataParallel(step_fn, device_ids=ids, find_unused_parameters=True)
        scale = scaler.get_scale()  # fp16: the scaler lowers it when it skips a step with inf/NaN gradients
        state.setdefault("last_skip", (0, 0))  # (epoch, step) of the last skipped step, for the error
        while state["epoch"] < self.epochs and not self._patience_spent(state):
            epoch = state["epoch"] + 1
            started = time.monotonic()
            generator = torch.Generator().manual_seed(self.seed * 1000 + epoch)
            batches = job.sampler.epoch(lengths, train.languages, self.batch_size, generator)
            model.train()
            total, seen, skipped = 0.0, 0, 0
            parts: dict[str, float] = {}
            show = self.progress and (world is None or world.main)
            bar = tqdm(batches, desc=f"{name} epoch {epoch}/{self.epochs}", leave=False, disable=not show)
            for step, idx in enumerate(bar, 1):
                rows, share = idx, 1.0
                if world is not None:  # this rank's shard and its share of the batch
                    rows = idx[world.rank :: world.size]
                    share = len(rows) / len(idx)
                    if not rows:  # a batch smaller than the world: a row at weight 0 (DDP wants every rank)
                        rows = idx[:1]
                batch = collate(train, rows, self.device)
                targets = collate_targets(train.targets, rows, self.device)
                if job.teacher is not None:
                    with torch.no_grad(), autocast(self.device, self.precision):
                        targets.update(job.teacher(rows, batch.get("language"), self.device))
                loss = step_fn(batch, targets)
                terms: Mapping[str, float] = {}
                if isinstance(loss, tuple):
                    loss, terms = loss
                if world is None:
                    value = loss.item()  # synced before backward, so a non-finite loss never reaches the gradients
                else:  # the batch's loss: each rank's share weighted by its rows, so the mean is over the batch
                    summed = world.sum([loss.item() * share, *(v * share for v in terms.values())])
                    value, terms = summed[0], dict(zip(terms, summed[1:], strict=True))
                    loss = loss * (share * world.size)  # DDP averages over ranks: back to the batch mean
                finite = math.isfinite(value)
                optimizer.zero_grad(set_to_none=True)
                if finite or world is not None:  # DDP expects every forward's backward; its grads are dropped
                    scaler.scale(loss).backward()
                if finite and self.max_grad_norm:
                    scaler.unscale_(optimizer)
                    norm = torch.nn.utils.clip_grad_norm_(params, self.max_grad_norm)
                    finite = scaler.is_enabled() or math.isfinite(norm.item())  # a scaler checks them itself
                if finite:
                    scaler.step(optimizer)
                    scaler.update()
                    before, scale = scale, scaler.get_scale()
                    finite = scale >= before
                advance(scheduler)
                if not finite:
                    optimizer.zero_grad(set_to_none=True)  # drop inf/NaN gradients
                    skipped += 1
                    state["nonfinite"] += 1
                    state["last_skip"] = (epoch, step)
                    if state["nonfinite"] >= self.max_nonfinite_steps:
                        where = keeper.stage_dir if keeper is not None else None
                        raise self._diverged(name, state["nonfinite"], state["last_skip"], job.lr, where)
                    continue
                state["nonfinite"] = 0
                total += value * len(idx)
                seen += len(idx)
                for term, term_value in terms.items():
                    parts[term] = parts.get(term, 0.0) + term_value * len(idx)
                bar.set_postfix(loss=f"{total / seen:.4f}")
            state["epoch"] = epoch
            if keeper is not None:
                train_metrics = {
                    "train_loss": total / max(1, seen),  # over the steps that trained: the skipped ones are not finite
                    **{f"train_{term}": value / max(1, seen) for term, value in parts.items()},
                    "lr": scheduler.get_last_lr()[0],
                    "skipped_steps": skipped,
                }
                self._end_epoch(job, keeper, state, train_metrics, started, (optimizer, scheduler, scaler))
            if world is not None:
                state = world.share(state)
        if world is not None:
            weights = world.check_replicas(model, name)
            if keeper is not None:
                log.info("stage %s: weights identical on the %d ranks (%s)", name, world.size, weights)
        return state

    def _end_epoch(
        self,
        job: ReplicaJob,
        keeper: _Keeper,
        state: dict[str, Any],
        metrics: dict[str, float],
        started: float,
        optimization: tuple[Any, Any, Any],
    ) -> None:
        """Rank 0 after an epoch: score it, keep it if it is the best, checkpoint the resume state, log."""
        name, epoch, skipped, model = job.name, state["epoch"], metrics["skipped_steps"], job.model
        if skipped:
            log.warning(
                "stage %s epoch %d: skipped %d steps whose loss or gradients were not finite",
                name,
                epoch,
                skipped,
            )
        if state["nonfinite"]:
            # Ended in a run of skipped steps: weights that trained to the point where the loss overflows can
            # still be finite, so the epoch is neither evaluated nor saved; the next epoch (or the error) tells
            # a passing glitch from a divergence.
            log.warning("stage %s epoch %d ended in skipped steps: not evaluated, not checkpointed", name, epoch)
            state["bad_epochs"] += 1
            state["seconds"] += time.monotonic() - started
            keeper.log_metrics({f"{name}/skipped_steps": skipped}, epoch)
            return
        metrics = {**metrics, **keeper.evaluate(model)}
        metrics["epoch_seconds"] = time.monotonic() - started
        state["seconds"] += metrics["epoch_seconds"]
        select = keeper.select
        if select not in metrics:
            raise KeyError(f"stage {name}: selection metric {select!r} not in {sorted(metrics)}")
        score = metrics[select]
        state["history"].append({"epoch": epoch, **metrics})
        if score == 0.0:
            log.warning(
                "stage %s epoch %d: %s is 0, nothing on dev matches its reference yet (in KD: the student "
                "agrees with the teacher on nothing; likely a collapsed teacher, e.g. one that predicts no entity)",
                name,
                epoch,
                select,
            )
        if not math.isfinite(score):
            log.warning("stage %s epoch %d: %s is %s: this epoch cannot be the best", name, epoch, select, score)
            state["bad_epochs"] += 1
        elif score > state["best_score"]:
            state.update(best_score=score, best_epoch=epoch, bad_epochs=0)
            atomic_torch_save(weights_state(model, keeper.fingerprint), keeper.stage_dir / "best.pt")
        else:
            state["bad_epochs"] += 1
        optimizer, scheduler, scaler = optimization
        atomic_torch_save(
            {
                "model": weights_state(model, keeper.fingerprint),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(),
                "rng": torch.get_rng_state(),
                "state": state,
            },
            keeper.stage_dir / "last.pt",
        )
        keeper.log_metrics({f"{name}/{k}": v for k, v in metrics.items()}, epoch)
        log.info("%s epoch %d: %s", name, epoch, ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))

    def _initial_lr(
        self,
        model: nn.Module,
        train: EncodedSet,
        loss_fn: LossFn,
        lr: float,
        stage_dir: Path,
        log_metrics: LogMetrics,
        name: str,
        resuming: bool,
    ) -> float:
        """The stage's initial LR: ``lr``, or the LR range test's suggestion when it is enabled.

        The test runs once per stage, before the optimizer exists; ``lr_range.json`` (written after the plot, so
        it marks both as complete) records the choice, and a restarted stage reads it back instead of sweeping
        again: its optimizer and scheduler state in ``last.pt`` already hold that LR. A suggestion at the bottom
        of the sweep means the loss never fell (too few steps, or a flat start): the stage then keeps ``lr``."""
        stages = self.lr_range["stages"]
        if not self.lr_range["enabled"] or (stages is not None and name not in stages):
            return lr
        record = stage_dir / "lr_range.json"
        if record.exists():
            chosen = float(read_json(record)["chosen_lr"])
            log.info("stage %s: initial LR %.3g from the earlier LR range test in %s", name, chosen, record)
            return chosen
        if resuming:  # started without the range test: last.pt's optimizer state holds the LR it used
            log.warning("stage %s: resuming a run started without the LR range test; keeping its LR", name)
            return lr
        opts = self.lr_range
        result = lr_range_test(
            model,
            train,
            loss_fn,
            self.optimizer_factory,
            min_lr=float(opts["min_lr"]),
            max_lr=float(opts["max_lr"]),
            steps=int(opts["steps"]),
            batch_size=self.batch_size,
            device=self.device,
            precision=self.precision,
            seed=self.seed,
            smooth=float(opts["smooth"]),
            diverge_factor=float(opts["diverge_factor"]),
            rule=str(opts["rule"]),
            max_grad_norm=self.max_grad_norm,
            bucket_batches=self.bucket_batches,
        )
        chosen = result.suggested_lr
        if chosen <= result.lrs[0] * (1 + 1e-6):
            log.warning(
                "stage %s: the LR range test found no fall in the loss (suggestion %.3g at the bottom of the sweep, "
                "see %s); keeping the configured lr %.3g",
                name,
                chosen,
                stage_dir / "lr_range.png",
                lr,
            )
            chosen = lr
        plot_lr_range(result, stage_dir / "lr_range.png")
        atomic_write_json({**result.to_dict(), "chosen_lr": chosen}, record)
        log_metrics({f"{name}/lr_range_suggested": result.suggested_lr}, 0)
        log.info(
            "stage %s: LR range test over %d steps suggests %.3g (%s); initial LR %.3g (config lr was %.3g)",
            name,
            len(result.lrs),
            result.suggested_lr,
            result.rule,
            chosen,
            lr,
        )
        return chosen

    def _diverged(
        self, name: str, count: int, where: tuple[int, int], lr: float, stage_dir: Path | None
    ) -> DistillxError:
        """The one-line error of a stage whose loss or gradients stopped being finite, with the likely cause
        (``stage_dir`` None: a rank other than 0, which keeps no checkpoints)."""
        precision = {"fp16": " or use trainer.precision=bf16/fp32", "bf16": " or use trainer.precision=fp32"}
        kept = [str(stage_dir / f) for f in ("last.pt", "best.pt") if stage_dir and (stage_dir / f).exists()]
        return DistillxError(
            f"stage {name}: loss or gradients were not finite for {count} consecutive steps (epoch {where[0]}, "
            f"step {where[1]}); lower the learning rate (lr={lr:g}){precision.get(self.precision, '')}; "
            + (f"the last good checkpoints are kept: {', '.join(kept)}" if kept else "no epoch trained to a checkpoint")
        )

    def _patience_spent(self, state: dict) -> bool:
        return self.patience is not None and state["bad_epochs"] >= self.patience
