"""mpt: cross-lingual transfer of text classification (NLI by default) with a multilingual prompt translator.

The method is MPT (arXiv 2403.12407).
"""

from .errors import MptError

__version__ = "0.1.0"
__all__ = ["MptError", "__version__"]
