"""Reading a task's data and drawing few-shot splits from it."""

from .examples import Example, default_data, load_examples
from .sampling import SplitManifest, draw_split, select

__all__ = ["Example", "SplitManifest", "default_data", "draw_split", "load_examples", "select"]
