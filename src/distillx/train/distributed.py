"""Data-parallel training over N processes on torch.distributed (DDP), with rank 0 the only one that thinks.

Rank 0 is the Hydra job: it prepares data, runs teachers, evaluates, checkpoints and logs to MLflow, exactly as
a 1-process run does. The other ranks hold no pipeline: they wait in :func:`serve` until rank 0 reaches a
training loop, receive that stage's model, data, objective, sampler and on-the-fly teacher, and step through
the same epochs in lockstep (see :meth:`distillx.train.loop.Trainer.fit`), each on its shard of every batch,
their gradients averaged by :class:`torch.nn.parallel.DistributedDataParallel`. So a run has one output
directory, one MLflow run and one writer, whichever way its processes were started:

- ``trainer.devices=N``: rank 0 spawns N-1 workers (:mod:`torch.multiprocessing`) and rendezvouses with them
  through a file in a fresh temporary directory;
- ``trainer.devices=external``: an external launcher (``torchrun``, ``accelerate launch``, ``srun torchrun``)
  started every rank with the same command and an explicit ``hydra.run.dir``; rank and world size come from the
  environment that launcher sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``PORT``).

torch.distributed's process group is process-wide, so the world is too: :func:`current` is what every Trainer
of the run (the stage trainer, the pre-training one) consults."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from transformers import PreTrainedModel

from distillx.errors import DistillxError

log = logging.getLogger(__name__)

EXTERNAL = "external"
"""``trainer.devices`` value for processes started by torchrun and the like."""


@dataclass
class World:
    """This process's place among the ranks of a data-parallel run."""

    rank: int
    size: int
    device: torch.device
    workers: Any = field(default=None, repr=False)  # rank 0 with spawned workers: their ProcessContext

    @property
    def main(self) -> bool:
        return self.rank == 0

    def send(self, obj: Any) -> None:
        """Rank 0: hand ``obj`` to every other rank (:func:`torch.save` bytes, so tensors land on each rank's
        device rather than on rank 0's)."""
        buffer = io.BytesIO()
        with _without_hooks(obj):
            torch.save(obj, buffer)
        payload = torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)
        size = torch.tensor([payload.numel()], dtype=torch.long)
        dist.broadcast(size.to(self.device), src=0)
        dist.broadcast(payload.to(self.device), src=0)

    def receive(self) -> Any:
        """Other ranks: what rank 0 sent with :meth:`send`."""
        size = torch.zeros(1, dtype=torch.long, device=self.device)
        dist.broadcast(size, src=0)
        payload = torch.empty(int(size.item()), dtype=torch.uint8, device=self.device)
        dist.broadcast(payload, src=0)
        obj = torch.load(io.BytesIO(payload.cpu().numpy().tobytes()), map_location=self.device, weights_only=False)
        _register_transformers(obj)
        return obj

    def share(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (small picklable values: the epoch's bookkeeping)."""
        box = [obj if self.main else None]
        dist.broadcast_object_list(box, src=0, device=self.device if self.device.type == "cuda" else None)
        return box[0]

    def sum(self, values: list[float]) -> list[float]:
        """``values`` summed over the ranks, element-wise."""
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def check_replicas(self, model: torch.nn.Module, name: str) -> str:
        """The digest of ``model``'s trainable weights, the same on every rank, or a :class:`DistillxError`:
        replicas that drifted apart would make rank 0's checkpoint the result of one rank, not of the run."""
        mine = weights_digest(model)
        found: list[str | None] = [None] * self.size
        dist.all_gather_object(found, mine)
        if len(set(found)) != 1:
            raise DistillxError(
                f"stage {name}: the {self.size} data-parallel replicas ended with different weights "
                f"({', '.join(f'rank {r}: {d}' for r, d in enumerate(found))}); rerun with trainer.devices=1"
            )
        return mine


def _modules(obj: Any, seen: set[int]) -> Iterator[nn.Module]:
    """The modules held by ``obj`` (a module, a container or a plain object's attributes), each once."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, nn.Module):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _modules(value, seen)
    elif isinstance(obj, list | tuple):
        for value in obj:
            yield from _modules(value, seen)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        yield from _modules(vars(obj), seen)


HOOKS = ("_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called", "_forward_pre_hooks")
CAPTURING = "_output_capturing_hooks_installed"


@contextmanager
def _without_hooks(obj: Any) -> Iterator[None]:
    """``obj``'s modules without their forward hooks for as long as it is pickled: transformers installs output
    capturing hooks (local functions, not picklable) on a model's first call, and reinstalls them on the
    receiving rank's first call when the flag that says they are there is gone too (distillx sets no hooks)."""
    stash = []
    for module in _modules(obj, set()):
        for sub in module.modules():
            stash.append((sub, {name: getattr(sub, name) for name in HOOKS}, sub.__dict__.pop(CAPTURING, None)))
            for name in HOOKS:
                setattr(sub, name, type(getattr(sub, name))())
    try:
        yield
    finally:
        for sub, hooks, flag in stash:
            for name, value in hooks.items():
                setattr(sub, name, value)
            if flag is not None:
                setattr(sub, CAPTURING, flag)


def _register_transformers(obj: Any) -> None:
    """Transformers records which outputs a model class can capture (hidden states, attentions) in a registry
    that the model's ``__init__`` fills; an unpickled model skipped ``__init__``, so those outputs would come
    back None on this rank. One construction of each class on the meta device (no memory) fills it."""
    classes = {}
    for module in _modules(obj, set()):
        for sub in module.modules():
            if isinstance(sub, PreTrainedModel):
                classes.setdefault(type(sub), sub.config)
    for cls, config in classes.items():
        with torch.device("meta"):
            cls(config)


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 of the trainable parameters' bytes: equal only for bitwise-equal weights."""
    h = hashlib.sha256()
    for name, p in model.named_parameters():
        if p.requires_grad:
            h.update(name.encode())
            h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


_WORLD: World | None = None


def current() -> World | None:
    """The data-parallel world of this process, or None for a 1-process run."""
    return _WORLD


def _backend(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def _rank_device(device: torch.device, local_rank: int) -> torch.device:
    if device.type != "cuda":
        return device
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


def _worker(index: int, init: str, size: int, device: str, threads: int | None, timeout_s: float) -> None:
    """A spawned rank (``index`` + 1): join the group, then train whenever rank 0 asks (:func:`serve`)."""
    global _WORLD
    if threads is not None:
        torch.set_num_threads(threads)
    rank = index + 1
    where = _rank_device(torch.device(device), rank)
    dist.init_process_group(
        _backend(where), init_method=init, rank=rank, world_size=size, timeout=timedelta(seconds=timeout_s)
    )
    _WORLD = World(rank, size, where)
    try:
        serve(_WORLD)
    except DistillxError as err:  # rank 0 meets the same condition and says so; this line names the rank
        print(f"distillx: rank {rank}: error: {err}", file=sys.stderr)
        raise
    except BaseException:  # otherwise lost in torch.multiprocessing's error queue, which nobody joins mid-run
        traceback.print_exc()
        raise
    finally:
        dist.destroy_process_group()


def serve(world: World) -> None:
    """A rank other than 0: run each training loop rank 0 sends (``(trainer, job)``) until it sends None."""
    while (message := world.receive()) is not None:
        trainer, job = message
        trainer.train_replica(job)


@contextmanager
def data_parallel(
    devices: int | str, device: torch.device, threads: int | None, timeout_s: float
) -> Iterator[World | None]:
    """The world of this run for ``trainer.devices`` (None for 1 process), torn down on the way out: workers
    are told to stop, or terminated when rank 0 failed mid-stage (they would wait on it until the timeout)."""
    global _WORLD
    if devices == 1:
        yield None
        return
    if devices == EXTERNAL:
        missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
        if missing:
            raise DistillxError(
                f"trainer.devices=external but {', '.join(missing)} not set: start the run with torchrun "
                "(e.g. torchrun --nproc-per-node=2 -m distillx.cli hydra.run.dir=DIR trainer.devices=external) "
                "or use trainer.devices=N"
            )
        where = _rank_device(device, int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(_backend(where), timeout=timedelta(seconds=timeout_s))
        _WORLD = World(dist.get_rank(), dist.get_world_size(), where)
    else:
        if not isinstance(devices, int) or devices < 1:
            raise DistillxError(f"trainer.devices={devices!r}: give a number of processes >= 1, or external")
        if device.type == "cuda" and devices > torch.cuda.device_count():
            raise DistillxError(
                f"trainer.devices={devices} but {torch.cuda.device_count()} GPUs are visible; lower trainer.devices"
            )
        rendezvous = Path(tempfile.mkdtemp(prefix="distillx-ddp-")) / "init"
        init = rendezvous.as_uri()
        workers = mp.start_processes(
            _worker,
            args=(init, devices, str(device), threads, timeout_s),
            nprocs=devices - 1,
            join=False,
            start_method="spawn",
        )
        where = _rank_device(device, 0)
        dist.init_process_group(
            _backend(where), init_method=init, rank=0, world_size=devices, timeout=timedelta(seconds=timeout_s)
        )
        _WORLD = World(0, devices, where, workers)
    log.info("data-parallel: rank %d of %d on %s", _WORLD.rank, _WORLD.size, _WORLD.device)
    world, failed = _WORLD, True
    try:
        yield world
        failed = False
    finally:
        _WORLD = None
        _stop(world, failed)


def _stop(world: World, failed: bool) -> None:
    """Release the other ranks: rank 0 sends the stop message (or, failed, terminates its spawned workers)."""
    if world.main and not failed:
        world.send(None)
    if world.workers is not None:
        if failed:
            for process in world.workers.processes:
                process.terminate()
        for process in world.workers.processes:
            process.join(timeout=60)
    dist.destroy_process_group()
