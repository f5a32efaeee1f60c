"""``mpt export``: a language's prompt as files transformers and PEFT load without mpt (issue 43, item 5)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from conftest import (
    FAST_TRAIN,
    align_options,
    assert_clean_error,
    invoke,
    other_language,
    snapshot_tree,
    source_options,
    toy_rows,
)

from mpt_cli.api import Classifier
from mpt_cli.engine.language_adapter import AdapterConfig
from mpt_cli.workflows.train_source import train_source
from mpt_cli.workflows.translate import translate

# an adapter that moves the probabilities well past the tolerance: exporting it wrong, or not at all, shows
ADAPTER_ALIGN = {"epochs": 2, "batch_size": 8, "lr": 1e-3, "adapter_lr": 3e-2}


def _with_german_adapter(prompts: Path, data: Path, parallel: Path) -> Path:
    options = align_options(prompts, data, parallel, method="adapter", targets=("de",), score_dev=False,
                            align=ADAPTER_ALIGN, adapter=AdapterConfig(rank=2))  # fmt: skip
    assert translate(options)[0].path is not None
    return prompts


@pytest.fixture(scope="module")
def runs(tiny_model_dir, toy_data_dir, parallel_dir, full_prompts_dir, source_prompts_dir, tmp_path_factory) -> dict:
    """Prompts folders of each --tune mode, each with a German prompt that has its own adapter. Read-only."""
    root = tmp_path_factory.mktemp("export-runs")
    lora = root / "lora"
    train_source(source_options(tiny_model_dir, toy_data_dir, lora, tune="lora", lora_rank=4, train=FAST_TRAIN))
    return {
        "prompt": _with_german_adapter(Path(shutil.copytree(source_prompts_dir, root / "prompt")), toy_data_dir, parallel_dir),
        "lora": _with_german_adapter(lora, toy_data_dir, parallel_dir),
        "full": _with_german_adapter(Path(shutil.copytree(full_prompts_dir, root / "full")), toy_data_dir, parallel_dir),
    }


def _card_block(card: str) -> str:
    return re.search(r"```python\n(.*?)```", card, re.DOTALL).group(1)


def _run_card(block: str, capsys) -> dict[str, float]:
    """Run the card's Python as a user would (a fresh namespace) and read the probabilities it prints."""
    capsys.readouterr()
    exec(compile(block, "README.md", "exec"), {"__name__": "__main__"})  # noqa: S102 - the card's own example
    lines = capsys.readouterr().out.splitlines()
    return {label: float(p) for label, p in (line.split("\t") for line in lines)}


def _example(lang: str) -> tuple[str, str]:
    premise, hypothesis, _ = toy_rows(1, seed=21)[2]
    return (premise, hypothesis) if lang == "en" else (other_language(premise, lang), other_language(hypothesis, lang))


