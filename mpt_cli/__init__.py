"""mpt: cross-lingual transfer for NLI with a multilingual prompt translator (arXiv 2403.12407)."""

from .errors import MptError

__version__ = "0.1.0"
__all__ = ["MptError", "__version__"]
