"""The whole composed config checked before a run builds anything (tracker, data, models): a value out of range, a
required value left unset, a data or model path that does not exist, a directory that cannot be written. Each one
stops the run at once with one line naming the key and what to do, where it would otherwise fail minutes later with
a traceback, or not fail at all and train on garbage (a temperature of 0 divides the logits by zero).

The value ranges are pydantic models, in one place rather than spread over the code that reads the values;
pydantic's own report is turned into ``<key>=<value>: must be <requirement>``. The components keep their own checks
(the Trainer's, the objectives'), for code that builds them without a config."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from distillx.errors import DistillxError

LOCAL_PATH_PREFIXES = ("/", ".", "~")
"""How an ``mplm.name_or_path`` that means a local directory starts (anything else may be a hub name)."""


class Values(BaseModel):
    """One config section's values. Strict: a string "3" or ``true`` is not a count. Other keys are ignored, and an
    absent key is left to the default of the code that reads it (field defaults are not validated)."""

    model_config = ConfigDict(extra="ignore", strict=True)


class RunValues(Values):
    seed: StrictInt = Field(None, description="an integer")
    max_length: StrictInt = Field(None, ge=1, description="an integer >= 1 (sub-words per utterance)")


class TrainerValues(Values):
    epochs: StrictInt = Field(None, ge=1, description="an integer >= 1")
    batch_size: StrictInt = Field(None, ge=1, description="an integer >= 1")
    eval_batch_size: StrictInt = Field(None, ge=1, description="an integer >= 1")
    warmup_ratio: float = Field(None, ge=0, lt=1, description="in [0, 1)")
    max_grad_norm: float | None = Field(None, ge=0, description=">= 0, or null (no clipping)")
    patience: StrictInt | None = Field(None, ge=1, description="an integer >= 1, or null (run every epoch)")
    threads: StrictInt | None = Field(None, ge=1, description="an integer >= 1, or null (torch's default)")
    max_nonfinite_steps: StrictInt = Field(None, ge=1, description="an integer >= 1")
    devices: Annotated[StrictInt, Field(ge=1)] | Literal["external"] = Field(
        None, description="a number of processes >= 1, or external (started by torchrun)"
    )
    dist_timeout_s: float = Field(None, gt=0, description="seconds > 0")


class SplitValues(Values):
    annotated_fraction: float = Field(None, gt=0, lt=1, description="strictly between 0 and 1")
    limit: StrictInt | None = Field(None, ge=1, description="an integer >= 1, or null (every example)")


class LeanValues(Values):
    layers: StrictInt = Field(None, ge=1, description="an integer >= 1")


class Knobs(Values):
    """Objective and sampler settings, checked wherever they appear under ``method`` and ``lean``."""

    temperature: float = Field(None, gt=0, description="> 0")
    weight: float = Field(None, ge=0, description=">= 0")
    min_confidence: float | None = Field(None, ge=0, le=1, description="in [0, 1], or null")
    alpha: float = Field(None, ge=0, description=">= 0")


TRAINER_OVERRIDES = (
    "lean.pretrain.trainer",
    "method.btf.trainer",
    "method.step_trainer.soft",
    "method.step_trainer.hard",
)


def check_config(cfg: DictConfig, output_dir: Path) -> None:
    """Raise a one-line :class:`DistillxError` for the first problem in ``cfg``; write nothing unless every value is
    in range (the writable checks come last and leave at most the empty directories a run would create anyway)."""
    try:
        check_required(cfg)
        check_values(cfg)
        check_paths(cfg)
        cache_dir = Path(resolved(cfg, "cache_dir")).expanduser()
    except OmegaConfBaseException as err:  # an interpolation that cannot be resolved (``seed=${sed}``)
        where = getattr(err, "full_key", None) or "config"
        raise DistillxError(f"{where}: {str(err).splitlines()[0]}") from None
    check_writable(Path(output_dir), f"hydra.run.dir {output_dir}", "hydra.run.dir")
    check_writable(cache_dir, f"cache_dir={cache_dir}", "cache_dir")


def check_required(cfg: DictConfig) -> None:
    """Every ``???`` left in the composed config (a value a config group asks the user for)."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        key, others = missing[0], missing[1:]
        also = f" (also unset: {', '.join(others)})" if others else ""
        raise DistillxError(f"{key} is required: set it on the command line, e.g. {key}=...{also}")


