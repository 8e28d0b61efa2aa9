"""A non-editable install (a wheel, used from another directory) finds the configs and the demo data."""

import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_wheel_carries_configs_and_demo_data(tmp_path: Path):
    wheel_dir, site = tmp_path / "wheel", tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(REPO),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = wheel_dir.glob("distillx-*.whl")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
        timeout=300,
    )
    assert (site / "distillx" / "conf" / "config.yaml").is_file()
    assert (site / "distillx" / "data" / "demo" / "zh.jsonl.gz").is_file()
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    probe = "import distillx.cli as c; print(c.__file__); print(c.config_dir())"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=run_dir, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0].startswith(str(site)) and out[1] == str(site / "distillx" / "conf")
    job = subprocess.run(
        [sys.executable, "-m", "distillx.cli", "student=cnn", "--cfg", "job"],
        cwd=run_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert job.returncode == 0, job.stderr
    assert "distillx.models.cnn.CNNEncoder" in job.stdout


def test_help_lists_groups_and_examples():
    out = subprocess.run(
        [sys.executable, "-m", "distillx.cli", "--help"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    for text in (
        "distillx: label-free",
        "student: bilstm, cnn, lean, mblm, mplm, transformer",
        "--multirun",
        "make ui",
    ):
        assert text in out
