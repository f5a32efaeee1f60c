"""Reading NLI data and drawing few-shot splits from it."""

from .nli import LABELS, NLIExample, load_nli, parse_label
from .sampling import SplitManifest, draw_split, select

__all__ = ["LABELS", "NLIExample", "SplitManifest", "draw_split", "load_nli", "parse_label", "select"]
