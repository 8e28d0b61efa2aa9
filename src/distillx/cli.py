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

from distillx.context import RunContext
from distillx.errors import DistillxError
from distillx.files import atomic_write_json, atomic_write_text
from distillx.report.results import Results
from distillx.track.sweep_callback import parent_run_id_for_job

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


def run(cfg: DictConfig, output_dir: Path, run_name: str, parent_run_id: str | None = None) -> Results:
    """Run ``cfg.method`` and track it; the task body of ``main`` (tests call it with composed configs)."""
    tracker = instantiate(cfg.tracking)
    tracker.start(run_name, cfg, output_dir, parent_run_id=parent_run_id)
    status = "FAILED"
    try:
        tracker.set_tags({"distillx.output_dir": str(output_dir.resolve())})
        ctx = RunContext(cfg, output_dir, tracker)
        results: Results = instantiate(cfg.method).run(ctx)
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
def main(cfg: DictConfig) -> float:
    """Entry point of the ``distillx`` console script."""
    hydra_cfg = HydraConfig.get()
    output_dir = Path(hydra_cfg.runtime.output_dir)
    name = (hydra_cfg.job.override_dirname or f"{cfg.source.code}->{cfg.language.code}")[:250]  # MLflow's limit
    try:
        results = run(cfg, output_dir, name, parent_run_id_for_job(hydra_cfg))
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


if __name__ == "__main__":
    main()