def check_values(cfg: DictConfig) -> None:
    """The value ranges of the models above, on the resolved config (what the run will read)."""
    validate(RunValues, {key: resolved(cfg, key) for key in ("seed", "max_length") if key in cfg}, "")
    sections = {key: resolved(cfg, key) or {} for key in ("trainer", "split", "lean", "method")}
    validate(TrainerValues, sections["trainer"], "trainer")
    validate(SplitValues, sections["split"], "split")
    validate(LeanValues, sections["lean"], "lean")
    # stages that run the run's trainer with some keys replaced (the papers' per-stage epochs)
    for where in TRAINER_OVERRIDES:
        section, *path = where.split(".")
        overrides = sections[section]
        for key in path:
            overrides = (overrides or {}).get(key) or {}
        validate(TrainerValues, {**sections["trainer"], **overrides}, where)
    for section in ("method", "lean"):
        for key, mapping in mappings(sections[section], section):
            validate(Knobs, mapping, key)


def check_paths(cfg: DictConfig) -> None:
    """The data directory of the datasets that read files, and an mPLM given as a local directory."""
    dataset = resolved(cfg, "dataset") or {}
    if "path" in dataset:  # the readers of files; the embedded demo has none
        path = dataset["path"]
        if not path:
            raise DistillxError("dataset.path is required: set it on the command line, e.g. dataset.path=/path/to/data")
        if not Path(path).expanduser().exists():
            where = Path(path).expanduser().absolute()
            raise DistillxError(
                f"dataset.path={path}: {where} does not exist; point dataset.path at your copy of the data"
            )
    mplm = resolved(cfg, "mplm") or {}
    if mplm.get("build") is not None:  # built by distillx (the demo mPLM): name_or_path is filled in then
        return
    name = mplm.get("name_or_path")
    if not name:
        raise DistillxError("mplm.name_or_path is required: set it on the command line, e.g. mplm.name_or_path=...")
    if str(name).startswith(LOCAL_PATH_PREFIXES) and not Path(name).expanduser().exists():
        raise DistillxError(
            f"mplm.name_or_path={name!r}: no such local directory; point mplm.name_or_path at a Hugging Face model "
            "directory, e.g. one built by ../shared/tools/offline-mplm.sh, or use mplm=demo"
        )


def check_writable(path: Path, label: str, key: str) -> None:
    """Create ``path`` (and its parents) and a temporary file in it: a directory that cannot take files fails here,
    not after the first stage has trained. ``label`` names it in the message, ``key`` is the setting to change."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        reason = f"{err.strerror}: {err.filename}" if err.strerror and err.filename else str(err)
        raise DistillxError(f"{label} is not writable: {reason}; point {key} at a directory you can write to") from None


def resolved(cfg: DictConfig, key: str) -> Any:
    """``cfg[key]`` with its interpolations resolved, as plain Python."""
    node = cfg.get(key)
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def mappings(node: Any, key: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every mapping in the resolved config ``node`` (itself included), with its dotted key."""
    if isinstance(node, Mapping):
        yield key, node
        children: Any = node.items()
    elif isinstance(node, list):
        children = enumerate(node)
    else:
        return
    for name, child in children:
        yield from mappings(child, f"{key}.{name}")


def validate(model: type[Values], values: Any, key: str) -> None:
    """``values`` (the config at ``key``) against ``model``; the first error becomes one line naming its key."""
    try:
        model.model_validate(values)
    except ValidationError as err:
        first = err.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else ""
        dotted = ".".join(part for part in (key, name) if part)
        field = model.model_fields.get(name)
        requirement = f"must be {field.description}" if field and field.description else first["msg"]
        raise DistillxError(f"{dotted}={shown(first['input'])}: {requirement}") from None


def shown(value: Any) -> str:
    """A value as it is written on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
