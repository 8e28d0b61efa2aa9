"""The stage store: where each stage keeps its checkpoints, keyed by what the stage was built from.

A stage's key is computed here from the inputs the stage hands over (the config of every model, the trainer
and the objective it uses, digests of the examples it reads and of its teachers' weights) plus a fingerprint
of the code that builds stages and the versions of the libraries it runs on, so nothing is listed by hand and
nothing stale is served: after a change to the data, the config, the code or torch / transformers / tokenizers,
the key differs and the stage is built anew, beside the old one.

Shared stages (``share_stages``; those that depend neither on the target language nor on the student) live
under ``cache_dir/stages/<name>-<digest>``, so a sweep trains them once; the others under the run's
``stages/<name>``. Every stage runs under a file lock, so two jobs that need the same stage at once build it
once: the second waits and then finds it finished. A run's ``stages/<name>`` is the place to look either way
(a link for shared stages); rerunning a run directory with a changed config re-points a shared stage's link
(saying what changed) and refuses to overwrite a run-local stage trained from other inputs."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillx.errors import DistillxError
from distillx.files import (
    atomic_write_json,
    built_with,
    canonical_json,
    digest,
    locked,
    plain_json,
    read_json,
)

log = logging.getLogger(__name__)

BUILDING_CODE = (
    "distillx.data",
    "distillx.distill.btf",
    "distillx.distill.objectives",
    "distillx.distill.pretraining",
    "distillx.distill.stages",
    "distillx.distill.teachers",
    "distillx.files",
    "distillx.labels",
    "distillx.models",
    "distillx.store",
    "distillx.text",
    "distillx.train",
)
"""The code that decides what a stage computes from its inputs: reading and encoding data, models, objectives,
teachers, the training loop. Not the methods, steps, augmentation or translators: what they choose reaches the key
as content (example digests, model identities, objective settings), so adding or editing a method does not
retrain the stages other methods share. Nor reporting, tracking or the command line."""

KEY_FILE = "key.json"


def changes(old: Any, new: Any, prefix: str = "") -> list[str]:
    """``path: old -> new`` for every leaf where two JSON values differ (dotted paths)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in sorted(set(old) | set(new)):
            path = f"{prefix}.{k}" if prefix else str(k)
            if k not in old:
                out.append(f"{path}: (absent) -> {_short(new[k])}")
            elif k not in new:
                out.append(f"{path}: {_short(old[k])} -> (absent)")
            else:
                out.extend(changes(old[k], new[k], path))
        return out
    return [] if old == new else [f"{prefix or 'key'}: {_short(old)} -> {_short(new)}"]


def _short(value: Any) -> str:
    text = canonical_json(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass
class Stage:
    """One stage's directory and key. ``dir`` is the run's ``stages/<name>`` (for shared stages a link into the
    cache); hold :meth:`lock` while building or reading what is in it."""

    name: str
    dir: Path
    real_dir: Path
    key: dict[str, Any]

    @property
    def digest(self) -> str:
        return digest(self.key)

    @contextmanager
    def lock(self) -> Iterator[None]:
        with locked(self.real_dir.parent / f".{self.real_dir.name}.lock", f"stage {self.name}"):
            yield

    @property
    def done(self) -> bool:
        return (self.real_dir / "done.json").exists()


class StageStore:
    """Hands out stage directories by key (see the module docstring)."""

    def __init__(self, output_dir: Path, shared_root: Path | None) -> None:
        self.output_dir = Path(output_dir)
        self.shared_root = None if shared_root is None else Path(shared_root).expanduser()
        self.built_with = built_with(BUILDING_CODE)  # the code and the torch / transformers / tokenizers versions

    def stage(self, name: str, inputs: Mapping[str, Any], *, shared: bool = False) -> Stage:
        """The stage ``name`` built from ``inputs`` (JSON-able; configs and digests), created if new."""
        key = {"stage": name, "inputs": plain_json(inputs), **self.built_with}
        local = self.output_dir / "stages" / name
        if shared and self.shared_root is not None:
            real = self.shared_root / f"{name}-{digest(key)}"
            real.mkdir(parents=True, exist_ok=True)
            if not (real / KEY_FILE).exists():
                atomic_write_json(key, real / KEY_FILE)
            self._link(local, real, key)
            return Stage(name, local, real, key)
        if local.is_symlink():  # shared before, not now (share_stages turned off): the run gets its own
            local.unlink()
        previous = local / KEY_FILE
        if previous.exists():
            old = read_json(previous)
            if old != key:
                raise DistillxError(
                    f"{local}: stage {name} was built from other inputs ({'; '.join(changes(old, key)[:3])}); "
                    "rerun with a new hydra.run.dir, or delete that directory to rebuild it here"
                )
        elif local.exists() and any(local.iterdir()):
            raise DistillxError(
                f"{local}: stage {name} holds results without a {KEY_FILE} (made by an older distillx); "
                "delete that directory or use a new hydra.run.dir"
            )
        local.mkdir(parents=True, exist_ok=True)
        if not previous.exists():
            atomic_write_json(key, previous)
        return Stage(name, local, local, key)

    def _link(self, local: Path, real: Path, key: dict[str, Any]) -> None:
        """Point the run's ``stages/<name>`` at ``real``; a link to another key is re-pointed, saying why."""
        if local.is_symlink():
            current = Path(os.readlink(local))
            if current == real:
                return
            try:
                said = "; ".join(changes(read_json(current / KEY_FILE), key)[:4])
            except (OSError, ValueError):
                said = "its key cannot be read"
            log.warning("stage %s: inputs changed since this run last used it (%s); using %s", local.name, said, real)
            local.unlink()
        elif local.exists():
            raise DistillxError(
                f"{local}: a run-local stage is in the way of the shared one (share_stages was off for this run); "
                "rerun with share_stages=false or a new hydra.run.dir"
            )
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".{local.name}.link")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(real, target_is_directory=True)
        os.replace(tmp, local)  # atomic: the link is always the old one or the new one
