"""Language adapters: a small low-rank part of each target language's own, inside the backbone.

A translated prompt only changes the input; a language adapter changes what the backbone computes on
that language's text. Each adapted linear layer computes ``base(x) + scale * B_l A_l x`` for the rows
of language ``l`` (``A_l``: ``[r, in]``, ``B_l``: ``[out, r]``) and ``base(x)`` for rows without an
adapter. ``B_l`` starts at zero, so a new adapter leaves the model as it was. Rows are routed one by
one, as prompts are, so a batch can mix languages, and the source model is the same model unrouted.
The base layer may itself be a PEFT LoRA layer (a ``--tune lora`` source run): its adapters still
apply to every row, the language's on top.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ..errors import MptError, require_positive
from .int8 import Int8Linear

Route = str | Sequence[str | None] | None  # one language for every row, one per row (None: no adapter), or none


@dataclass(frozen=True)
class AdapterConfig:
    """Where a language adapter sits and how large it is."""

    rank: int = field(default=8, metadata={"help": "rank of the language adapter"})
    alpha: float = field(default=16.0, metadata={"help": "adapter scale: the update is alpha / rank * B A x"})
    modules: tuple[str, ...] = field(
        # chosen on dev (e5-mlm, 64 shots, seed 1, 5 languages): +0.7 over query/value, 1.6 MB at hidden 384;
        # every dense layer gained +0.4 more but its 2.4 MB breaks the 2 MB a language should cost
        default=("query", "value", "output.dense"),
        metadata={"help": "linear layers that get the adapter, by the end of their name (comma-separated)"},
    )

    def __post_init__(self):
        require_positive(rank=self.rank, alpha=self.alpha)
        modules = tuple(m.strip() for m in (self.modules.split(",") if isinstance(self.modules, str) else self.modules))
        if not modules or not all(modules):
            raise MptError("a language adapter needs at least one module name (for example query,value)")
        object.__setattr__(self, "modules", modules)

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    def to_json(self) -> dict:
        return asdict(self) | {"modules": list(self.modules)}


class _Routing:
    """The languages of the running batch and their rows, read by every adapted layer."""

    def __init__(self):
        self.groups: list[tuple[str, torch.Tensor | None]] = []  # (language, its rows; None: every row)
        self.slots: torch.Tensor | None = None  # [B]: each row's index in groups, len(groups) for no adapter

    def set(self, groups: list[tuple[str, torch.Tensor | None]], rows: int) -> None:
        """Route ``groups``; with several, every row's slot is worked out once here, not in every layer."""
        self.groups, self.slots = groups, None
        if len(groups) > 1:
            device = groups[0][1].device
            self.slots = torch.full((rows,), len(groups), dtype=torch.long, device=device)
            for slot, (_, group_rows) in enumerate(groups):
                self.slots[group_rows] = slot


