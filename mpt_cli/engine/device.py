"""Where the engine runs and in what arithmetic: the GPU or the CPU, and ``MPT_PRECISION``."""

from __future__ import annotations

import gc
import os
from contextlib import nullcontext
from pathlib import Path

import torch

from ..choices import Choice
from ..errors import MptError
from .distributed import processes


class Precision(Choice):
    """The arithmetic of forward passes, from ``MPT_PRECISION``; weights and artifacts stay float32 in every one."""

    AUTO = "auto"  # bf16 on a GPU (fp16 on cards without bf16), float32 on the CPU
    NO = "no"  # float32
    BF16 = "bf16"  # autocast to bfloat16, on a GPU or the CPU
    FP16 = "fp16"  # autocast to float16 with loss scaling: GPUs only


def requested_precision() -> Precision:
    """What ``MPT_PRECISION`` names, before the device has its say."""
    return Precision.parse(os.environ.get("MPT_PRECISION") or "auto", "MPT_PRECISION")


def precision_in_use(cuda: bool) -> Precision:
    """The precision ``MPT_PRECISION`` asks for on a GPU (``cuda``) or the CPU, or one clear error.

    This variable alone decides: accelerate's own ``ACCELERATE_MIXED_PRECISION`` is not read, because
    ``accelerate launch`` always sets it (to ``no`` unless configured), which would turn bf16 off on GPUs.
    """
    precision = requested_precision()
    if precision == Precision.AUTO:  # cards before Ampere only emulate bf16, slowly: fp16 there
        native_bf16 = cuda and torch.cuda.is_bf16_supported(including_emulation=False)
        return (Precision.BF16 if native_bf16 else Precision.FP16) if cuda else Precision.NO
    if precision == Precision.FP16 and not cuda:
        raise MptError("MPT_PRECISION fp16 needs a GPU; on the CPU use bf16 or no")
    if precision == Precision.BF16 and cuda and not torch.cuda.is_bf16_supported():
        raise MptError(f"MPT_PRECISION bf16 is not supported by {torch.cuda.get_device_name()}; use fp16 or no")
    return precision


NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16", "bf16")  # Intel AMX, AVX-512 BF16, Arm's BF16 extension
CPUINFO = Path("/proc/cpuinfo")


def cpu_bf16_support(cpuinfo: Path = CPUINFO) -> str:
    """The CPU's native bf16 instructions as Linux names them (``"amx_bf16 avx512_bf16"``), ``"none"`` (bf16 is
    emulated, slower than float32), or ``"unknown"`` where ``cpuinfo`` cannot be read (other systems).
    With AMX, ``MPT_PRECISION=bf16`` scores about 3x and trains about 2x as fast as float32."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "unknown"
    flags = {word for line in text.splitlines() if line.lower().startswith(("flags", "features")) for word in line.split()}
    return " ".join(flag for flag in NATIVE_BF16_FLAGS if flag in flags) or "none"


def uses_cuda(cpu: bool = False) -> bool:
    """Whether a model loaded now goes to the GPU: there is one and ``cpu`` is not asked for."""
    return torch.cuda.is_available() and not cpu


class Placement:
    """Where one model runs and in what arithmetic: its device, autocast, and fp16's loss scaling (a model's
    ``accelerator``, made by :func:`make_accelerator`).

    Each model has its own. accelerate's ``Accelerator`` keeps one device and precision per process and
    refuses another (a raw ``ValueError``), which would end a Python session that labels on the GPU and
    then with ``cpu=True`` or ``int8=True``, or under another ``MPT_PRECISION``; here models of every
    kind live side by side. Launched processes (:mod:`.distributed`) each take the GPU of their local rank.
    """

    def __init__(self, device: torch.device, precision: Precision):
        self.device, self.mixed_precision = device, precision.value
        self._dtype = {Precision.BF16: torch.bfloat16, Precision.FP16: torch.float16}.get(precision)
        self._scaler = torch.amp.GradScaler(device.type) if precision == Precision.FP16 else None
        self._optimizer: torch.optim.Optimizer | None = None  # the one being trained, for fp16's unscaling

    def autocast(self):
        """Forward passes in this placement's precision (nothing to do in float32)."""
        return nullcontext() if self._dtype is None else torch.autocast(self.device.type, dtype=self._dtype)

    def prepare_optimizer(self, optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
        """``optimizer``, its step skipped when fp16 gradients overflow, for one training (until :meth:`free_memory`)."""
        self._optimizer = optimizer
        return optimizer if self._scaler is None else _ScaledOptimizer(optimizer, self._scaler)

    def backward(self, loss: torch.Tensor) -> None:
        (loss if self._scaler is None else self._scaler.scale(loss)).backward()

    def clip_grad_norm_(self, parameters: list[torch.Tensor], max_norm: float) -> torch.Tensor:
        if self._scaler is not None:
            self._scaler.unscale_(self._optimizer)
        return torch.nn.utils.clip_grad_norm_(parameters, max_norm)

    def free_memory(self) -> None:
        """Let go of the optimizer of the training that ended, and hand the GPU's cached memory back."""
        self._optimizer = None
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


class _ScaledOptimizer:
    """An optimizer under fp16 loss scaling: a step unscales through the scaler, and is skipped on overflow."""

    def __init__(self, optimizer: torch.optim.Optimizer, scaler):
        self.optimizer, self.scaler = optimizer, scaler

    @property
    def param_groups(self) -> list[dict]:
        return self.optimizer.param_groups

    def step(self) -> None:
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)


def place(model, accelerator: Placement):
    """``model`` on ``accelerator``'s device, with the attention that suits its arithmetic: eager under bf16 on
    the CPU, because PyTorch's fused attention takes half of a bf16 training step there in its backward
    pass, which makes bf16 training no faster than float32; eager attention runs on the matrix units (AMX)
    like the rest: 2x float32 per alignment epoch, and as fast as the fused kernel forward."""
    model = model.to(accelerator.device)
    if accelerator.device.type == "cpu" and accelerator.mixed_precision == "bf16":
        model.set_attn_implementation("eager")
    return model


def make_accelerator(cpu: bool = False) -> Placement:
    """The GPU when there is one (and not ``cpu``), else the CPU, in the precision of :func:`precision_in_use`."""
    cuda = uses_cuda(cpu)
    # a launched process joins its group now, over the backend of its model's device (gloo for the CPU, NCCL
    # for GPUs): the scoring and training code asks for the group later without knowing the device
    group = processes(cpu=not cuda)
    if not cuda:
        device = torch.device("cpu")
    elif group.count > 1:  # the GPU of this process's rank on its machine
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    else:
        device = torch.device("cuda")
    return Placement(device, precision_in_use(cuda))


def check_int8(cuda: bool) -> None:
    """``--int8`` scores on the CPU, float32 around int8 products: one clear error on a GPU (``cuda``) or
    under another precision, before anything is read or loaded."""
    if cuda:
        raise MptError("--int8 runs on the CPU only: add --cpu to use it on a machine with a GPU")
    precision = requested_precision()
    if precision not in (Precision.AUTO, Precision.NO):  # auto is float32 on the CPU
        raise MptError(
            f"--int8 computes in float32 around its int8 products, not with MPT_PRECISION={precision}: unset it or set it to no"
        )
