"""The ``distillx`` command: one Hydra ``main()`` that builds every component from the composed config,
runs the chosen method, prints the per-language table, and tracks the run in MLflow."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from distillx.config_check import check_config, check_writable
from distillx.context import RunContext
from distillx.errors import DistillxError
from distillx.files import atomic_write_json, atomic_write_text
from distillx.report.results import Results
from distillx.track.sweep_callback import parent_run_id_for_job
from distillx.train.distributed import data_parallel, serve
from distillx.train.precision import resolve_device

log = logging.getLogger("distillx")


def user_error(err: BaseException) -> DistillxError | None:
    """The DistillxError behind ``err``, also when Hydra's ``instantiate`` wrapped it in its own exception."""
    while err is not None:
        if isinstance(err, DistillxError):
            return err
        err = err.__cause__ or err.__context__
    return None


def config_dir() -> str:
    """The wheel carries the configs inside the package; a source checkout keeps them at the top level."""
    packaged = Path(__file__).resolve().parent / "conf"
    return str(packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "conf")


def run(cfg: DictConfig, output_dir: Path, run_name: str, parent_run_id: str | None = None) -> Results | None:
    """Run ``cfg.method`` and track it; the task body of ``hydra_main`` (tests call it with composed configs).

    With ``trainer.devices`` other than 1 this process is rank 0 of a data-parallel run (see
    :mod:`distillx.train.distributed`); a rank other than 0 started by an external launcher trains when rank 0
    asks and returns None."""
    check_config(cfg, output_dir)  # first: a bad value stops the run before anything is built or written
    trainer = cfg.trainer
    device = resolve_device(trainer.device)
    with data_parallel(trainer.devices, device, trainer.threads, trainer.dist_timeout_s) as world:
        if world is not None and not world.main:
            serve(world)
            return None
        return _tracked_run(cfg, output_dir, run_name, parent_run_id)


def _tracked_run(cfg: DictConfig, output_dir: Path, run_name: str, parent_run_id: str | None) -> Results:
    tracker = instantiate(cfg.tracking)
    tracker.start(run_name, cfg, output_dir, parent_run_id=parent_run_id)
    status = "FAILED"
    try:
        tracker.set_tags({"distillx.output_dir": str(output_dir.resolve())})
        ctx = RunContext(cfg, output_dir, tracker)
        method = instantiate(cfg.method)
        if getattr(method, "translates", False) or getattr(ctx.augmentation, "translates", False):
            _ = ctx.translator  # built now: a missing MT model or language pair stops the run before any training
        results: Results = method.run(ctx)
        atomic_write_json(results.to_dict(), output_dir / "results.json")
        atomic_write_text(results.table() + "\n", output_dir / "results.md")
        tracker.log_metrics(results.metrics())
        if results.notes:  # oracle translation, dev scored as test: visible beside the figures in the UI
            tracker.set_tags({"distillx.notes": " | ".join(results.notes)[:5000]})
        tracker.log_artifact(output_dir / "results.json")
        tracker.log_artifact(output_dir / "results.md")
        for found in sorted((output_dir / "stages").glob("*/lr_range.*")):  # the LR range test's plot and choice
            if found.suffix in (".png", ".json"):
                tracker.log_artifact(found, artifact_path=f"lr_range/{found.parent.name}")
        if cfg.log_checkpoints:
            for best in sorted((output_dir / "stages").glob("*/best.pt")):
                tracker.log_artifact(best, artifact_path=f"checkpoints/{best.parent.name}")
            tracker.log_artifacts(output_dir / "vocab", artifact_path="checkpoints/vocab")
        status = "FINISHED"
        return results
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        tracker.end(status)


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="config")
def hydra_main(cfg: DictConfig) -> float:
    """The Hydra task: one run (one job of a sweep); its return value is what a sweeper optimises."""
    hydra_cfg = HydraConfig.get()
    output_dir = Path(hydra_cfg.runtime.output_dir)
    name = (hydra_cfg.job.override_dirname or f"{cfg.source.code}->{cfg.language.code}")[:250]  # MLflow's limit
    try:
        results = run(cfg, output_dir, name, parent_run_id_for_job(hydra_cfg))
        if results is None:  # a data-parallel rank other than 0: rank 0 reports
            return 0.0
    except Exception as err:
        cause = user_error(err)
        if cause is None:
            raise
        print(f"distillx: error: {cause}", file=sys.stderr)
        sys.exit(2)
    title = results.title or f"{cfg.source.name} -> {cfg.language.name}: test scores (%)"
    print(f"\n{title}\n\n{results.table()}")
    print(f"\noutputs: {output_dir}   compare runs: make ui")
    log.debug("config:\n%s", OmegaConf.to_yaml(cfg))
    return results.sweep_value()


INFO_FLAGS = ("--cfg", "-c", "--help", "-h", "--hydra-help", "--info", "-i", "--shell-completion", "-sc")
"""Hydra options that print something and run no job: no output directory is made."""


MODES = {"--run": "-r", "--multirun": "-m", "--cfg": "-c", "--info": "-i", "--shell-completion": "-sc"}
"""Hydra's ways of running, one at a time (two end in Hydra's ValueError traceback)."""


def check_one_mode(args: list[str]) -> None:
    chosen = [long for long, short in MODES.items() if any(a.split("=", 1)[0] in (long, short) for a in args)]
    if len(chosen) > 1:
        raise DistillxError(
            f"{' and '.join(chosen)} given together: Hydra takes one of {', '.join(MODES)} at a time; keep one"
        )


def check_output_dir_override(args: list[str]) -> None:
    """The output directory given on the command line (``hydra.run.dir=``, ``hydra.sweep.dir=`` with ``-m``), made
    and written to before Hydra starts: Hydra creates it, its log file and ``.hydra/`` before any distillx code runs,
    and reports a failure there as a traceback. A value with interpolations (the default ``${now:...}``) is left to
    Hydra: it is known only once the config is composed."""
    if any(arg.split("=", 1)[0] in INFO_FLAGS for arg in args):
        return
    key = "hydra.sweep.dir" if {"-m", "--multirun"} & set(args) else "hydra.run.dir"
    for arg in args:
        name, _, value = arg.lstrip("+").partition("=")
        value = value.strip("'\"")
        if name == key and value and "${" not in value:
            check_writable(Path(value).expanduser(), f"{key} {value}", key)


def main() -> None:
    """Entry point of the ``distillx`` console script."""
    try:
        check_one_mode(sys.argv[1:])
        check_output_dir_override(sys.argv[1:])
    except DistillxError as err:
        print(f"distillx: error: {err}", file=sys.stderr)
        sys.exit(2)
    hydra_main()


if __name__ == "__main__":
    main()
