"""int8 linear layers for scoring on the CPU (``--int8``): dynamic quantization of the encoder.

Each weight is rounded to int8 once, with one scale per output feature; each input row is rounded to
int8 as it comes, with one scale per row (its largest magnitude maps to 127). The product runs as an
int8 matrix multiplication with int32 sums (``torch._int_mm``: oneDNN's int8 GEMM on x86 CPUs), and
the two scales bring it back to float32. Everything else (embeddings, attention products, layer norms,
the MLM head, PEFT's LoRA factors and the language adapters' updates) stays float32.

Why not ``torch.ao.quantization.quantize_dynamic``: torch 2.13 deprecates it (and every quantized-tensor
constructor it needs) with a warning at each use, and its successor, torchao, is not a dependency.
``torch._int_mm`` is the product torchao's own dynamic int8 layers compute with, and warns about nothing.
"""

from __future__ import annotations

import torch
from torch import nn

QUANTIZED_MAX = 127  # symmetric: -127..127, so that the scale alone maps a value back
_NO_SCALE = 1e-12  # the scale of an all-zero row or weight: any positive value gives back zeros


class Int8Linear(nn.Module):
    """A linear layer computed in int8: ``[.., in] -> [.., out]``, float32 in and out.

    ``weight``: ``[out, in]`` int8, ``weight_scale``: ``[out]``, ``bias``: ``[out]`` or None; all buffers,
    so the layer has no parameters to train (int8 is for scoring only).
    """

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach().float()
        scale = weight.abs().amax(dim=1).clamp(min=_NO_SCALE) / QUANTIZED_MAX  # [out]
        self.register_buffer("weight", torch.round(weight / scale[:, None]).to(torch.int8))
        self.register_buffer("weight_scale", scale)
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().float().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).float()  # [N, in]
        # the int8 product saves time only if the passes around it are few and cheap: abs().amax beats
        # vector_norm(inf) several times over, and int32 times float32 must not promote element by element
        # (convert once with .float(), then scale in place)
        scale = rows.abs().amax(dim=1, keepdim=True).clamp_(min=_NO_SCALE).div_(QUANTIZED_MAX)  # [N, 1]
        quantized = rows.div(scale).round_().to(torch.int8)  # within -127..127 by the choice of scale
        out = torch._int_mm(quantized, self.weight.t()).float()  # [N, out], the int32 sums
        out = out.mul_(scale).mul_(self.weight_scale)
        if self.bias is not None:
            out = out.add_(self.bias)
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def quantize_linear_layers(module: nn.Module) -> int:
    """Replace every plain ``nn.Linear`` inside ``module`` with an :class:`Int8Linear`; return how many.

    Low-rank factors stay float32: PEFT's ``lora_A``/``lora_B`` layers are left alone, and a language
    adapter's layer (``AdaptedLinear``) has its ``base`` replaced, its own update untouched. Subclasses
    of ``nn.Linear`` are left alone too: their owners may read ``.weight`` directly (attention's
    ``out_proj``). Layers already in int8 stay as they are, so a second call changes nothing.
    """
    chosen = [
        name for name, child in module.named_modules()
        if type(child) is nn.Linear and not any(part.startswith("lora_") for part in name.split("."))
    ]  # fmt: skip
    for name in chosen:
        parent_name, _, child_name = name.rpartition(".")
        parent = module.get_submodule(parent_name)
        setattr(parent, child_name, Int8Linear(getattr(parent, child_name)))
    return len(chosen)
