"""Shared by the benchmark scripts: each owns one ``## `` section of benchmarks/RESULTS.md and replaces only it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def replace_section(path: Path, heading: str, text: str) -> None:
    """Put ``text`` (starting with ``heading``) in place of that section, or append it. The file is re-read just
    before an atomic replace, which is retried if another benchmark changed the file in between."""
    from distillx.files import atomic_write_text  # here: the scripts import distillx after setting up

    text = text.rstrip("\n") + "\n"
    for _ in range(20):
        stamp = path.stat().st_mtime_ns if path.exists() else None
        old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
        start = old.find(heading + "\n")
        if start < 0:
            new = old.rstrip("\n") + "\n\n" + text
        else:  # up to the next level-2 heading; everything else is kept
            nxt = old.find("\n## ", start + len(heading))
            new = old[:start] + text + ("\n" + old[nxt + 1 :] if nxt >= 0 else "")
        if (path.stat().st_mtime_ns if path.exists() else None) == stamp:  # nobody wrote it meanwhile
            atomic_write_text(new, path)
            path.chmod(0o644)
            return
        time.sleep(0.5)
    raise SystemExit(f"{path} kept changing; not updated")


def publish(report: dict[str, Any], json_out: Path, results_md: Path, heading: str, text: str) -> None:
    """Write a benchmark's machine-readable ``report`` (atomically) and its RESULTS.md section ``text``."""
    from distillx.files import atomic_write_json  # here: the scripts import distillx after setting up

    atomic_write_json(report, json_out)
    replace_section(results_md, heading, text)
    print(f"wrote {json_out} and the section {heading!r} of {results_md}")