@pytest.mark.parametrize(("tune", "lang"), [("prompt", "de"), ("lora", "de"), ("full", "de"), ("full", "en"), ("lora", "en")])
def test_the_card_labels_as_mpt_does_with_transformers_and_peft_alone(tune, lang, runs, tmp_path, monkeypatch, capsys):
    prompts = runs[tune]
    texts = _example(lang)
    monkeypatch.chdir(tmp_path)
    result = invoke("export", "--lang", lang, "--output", "export", "--prompts-dir", prompts,
                    "--text", texts[0], "--text", texts[1], "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    adapted = lang != "en" or tune == "lora"  # the run's LoRA, or the language's own adapter
    assert (Path("export/adapter_config.json").is_file() and Path("export/adapter_model.safetensors").is_file()) == adapted
    assert {"prompt.safetensors", "README.md"} <= set(written["files"])
    if tune == "full":  # the tuned backbone is pointed to where the run keeps it
        assert Path(written["base_model"]).parent == prompts.resolve()

    block = _card_block(Path("export/README.md").read_text())
    assert not re.search(r"^\s*(import|from)\s+mpt", block, re.MULTILINE)
    exported = _run_card(block, capsys)
    expected = Classifier.load(prompts, lang, cpu=True).predict([texts])[0].probabilities
    assert exported.keys() == expected.keys()
    assert all(abs(exported[label] - expected[label]) < 1e-4 for label in expected), (exported, expected)
    if adapted:  # the adapter counts: the base model without it labels otherwise
        without = _run_card(block.replace("model = PeftModel.from_pretrained(model, EXPORT)", ""), capsys)
        assert max(abs(without[label] - expected[label]) for label in expected) > 1e-3


def test_the_adapter_loads_with_peft_on_its_own(runs, tmp_path):
    """PeftModel.from_pretrained takes the folder as PEFT writes one: every layer the adapter names gets its weights."""
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForMaskedLM

    output = tmp_path / "export"
    assert invoke("export", "--lang", "de", "--output", output, "--prompts-dir", runs["lora"]).exit_code == 0
    config = json.loads((output / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA"
    header = yaml.safe_load((output / "README.md").read_text().split("---\n")[1])  # the card's YAML header
    assert header["language"] == ["de"] and header["library_name"] == "peft" and "lora" in header["tags"]
    model = PeftModel.from_pretrained(AutoModelForMaskedLM.from_pretrained(config["base_model_name_or_path"]), str(output))
    saved = load_file(output / "adapter_model.safetensors")
    loaded = {name: tensor for name, tensor in model.state_dict().items() if ".lora_" in name}
    assert len(saved) == len(loaded) > 0
    for name, tensor in saved.items():
        assert torch.equal(loaded[name.replace(".weight", ".default.weight")], tensor)


def test_copy_backbone_makes_the_folder_stand_alone(runs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    texts = _example("de")
    args = ("export", "--lang", "de", "--prompts-dir", runs["full"], "--text", texts[0], "--text", texts[1], "--copy-backbone")
    assert invoke(*args, "--output", "export").exit_code == 0
    shutil.move("export", "moved")  # a copy elsewhere: nothing outside it is needed
    block = _card_block(Path("moved/README.md").read_text()).replace('EXPORT = "export"', 'EXPORT = "moved"')
    assert 'BASE = "export/backbone"' in block
    block = block.replace('BASE = "export/backbone"', 'BASE = "moved/backbone"')
    expected = Classifier.load(runs["full"], "de", cpu=True).predict([texts])[0].probabilities
    exported = _run_card(block, capsys)
    assert all(abs(exported[label] - expected[label]) < 1e-4 for label in expected)


def test_bad_input_is_one_line_and_writes_nothing(runs, tmp_path):
    output = tmp_path / "export"
    export = lambda lang, *extra: invoke("export", "--lang", lang, "--output", output, "--prompts-dir", runs["prompt"], *extra)
    assert_clean_error(export("fr"), "no fr (French) prompt")
    assert_clean_error(export("not a code"), "language code")
    assert_clean_error(export("de", "--copy-backbone"), "no tuned backbone")
    assert_clean_error(export("de", "--text", "only one"), "takes 2 texts")
    assert not output.exists()
    assert export("de").exit_code == 0
    before = snapshot_tree(output)
    assert_clean_error(export("en"), "--overwrite")
    assert snapshot_tree(output) == before
    assert export("en", "--overwrite").exit_code == 0
    assert not (output / "adapter_config.json").exists()  # the source language of a prompt-only run: no adapter


def test_the_card_runs_in_a_python_of_its_own(runs, tmp_path, capsys):
    """The card's block as a user runs it: a fresh interpreter in another folder, nothing of mpt's imported."""
    import os
    import subprocess
    import sys

    output = tmp_path / "export"
    assert invoke("export", "--lang", "de", "--output", output, "--prompts-dir", runs["lora"]).exit_code == 0
    block = _card_block((output / "README.md").read_text())
    script = tmp_path / "card.py"
    script.write_text(block + "\nimport sys\nassert not [m for m in sys.modules if m.startswith('mpt')]\n")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"} | {"OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(script)]
    run = subprocess.run(command, check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    printed = {label: float(p) for label, p in (line.split("\t") for line in run.stdout.splitlines())}
    assert printed == pytest.approx(_run_card(block, capsys), abs=1e-6)
