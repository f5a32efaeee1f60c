"""``mpt env``: what to paste into a bug report."""

from __future__ import annotations

import importlib.metadata as md
import platform
from typing import Annotated

import typer

from .common import handle_errors, print_json

PACKAGES = ("mpt-cli", "torch", "transformers", "tokenizers", "datasets", "safetensors", "accelerate", "peft", "typer", "rich")


@handle_errors
def env_command(json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False):
    """Print versions, Python, platform, and the device and precision (``MPT_PRECISION``) mpt would use."""
    import torch

    from ..engine.device import cpu_bf16_support, precision_in_use

    report = {"python": platform.python_version(), "platform": platform.platform()}
    for package in PACKAGES:
        try:
            report[package] = md.version(package)
        except md.PackageNotFoundError:
            report[package] = "not installed"
    report["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    report["precision"] = precision_in_use(cuda=torch.cuda.is_available()).value
    report["cpu_threads"] = torch.get_num_threads()
    report["cpu_bf16"] = cpu_bf16_support()  # native bf16 makes MPT_PRECISION=bf16 pay on the CPU
    if json_output:
        print_json(report)
    else:
        for key, value in report.items():
            typer.echo(f"{key}: {value}")
