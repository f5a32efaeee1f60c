"""mpt: cross-lingual transfer of text classification (NLI by default) with a multilingual prompt translator.

The method is MPT (arXiv 2403.12407). The Python API (docs/python.md)::

    from mpt_cli import Classifier, SourceOptions, train_source

Its names load on first use, so ``import mpt_cli`` stays quick and does not import torch.
"""

from __future__ import annotations

from importlib import import_module

from .errors import MptError

__version__ = "0.1.0"

_LAZY = {
    "train_source": ".workflows.train_source",
    "SourceOptions": ".workflows.train_source",
    "TrainConfig": ".engine.train",
    "translate": ".workflows.translate",
    "align": ".workflows.align",
    "AlignOptions": ".workflows.align_options",
    "AlignConfig": ".engine.align",
    "AdapterConfig": ".engine.language_adapter",
    "evaluate": ".workflows.evaluate",
    "EvalOptions": ".workflows.evaluate",
    "export": ".workflows.export",
    "ExportOptions": ".workflows.export",
    "Classifier": ".api",
    "Prediction": ".api",
    "Callbacks": ".callbacks",
}
"""Each public name and the module that owns it."""

__all__ = ["MptError", "__version__", *_LAZY]  # noqa: PLE0604 - the keys are names too


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
