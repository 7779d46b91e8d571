"""``--device``: parsed by torch, then checked against this machine and this torch build."""

from __future__ import annotations

import torch

from diswot.errors import DeviceError


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a :class:`torch.device`, or a one-line :class:`DeviceError` when torch does
    not know the name or this machine (or torch build) lacks the device."""
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise DeviceError(f"--device {device!r} is not a device name; use cpu, cuda, cuda:1 or mps") from exc
    if dev.type == "cuda":
        if torch.version.cuda is None and torch.version.hip is None:
            raise DeviceError("CUDA is not available in this torch build; use --device cpu")
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {device} asked for a GPU but torch sees none; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(
                f"--device {device}: this machine has {torch.cuda.device_count()} GPU(s); number them from 0"
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"--device {device} asked for Apple's GPU but torch sees none; use --device cpu")
    elif dev.type != "cpu":
        raise DeviceError(f"--device {device}: diswot runs on cpu, cuda or mps; use one of those")
    return dev