class AdaptedLinear(nn.Module):
    """A linear layer plus one low-rank update per language: ``[B, T, in] -> [B, T, out]``."""

    def __init__(self, base: nn.Module, routing: _Routing):
        super().__init__()
        self.base, self.routing = base, routing
        self.in_features, self.out_features = base.in_features, base.out_features
        self.lora_A, self.lora_B = nn.ParameterDict(), nn.ParameterDict()
        self.scales: dict[str, float] = {}

    def add(self, lang: str, scale: float, a: torch.Tensor, b: torch.Tensor) -> None:
        self.lora_A[lang], self.lora_B[lang], self.scales[lang] = nn.Parameter(a), nn.Parameter(b), scale

    def remove(self, lang: str) -> None:
        if lang in self.lora_A:
            del self.lora_A[lang], self.lora_B[lang], self.scales[lang]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[B, T, in]`` -> ``[B, T, out]``. Each language's update is added into the base output in
        place: the batch's output is never copied per language, and rows without an adapter keep the base
        output as it is. In place is safe for autograd because neither a linear layer's backward nor a PEFT
        LoRA layer's (whose last step is a sum) reads its own output."""
        out = self.base(x)
        rank = self._shared_rank() if self.routing.slots is not None and x.dim() == 3 else None
        if rank is not None:
            return out.add_(self._per_row_update(x, rank).to(out.dtype))
        for lang, rows in self.routing.groups:
            if lang not in self.lora_A:  # languages may adapt different layers
                continue
            a, b = self.lora_A[lang], self.lora_B[lang]
            update = self.scales[lang] * ((x if rows is None else x[rows]) @ a.t()) @ b.t()
            if rows is None:
                out.add_(update.to(out.dtype))
            else:
                out.index_add_(0, rows, update.to(out.dtype))
        return out

    def _shared_rank(self) -> int | None:
        """The rank of every routed language's adapter in this layer, or None where they differ (or none has one)."""
        ranks = {self.lora_A[lang].shape[0] for lang, _ in self.routing.groups if lang in self.lora_A}
        return ranks.pop() if len(ranks) == 1 else None

    def _per_row_update(self, x: torch.Tensor, rank: int) -> torch.Tensor:
        """A batch of several languages: ``[B, T, in] -> [B, T, out]``, each row through its own language's
        ``A`` and ``B`` in two batched products, a handful of operations however many languages the batch
        holds (one product and one scatter per language cost more than the update itself). A row without
        an adapter in this layer multiplies zeros: its update is exactly zero."""
        langs = [lang for lang, _ in self.routing.groups]
        no_a, no_b = x.new_zeros(rank, self.in_features), x.new_zeros(self.out_features, rank)
        a = torch.stack([self.lora_A.get(lang, no_a) for lang in langs] + [no_a])  # [G+1, r, in]
        b = torch.stack([self.lora_B.get(lang, no_b) for lang in langs] + [no_b])  # [G+1, out, r]
        scales = x.new_tensor([self.scales.get(lang, 0.0) for lang in langs] + [0.0])  # [G+1]
        slots = self.routing.slots
        down = torch.bmm(x, a[slots].transpose(1, 2))  # [B, T, r]
        return torch.bmm(down * scales[slots, None, None], b[slots].transpose(1, 2))  # [B, T, out]


