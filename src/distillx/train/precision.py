"""Device and mixed-precision policy: CUDA when present, bf16 autocast on CPU, fp16 only with a scaler."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from distillx.errors import DistillxError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when a GPU is visible, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DistillxError(f"trainer.device={name!r} but no CUDA GPU is visible; use trainer.device=auto or cpu")
    return torch.device(name)


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto``: bf16 where the hardware has it (CPU autocast; Ampere+ GPUs), else fp16 on CUDA."""
    if name not in PRECISIONS:
        raise DistillxError(f"trainer.precision={name!r}: choose one of {', '.join(PRECISIONS)}")
    if name == "auto":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            return "fp16"
        return "bf16"
    if name == "fp16" and device.type != "cuda":
        raise DistillxError("trainer.precision=fp16 needs a CUDA GPU; use bf16 or fp32 on the CPU")
    return name


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """Autocast for bf16/fp16, a no-op for fp32."""
    if precision == "fp32":
        yield
        return
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """A loss scaler, enabled only for fp16 (bf16 has fp32's exponent range and needs none)."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")
