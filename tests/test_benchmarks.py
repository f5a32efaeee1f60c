"""The benchmarks run: ``benchmarks/speed.py`` (its --json summary, --check's exit status, the goals) and
``benchmarks/agreement.py``, on the tiny model with the smallest sizes; their documented commands parse.

Figures from the tiny model mean nothing; these tests check the shape of what the scripts report.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import toy_rows, write_tsv

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
DOCS = ROOT / "docs" / "benchmarks.md"


def run_script(name: str, *args) -> subprocess.CompletedProcess:
    env = os.environ | {"OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}  # the CPU, whatever the machine
    command = [sys.executable, str(BENCHMARKS / name), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600, check=False)


@pytest.fixture(scope="module")
def scripts(monkeypatch_module):
    """The two scripts as modules (their parsers, the goals), imported as the scripts import their parts."""
    monkeypatch_module.syspath_prepend(str(BENCHMARKS))
    import agreement
    import goals
    import paper_comparison
    import speed

    return {"speed.py": speed, "agreement.py": agreement, "paper_comparison.py": paper_comparison, "goals": goals}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_speed_reports_json_and_check_says_whether_every_goal_holds(tiny_model_dir, tmp_path):
    data = write_tsv(tmp_path / "dev-en.tsv", toy_rows(8, seed=51))
    result = run_script(
        "speed.py", "--model", tiny_model_dir, "--data", data, "--device", "cpu",
        "--only", "sizes", "int8", "precision", "translate", "--examples", 24, "--repeats", 1,
        "--translate-pairs", 20, "--translate-languages", 2, "--json", "--check",
    )  # fmt: skip
    summary = json.loads(result.stdout)  # stdout is the summary alone; the report went to stderr
    assert "int8-int8" in result.stderr and "artifact sizes" in result.stderr
    assert summary["sections"] == ["int8", "precision", "translate", "sizes"] and summary["failed"] == {}, result.stderr
    for variant in ("int8-float32", "int8-int8", "cpu-float32-eval", "cpu-bf16-adapter-epoch"):
        assert summary["variants"][variant]["items"] == 24 and summary["variants"][variant]["per_second"] > 0
    assert [summary["variants"][f"cpu-{name}-eval"]["precision"] for name in ("float32", "bf16")] == ["no", "bf16"]
    runs = summary["tables"]["translate"]["runs"]
    assert [run["languages"] for run in runs] == [1, 2] and all(run["seconds_per_language"] > 0 for run in runs)
    assert summary["tables"]["sizes"]["translator (width 2H)"] > 0
    int8, *precision = summary["ratios"]
    assert [row["name"] for row in precision] == ["eval on the CPU: bf16 / float32", "adapter epoch on the CPU: bf16 / float32"]
    assert all(row["goal"] is None and row["ratio"] > 0 for row in precision)
    assert int8["goal"] == 1.4 and int8["held"] == (int8["ratio"] >= 1.4)
    assert summary["goals_hold"] == int8["held"]
    assert result.returncode == (0 if summary["goals_hold"] else 1), result.stderr


def test_the_peft_variants_and_the_scaling_table_run(tiny_model_dir, tmp_path):
    """PEFT's P-tuning trains on the label words as mpt does (a label: the mean of its pieces), and takes its
    virtual tokens within the position table of a model that barely holds 128 tokens, as the synthetic
    inputs of the scaling table take ids within its vocabulary."""
    data = write_tsv(tmp_path / "dev-en.tsv", toy_rows(4, seed=52))
    sizes = ("--model", tiny_model_dir, "--data", data, "--device", "cpu", "--examples", 12, "--train-batch", 6, "--repeats", 1)
    result = run_script("speed.py", *sizes, "--only", "train", "scaling", "--scaling-examples", 4, "--json", "--check")
    summary = json.loads(result.stdout)
    assert summary["failed"] == {}, result.stderr
    assert all(summary["variants"][variant]["per_second"] > 0 for variant in ("train-mpt", "train-peft-ptuning"))
    [train] = summary["ratios"]
    assert train["name"] == "train step: mpt / PEFT P-tuning" and train["held"] == (train["ratio"] >= train["goal"])
    assert result.returncode == (0 if train["held"] else 1), result.stderr
    assert len(summary["tables"]["scaling"]) == 9
    alone = run_script("speed.py", *sizes, "--variant", "eval-peft-ptuning")  # the eval section's one variant at risk
    assert alone.returncode == 0 and json.loads(alone.stdout)["per_second"] > 0, alone.stderr


def test_goals_hold_only_when_each_is_met_and_a_failed_variant_misses_its_goal(scripts):
    goals = scripts["goals"]

    def speed(per_second: float) -> dict:
        return {"per_second": per_second}

    run = ["int8-float32", "int8-int8", "align-cached", "align-uncached"]
    measured = {"int8-float32": speed(10.0), "int8-int8": speed(15.0), "align-cached": speed(1.0), "align-uncached": speed(9.0)}
    rows = goals.ratio_rows(run, measured, {})
    assert [row["held"] for row in rows] == [None, True]  # the alignment ratio has no goal: reported only
    assert goals.every_goal_holds(rows)
    assert not goals.every_goal_holds(goals.ratio_rows(run, measured | {"int8-int8": speed(13.0)}, {}))
    failed = goals.ratio_rows(run, {k: v for k, v in measured.items() if k != "int8-int8"}, {"int8-int8": "boom"})
    assert failed[1]["held"] is False and failed[1]["failed"] == ["int8-int8"] and not goals.every_goal_holds(failed)
    assert goals.ratio_rows(["int8-float32"], measured, {}) == []  # a ratio whose variants did not both run


@pytest.mark.parametrize("against", ["int8", "bf16"])
def test_agreement_reports_each_language(full_prompts_dir, toy_data_dir, against):
    result = run_script(
        "agreement.py", "--prompts-dir", full_prompts_dir, "--data", toy_data_dir, "--langs", "en,de",
        "--split", "validation", "--max-examples", 20, "--against", against, "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert list(summary["languages"]) == ["en", "de"] and summary["overall"]["rows"] == 40
    for entry in summary["languages"].values():
        assert entry["rows"] == 20 and entry["same_label"] >= 0.9
        assert entry["accuracy_difference"] == pytest.approx(entry["accuracy_other"] - entry["accuracy_float32"])
        assert entry["seconds_float32"] > 0 and entry["seconds_other"] > 0
    assert f"acc {against}" in result.stderr and "same %" in result.stderr


def test_agreement_bad_input_is_one_error_line(full_prompts_dir, toy_data_dir):
    result = run_script("agreement.py", "--prompts-dir", full_prompts_dir, "--data", toy_data_dir, "--langs", "fr")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1


DOC_COMMAND = re.compile(r"^python benchmarks/(\S+\.py)(.*)$")


def test_the_documented_benchmark_commands_parse(scripts):
    commands = [DOC_COMMAND.match(line.strip()) for line in DOCS.read_text(encoding="utf-8").splitlines()]
    commands = [(m.group(1), shlex.split(m.group(2), comments=True)) for m in commands if m]
    assert {name for name, _ in commands} == {"speed.py", "agreement.py", "paper_comparison.py"}
    for name, args in commands:
        scripts[name].parse_args(args)  # argparse exits on a bad option
