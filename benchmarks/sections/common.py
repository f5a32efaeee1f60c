"""What every section shares: the backbone as --model names it, the inputs, timing and memory."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time

import torch

HAND_PADDING = 128  # what one writes by hand with transformers: every input padded to 128 tokens
PROMPT_LENGTH = 4


def load(args):
    """The backbone of ``--model``: a model folder, or a ``config.json`` with fresh weights (seeded)."""
    from transformers import AutoConfig, AutoModelForMaskedLM, AutoTokenizer

    from mpt_cli.cli.common import quiet_libraries
    from mpt_cli.engine.backbone import Backbone
    from mpt_cli.engine.device import make_accelerator

    quiet_libraries()
    if args.model.endswith(".json"):
        torch.manual_seed(0)
        model = AutoModelForMaskedLM.from_config(AutoConfig.from_pretrained(args.model))
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    else:
        model = AutoModelForMaskedLM.from_pretrained(args.model)
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer or args.model)
    return Backbone(model, tokenizer, args.model, make_accelerator(cpu=args.device == "cpu"))


def label_words(backbone):
    """The pieces of NLI's default label words (each label: the mean of its words in 15 languages), as mpt reads them."""
    from mpt_cli.task import BUILT_IN
    from mpt_cli.verbalizer import Verbalizer

    return Verbalizer(BUILT_IN["xnli"].words).label_words(backbone.tokenizer).to(backbone.device)


def data_rows(args) -> list[list[str]]:
    """Every row of ``--data``, split at tabs."""
    with open(args.data, encoding="utf-8") as lines:
        return [line.rstrip("\n").split("\t") for line in lines if line.strip()]


def examples(args) -> list[tuple[str, str]]:
    """The first ``--examples`` (premise, hypothesis) pairs of ``--data``."""
    return [(r[0], r[1]) for r in data_rows(args)[: args.examples]]


def encoded_inputs(backbone, pairs):
    from mpt_cli.task import BUILT_IN
    from mpt_cli.template import TemplateEncoder

    nli = BUILT_IN["xnli"]
    return TemplateEncoder(nli.template, backbone.tokenizer, PROMPT_LENGTH, 128, nli.inputs).encode(pairs)


def random_prompt(backbone) -> torch.Tensor:
    """A prompt ``[P, H]`` of small random vectors, the same in every process."""
    generator = torch.Generator().manual_seed(0)
    return torch.randn(PROMPT_LENGTH, backbone.hidden_size, generator=generator) * 0.1


def synchronize(backbone):
    if backbone.device.type == "cuda":
        torch.cuda.synchronize()


def timed(backbone, run, repeats: int) -> float:
    """Best of ``repeats`` wall-clock seconds after one warm-up."""
    run()
    best = float("inf")
    for _ in range(repeats):
        synchronize(backbone)
        start = time.perf_counter()
        run()
        synchronize(backbone)
        best = min(best, time.perf_counter() - start)
    return best


def peak_memory_mb(backbone) -> float:
    if backbone.device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    with open("/proc/self/status") as lines:
        for line in lines:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def machine(device: str) -> str:
    with open("/proc/cpuinfo") as lines:
        cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.processor())
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if device == "cuda" else ""
    return f"{cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads{gpu}; torch {torch.__version__}"


def rerun_in_child(script: str, extra: list[str], environment: dict[str, str]) -> dict:
    """Run ``script`` again in a child process with this process's options plus ``extra``, in this environment
    updated by ``environment``; returns the JSON of its last stdout line. Raises RuntimeError with the
    child's stderr when it fails. (accelerate keeps one precision per process, and a process's peak
    memory is its own, so the benchmarks measure each variant this way.)"""
    command = [sys.executable, script, *sys.argv[1:], *extra]
    out = subprocess.run(command, capture_output=True, text=True, check=False, env=os.environ | environment)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])
