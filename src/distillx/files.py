"""Atomic writes, content digests and build-once directories: the one place distillx writes what others read.

A file written here is either the old complete version or the new complete version, never half of one, so a
run killed at any moment resumes from what is on disk. A shared directory (a stage, a vocabulary, a built
model) is built under a file lock into a temporary name and renamed into place, so parallel jobs build it
once and the others wait and reuse it. Every key is the SHA-256 of a canonical JSON, cut to 16 hex digits."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from filelock import FileLock, Timeout

log = logging.getLogger(__name__)

DIGEST_CHARS = 16
STALE_AFTER_S = 24 * 3600
"""Leftover ``.build-*``/``.stale-*`` directories (a killed build) older than this are removed by the next build."""


# ---------------------------------------------------------------------------------------------------- writes
def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write`` on a temporary file beside ``path``, fsync it, and rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(data: bytes, path: Path) -> None:
    atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(text: str, path: Path) -> None:
    atomic_write_bytes(text.encode("utf-8"), path)


def atomic_write_json(obj: Any, path: Path) -> None:
    atomic_write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=_plain) + "\n", path)


def atomic_torch_save(obj: Any, path: Path) -> None:
    import torch  # here: the data layer uses this module without needing torch

    atomic_write(path, lambda fh: torch.save(obj, fh))


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------------- digests
def canonical_json(obj: Any) -> str:
    """One spelling per value: sorted keys, no spaces, tuples as lists, paths and configs made plain."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)


def _plain(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=canonical_json)
    from omegaconf import OmegaConf

    if OmegaConf.is_config(obj):
        return OmegaConf.to_container(obj, resolve=True)
    raise TypeError(f"digest: {type(obj).__name__} is not JSON-able ({obj!r:.80}); pass plain values")


def plain_json(obj: Any) -> Any:
    """``obj`` as the plain JSON values it is stored as (tuples as lists, configs as dicts): what a key read back
    from disk compares equal to."""
    return json.loads(canonical_json(obj))


def digest(obj: Any) -> str:
    """The digest of a JSON-able value (its canonical JSON)."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()[:DIGEST_CHARS]


def digest_lines(lines: Iterable[str], prefix: str = "") -> str:
    """The digest of a stream of text lines (examples, word lists) without building one big string."""
    h = hashlib.sha256(prefix.encode("utf-8"))
    for line in lines:
        h.update(line.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()[:DIGEST_CHARS]


def file_digest(path: Path) -> str:
    """The digest of a file's content."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:DIGEST_CHARS]


def code_fingerprint(packages: Iterable[str]) -> str:
    """The digest of the Python sources of ``packages``: results built by other code are other results.

    The version number does not change while the code does (a development checkout, a patched module), so a
    cache or a stage keyed by it alone would serve what the old code built. Hashing the sources of a few
    dozen small files takes about a millisecond."""
    h = hashlib.sha256()
    for name in packages:
        module = __import__(name, fromlist=["__name__"])
        base = Path(module.__file__)
        files = [base] if base.name != "__init__.py" else sorted(base.parent.rglob("*.py"))
        root = base.parent
        for file in files:
            h.update(f"{name}/{file.relative_to(root).as_posix()}\0".encode())
            h.update(file.read_bytes())
    return h.hexdigest()[:DIGEST_CHARS]


def library_versions(names: Iterable[str]) -> dict[str, str | None]:
    """Installed versions of ``names`` (None when not installed): their dictionaries and models change results."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


BUILDING_LIBRARIES = ("torch", "transformers", "tokenizers")
"""The libraries whose releases can change what the same code builds (kernels, model classes, tokenization)."""


def built_with(packages: Iterable[str], libraries: Iterable[str] = BUILDING_LIBRARIES) -> dict[str, Any]:
    """What a cached thing is built by: the code of ``packages`` and the versions of ``libraries``. Every cache key
    carries it, so nothing built by other code or under another release of a library is served."""
    return {"code": code_fingerprint(packages), "libraries": library_versions(libraries)}


# ---------------------------------------------------------------------------------------------------- locks
@contextmanager
def locked(path: Path, what: str = "") -> Iterator[None]:
    """Hold the file lock ``path`` (created if needed); says so in the log when another process has it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("waiting for another job to finish %s (lock %s)", what or path.stem, path)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def build_once(target: Path, build: Callable[[Path], None], complete: Callable[[Path], bool], what: str = "") -> Path:
    """``target``, built by ``build(tmp_dir)`` unless it is already ``complete``; parallel callers build it once.

    Under ``.<target>.lock`` the build goes into a fresh temporary directory beside ``target`` that is fsynced
    and renamed into place when whole, so a reader never sees half of it; an incomplete ``target`` (left by a
    build of older code) is moved aside first, never deleted under a reader's feet."""
    target = Path(target)
    if complete(target):
        return target
    with locked(target.parent / f".{target.name}.lock", what or target.name):
        if complete(target):  # built by the job we waited for
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".build-{target.name}-", dir=target.parent))
        try:
            build(tmp)
            fsync_tree(tmp)
            if target.exists():
                aside = Path(tempfile.mkdtemp(prefix=f".stale-{target.name}-", dir=target.parent))
                os.rename(target, aside / "old")
            os.rename(tmp, target)
            fsync_dir(target.parent)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        remove_stale(target.parent)
    return target


def remove_stale(root: Path) -> None:
    """Remove leftovers of killed builds (``.build-*``, ``.stale-*``) older than :data:`STALE_AFTER_S`."""
    cutoff = time.time() - STALE_AFTER_S
    try:
        for path in Path(root).iterdir():
            if path.name.startswith((".build-", ".stale-")) and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)
    except OSError:
        pass


def fsync_tree(directory: Path) -> None:
    """Flush every file to disk before the rename that publishes them: after a power cut, a published entry
    must not turn out to hold empty files (rename is ordered before the data on some filesystems)."""
    for dirpath, _dirs, names in os.walk(directory):
        for name in names:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
