"""Shared by the benchmark scripts: each owns one ``## `` section of benchmarks/RESULTS.md and replaces only it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def section_bounds(text: str, heading: str) -> tuple[int, int] | None:
    """Where ``heading``'s section lies in ``text``: from its heading up to the next level-2 heading (or the end)."""
    start = text.find(heading + "\n")
    if start < 0:
        return None
    nxt = text.find("\n## ", start + len(heading))
    return start, nxt + 1 if nxt >= 0 else len(text)


def read_section(path: Path, heading: str) -> str | None:
    """``heading``'s section of ``path`` as written (None when either is missing): what a script that rewrites
    only part of its section keeps."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    bounds = section_bounds(text, heading)
    return None if bounds is None else text[bounds[0] : bounds[1]]


def replace_section(path: Path, heading: str, text: str) -> None:
    """Put ``text`` (starting with ``heading``) in place of that section, or append it. The file is re-read just
    before an atomic replace, which is retried if another benchmark changed the file in between."""
    from distillx.files import atomic_write_text  # here: the scripts import distillx after setting up

    text = text.rstrip("\n") + "\n"
    for _ in range(20):
        stamp = path.stat().st_mtime_ns if path.exists() else None
        old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
        bounds = section_bounds(old, heading)
        if bounds is None:
            new = old.rstrip("\n") + "\n\n" + text
        else:  # everything outside the section is kept
            start, end = bounds
            new = old[:start] + text + ("\n" + old[end:] if end < len(old) else "")
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