class LanguageAdapters:
    """The language adapters of one model: the layers that carry them, each language's weights, the routing.

    Layers are wrapped when the first language that needs them is added; a model without adapters is
    left untouched.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.routing = _Routing()
        self.layers: dict[str, AdaptedLinear] = {}  # module name -> its wrapper
        self.configs: dict[str, AdapterConfig] = {}  # language -> its adapter's config

    def add(self, lang: str, config: AdapterConfig, seed: int = 0, state: dict[str, torch.Tensor] | None = None) -> None:
        """Give ``lang`` an adapter: new (``A`` random from ``seed``, ``B`` zero) or the weights in ``state``
        (as :meth:`state` returns them)."""
        names = self._layers_for(config)
        expected = {f"{name}.{part}" for name in names for part in ("A", "B")}
        if state is not None and state.keys() != expected:
            raise MptError(f"the {lang} adapter does not fit this backbone: its layers differ from {config.modules}")
        generator = torch.Generator().manual_seed(seed)
        device = next(self.model.parameters()).device  # not the layer's: an int8 one (--int8) has buffers only
        for name in names:
            layer = self.layers[name]
            if state is None:
                a = torch.empty(config.rank, layer.in_features)
                nn.init.kaiming_uniform_(a, a=math.sqrt(5), generator=generator)  # as LoRA: A random, B zero
                b = torch.zeros(layer.out_features, config.rank)
            else:
                a, b = state[f"{name}.A"], state[f"{name}.B"]
                if a.shape != (config.rank, layer.in_features) or b.shape != (layer.out_features, config.rank):
                    raise MptError(f"the {lang} adapter's {name} weights do not fit this backbone (rank {config.rank})")
            layer.add(lang, config.scale, a.float().to(device), b.float().to(device))
        self.configs[lang] = config

    def remove(self, lang: str) -> None:
        """Take ``lang``'s adapter out of the model and let its weights go; the wrapped layers stay, for the
        other languages (a layer without any adapter computes its base output alone)."""
        for layer in self.layers.values():
            layer.remove(lang)
        self.configs.pop(lang, None)

    def state(self, lang: str) -> dict[str, torch.Tensor]:
        """A copy of ``lang``'s weights, ``{layer}.A`` ``[r, in]`` and ``{layer}.B`` ``[out, r]``, on the CPU (a
        copy also there: training keeps the best epoch's as a snapshot)."""
        return {
            f"{name}.{part}": weights[lang].detach().to("cpu", copy=True)
            for name, layer in self.layers.items()
            if lang in layer.lora_A
            for part, weights in (("A", layer.lora_A), ("B", layer.lora_B))
        }

    def load_state(self, lang: str, state: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for key, value in state.items():
                name, part = key.rsplit(".", 1)
                layer = self.layers[name]
                (layer.lora_A if part == "A" else layer.lora_B)[lang].copy_(value)

    def parameters(self, lang: str) -> list[nn.Parameter]:
        layers = [layer for layer in self.layers.values() if lang in layer.lora_A]
        return [weights[lang] for layer in layers for weights in (layer.lora_A, layer.lora_B)]

    @contextmanager
    def route(self, route: Route, rows: int) -> Iterator[None]:
        """Within this block the model sends each of a batch's ``rows`` through its language's adapter;
        on exit the routing of an enclosing block is back in force.

        ``route``: one language for every row, one per row (``None``, or a language without an adapter:
        the row sees the model as it is), or ``None`` for no adapter at all.
        """
        if route is None or isinstance(route, str):
            groups = [(route, None)] if route in self.configs else []
        else:
            if len(route) != rows:
                raise ValueError(f"a route of {len(route)} languages for a batch of {rows} rows")
            device = next(self.model.parameters()).device
            chosen = dict.fromkeys(lang for lang in route if lang in self.configs)
            groups = [(lang, torch.tensor([i for i, r in enumerate(route) if r == lang], device=device)) for lang in chosen]
            if len(groups) == 1 and len(groups[0][1]) == rows:
                groups = [(groups[0][0], None)]
        enclosing = self.routing.groups, self.routing.slots
        self.routing.set(groups, rows)
        try:
            yield
        finally:
            self.routing.groups, self.routing.slots = enclosing

    def _layers_for(self, config: AdapterConfig) -> list[str]:
        """The names of the linear layers ``config`` adapts, wrapping those not wrapped yet."""
        for name, module in list(self.model.named_modules()):
            if name in self.layers or not _is_target(name, module, config.modules):
                continue
            parent_name, _, child = name.rpartition(".")
            self.layers[name] = AdaptedLinear(module, self.routing)
            setattr(self.model.get_submodule(parent_name), child, self.layers[name])
        names = [name for name in self.layers if any(_ends_with(name, m) for m in config.modules)]
        if not names:
            raise MptError(f"no linear layer of this backbone ends with {', '.join(config.modules)}: nothing to adapt")
        return names


_LINEAR = (nn.Linear, Int8Linear)  # an int8 model (--int8) takes adapters as the float32 one does


def _ends_with(name: str, module: str) -> bool:
    return name == module or name.endswith("." + module)


def _is_target(name: str, module: nn.Module, modules: tuple[str, ...]) -> bool:
    """A linear layer (or a PEFT LoRA layer around one) whose name ends with one of ``modules``, and which is
    not inside a wrapper already (PEFT's ``base_layer``, our own ``base``)."""
    linear = isinstance(module, _LINEAR) or isinstance(getattr(module, "base_layer", None), _LINEAR)
    inner = name.endswith((".base_layer", ".base")) or ".base_layer." in name or ".base." in name
    return linear and not inner and not isinstance(module, AdaptedLinear) and any(_ends_with(name, m) for m in modules)
