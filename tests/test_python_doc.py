"""docs/python.md runs: its code blocks, in order, against the tiny model and the toy data.

The page's first block says where the inputs come from; the test runs it, then points the same names
at the fixtures, so the rest of the page runs as a reader would run it: on the default device, the GPU
where there is one, in the same process as the other tests' CPU models (each model keeps its own device
and precision).
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

from mpt_cli import Prediction

PAGE = Path(__file__).resolve().parent.parent / "docs" / "python.md"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def assigned_names(code: str) -> set[str]:
    return {target.id for node in ast.parse(code).body if isinstance(node, ast.Assign) for target in node.targets}


def run(code: str, number: int, page: dict) -> None:
    exec(compile(code, f"{PAGE.name} block {number}", "exec"), page)  # noqa: S102 - running the page is the test


def test_the_python_page_runs(tiny_model_dir, toy_data_dir, parallel_dir, tmp_path, monkeypatch):
    setup, *steps = PYTHON_BLOCK.findall(PAGE.read_text(encoding="utf-8"))
    assert assigned_names(setup) == {"prompts", "model", "data", "parallel"}, "the test points exactly these at the fixtures"
    data = Path(shutil.copytree(toy_data_dir, tmp_path / "data"))
    for lang in ("en", "de", "sw"):  # the page evaluates on the test split, which the toy data lacks
        shutil.copy(data / f"dev-{lang}.tsv", data / f"test-{lang}.tsv")
    monkeypatch.chdir(tmp_path)

    page: dict = {}
    run(setup, 1, page)
    page |= {"prompts": tmp_path / "prompts", "model": str(tiny_model_dir), "data": str(data), "parallel": str(parallel_dir)}
    for number, block in enumerate(steps, 2):
        run(block, number, page)

    written = {path.name for path in (tmp_path / "prompts").glob("*.safetensors")}
    assert written >= {"en.safetensors", "de.safetensors", "sw.safetensors"}
    assert [type(p) for p in page["predictions"]] == [Prediction, Prediction]
    assert [p.language for p in page["mixed"]] == ["en", "sw"]
    assert [r.language for r in page["report"].results] == ["en", "de", "sw"]
    assert [r.prompt_kind for r in page["report"].results] == ["source", "translated", "translated"]
