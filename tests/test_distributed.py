"""Two launched processes (torchrun, gloo on the CPU) against one: same rows, same order, same files.

Each test starts ``torchrun --standalone --nproc_per_node 2 -m mpt_cli ...`` in a subprocess (a few
seconds each) and compares with the same command run in this process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import invoke, write_tsv

from mpt_cli.artifacts import PromptArtifact

LAUNCHERS = {
    "torchrun": [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"],
    # --multi_gpu starts gloo ranks where there is no GPU; --cpu would start one process
    "accelerate": [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes=2", "--main_process_port=0"
    ],
}


def launch(*args, launcher: str = "torchrun", timeout: int = 240, processes: int = 2) -> subprocess.CompletedProcess:
    """``mpt *args`` in launched CPU processes (two unless told)."""
    env = os.environ | {"OMP_NUM_THREADS": "1", "COLUMNS": "240"}
    starter = [re.sub(r"=2$", f"={processes}", part) for part in LAUNCHERS[launcher]]
    command = [*starter, "-m", "mpt_cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)


def our_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_eval_with_two_processes_scores_every_row_once_in_order(translated_dir, toy_data_dir, tmp_path, launcher):
    # 7 rows per language: shards of 4 and 3; on a copy, as eval writes what it measured into the folder's model card
    prompts = Path(shutil.copytree(translated_dir, tmp_path / "prompts"))
    common = ["eval", "--prompts-dir", prompts, "--data", toy_data_dir, "--split", "validation", "--langs", "en,de,sw",
              "--max-examples", "7", "--compare", "--cpu", "--json"]  # fmt: skip
    one = invoke(*common, "--output", tmp_path / "one")
    two = launch(*common, "--output", tmp_path / "two", launcher=launcher)
    assert one.exit_code == 0 and two.returncode == 0, two.stderr
    single, launched = json.loads(one.stdout), json.loads(two.stdout)  # printed once, by the main process
    assert launched["languages"] == single["languages"]
    assert launched["averages"] == single["averages"]
    for lang in ("en", "de", "sw"):
        rows = (tmp_path / "two" / f"dev-{lang}.tsv").read_text()
        assert rows == (tmp_path / "one" / f"dev-{lang}.tsv").read_text()
        assert len(rows.splitlines()) == 7
    assert two.stderr.count("en: 7 examples") == 1  # logs from the main process only


@pytest.fixture
def mixed_input(tmp_path) -> Path:
    """11 rows in three languages (shards of 6 and 5 rows per chunk of 11, of 3 and 2 per chunk of 5)."""
    rows = [(f"p{i} the red cat sat", f"h{i} a cat sat", ["en", "de", "sw"][i % 3]) for i in range(11)]
    return write_tsv(tmp_path / "pairs.tsv", rows, header=("premise", "hypothesis", "lang"))


@pytest.mark.parametrize("chunk_size", ["5", "2048"])
def test_predict_with_two_processes_writes_the_lines_of_one(translated_dir, mixed_input, tmp_path, chunk_size):
    common = [
        "predict", mixed_input, "--lang-column", "lang", "--prompts-dir", translated_dir, "--chunk-size", chunk_size, "--cpu"
    ]
    one = invoke(*common, "--output", tmp_path / "one.tsv")
    two = launch(*common, "--output", tmp_path / "two.tsv")
    assert one.exit_code == 0 and two.returncode == 0, two.stderr
    lines = (tmp_path / "two.tsv").read_text().splitlines()
    assert lines == (tmp_path / "one.tsv").read_text().splitlines()
    assert len(lines) == 12 and [line.split("\t")[0] for line in lines[1:]] == [f"p{i} the red cat sat" for i in range(11)]
    to_stdout = launch(*common)
    assert to_stdout.returncode == 0 and to_stdout.stdout.splitlines() == lines  # once, not once per process


def test_train_source_with_two_processes_writes_one_artifact_and_learns(tiny_model_dir, toy_data_dir, tmp_path):
    run = launch(
        "train-source", "--shots", "8", "--model", tiny_model_dir, "--data", toy_data_dir, "--prompts-dir", tmp_path / "prompts",
        "--tune", "full", "--epochs", "6", "--prompt-length", "4", "--cpu", "--json",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    losses = [float(x) for x in re.findall(r"epoch \d+: train loss ([0-9.]+)", run.stderr)]
    assert len(losses) == 6  # one log line per epoch: the main process's
    assert losses[-1] < losses[0]
    summary = json.loads(run.stdout)
    assert Path(summary["artifact"]) == tmp_path / "prompts" / "en.safetensors"
    written = sorted(p.name for p in (tmp_path / "prompts").iterdir())
    assert written.pop(0) == "README.md"  # the model card
    assert written[0] == "en.backbone-" + written[0].split("-", 1)[1] and written[1:] == ["en.safetensors", *written[2:]]
    assert not [name for name in written if ".tmp" in name or name.startswith(".")]


REPRODUCE = ["reproduce", "--shots", "4", "--methods", "soft-prompt", "--langs", "en,de", "--split", "validation",
             "--epochs", "2", "--max-examples", "9", "--cpu", "--json"]  # fmt: skip


def test_reproduce_with_two_processes_resumes_a_one_process_run_and_gives_its_table(tiny_model_dir, toy_data_dir, tmp_path):
    data = ["--model", tiny_model_dir, "--data", toy_data_dir]
    alone = invoke(*REPRODUCE, *data, "--seeds", "1,2,3", "--output", tmp_path / "alone")
    assert alone.exit_code == 0, alone.stderr
    started = invoke(*REPRODUCE, *data, "--seeds", "1", "--output", tmp_path / "shared")
    assert started.exit_code == 0, started.stderr
    resumed = launch(*REPRODUCE, *data, "--seeds", "1,2,3", "--output", tmp_path / "shared")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming: 1 of 3 cells already done" in resumed.stderr
    table, expected = json.loads(resumed.stdout), json.loads(alone.stdout)
    assert table["rows"] == expected["rows"]
    for seed in (1, 2, 3):  # the same prompts, trained in either process, score the same
        cell = f"k4-s{seed}/soft-prompt/results.json"
        shared, own = (json.loads((tmp_path / run / cell).read_text())["languages"] for run in ("shared", "alone"))
        for lang in ("en", "de"):
            assert shared[lang]["prompt"]["sha256"] == own[lang]["prompt"]["sha256"]
            assert shared[lang]["confusion"] == own[lang]["confusion"]


def test_reproduce_with_one_cell_runs_it_on_both_processes_and_gives_the_table_of_one(
    tiny_model_dir, toy_data_dir, parallel_dir, tmp_path
):
    """One setting over many languages is one cell folder: the processes run its cells together (the source
    run's batches, translate's languages and the scoring spread over them) instead of one process running
    them while the other waits."""
    command = ["reproduce", "--shots", "3", "--seeds", "1", "--methods", "soft-prompt,adapter", "--langs", "en,de,sw",
               "--split", "validation", "--epochs", "2", "--align-epochs", "1", "--max-examples", "9", "--tune", "prompt",
               "--model", tiny_model_dir, "--data", toy_data_dir, "--parallel", parallel_dir, "--cpu", "--json"]  # fmt: skip
    alone = invoke(*command, "--output", tmp_path / "alone")
    assert alone.exit_code == 0, alone.stderr
    together = launch(*command, "--output", tmp_path / "together")
    assert together.returncode == 0, together.stderr
    assert "2 processes run each of the 2 cells together" in together.stderr
    # the languages were dealt out: the main process trained (and logged) de, the other sw
    assert together.stderr.count("[1/2] de") == 1 and "[2/2] sw" not in together.stderr
    folder = tmp_path / "together" / "k3-s1"
    for lang in ("de", "sw"):
        assert PromptArtifact.load(folder / "prompts-adapter" / f"{lang}.safetensors").info.kind == "translated"
    table, expected = json.loads(together.stdout), json.loads(alone.stdout)
    assert [(row["method"], sorted(row["languages"])) for row in table["rows"]] == [
        (row["method"], sorted(row["languages"])) for row in expected["rows"]
    ]
    for method in ("soft-prompt", "adapter"):  # every language scored once, on all its rows
        scored = json.loads((folder / method / "results.json").read_text())["languages"]
        assert sorted(scored) == ["de", "en", "sw"] and all(sum(map(sum, s["confusion"])) == 9 for s in scored.values())


def test_an_error_in_one_process_ends_the_run_with_its_one_message(tiny_model_dir, toy_data_dir, tmp_path):
    output = tmp_path / "runs"
    output.mkdir()
    (output / "k4-s2").write_text("in the way")  # only the second process's cell folder is unusable
    run = launch(*REPRODUCE, "--model", tiny_model_dir, "--data", toy_data_dir, "--seeds", "1,2", "--output", output, timeout=120)
    assert run.returncode != 0
    assert len(our_errors(run.stderr)) == 1, run.stderr
    assert our_errors(run.stderr)[0].startswith("error: process 1: ")
    assert not [line for line in run.stderr.splitlines() if "mpt_cli" in line and 'File "' in line]  # torchrun's own report only
    assert (output / "k4-s2").read_text() == "in the way"


def test_a_bad_row_ends_a_launched_predict_with_one_message_and_no_file(translated_dir, tmp_path):
    rows = [("the red cat sat", "a cat sat", "en")] * 5 + [("only a premise",)] + [("the red cat sat", "a cat sat", "de")] * 5
    bad = write_tsv(tmp_path / "bad.tsv", rows, header=("premise", "hypothesis", "lang"))
    run = launch(
        "predict", bad, "--lang-column", "lang", "--prompts-dir", translated_dir, "--chunk-size", "4",
        "--output", tmp_path / "out.tsv", "--cpu",
    )  # fmt: skip
    assert run.returncode != 0
    assert len(our_errors(run.stderr)) == 1 and "line 7" in our_errors(run.stderr)[0], run.stderr
    assert not (tmp_path / "out.tsv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tsv"]


def test_align_with_two_processes_trains_the_translators_of_one_and_writes_them_once(
    prompts_copy, toy_data_dir, parallel_dir, tmp_path
):
    import shutil

    single_dir = Path(shutil.copytree(prompts_copy, tmp_path / "single"))
    common = ["align", "--to", "de,sw", "--data", toy_data_dir, "--parallel", parallel_dir, "--heldout", "5", "--epochs", "3",
              "--lr", "1e-2", "--max-dev-examples", "7", "--cpu", "--json"]  # fmt: skip
    one = invoke(*common, "--prompts-dir", single_dir)
    two = launch(*common, "--prompts-dir", prompts_copy)
    assert one.exit_code == 0 and two.returncode == 0, two.stderr
    single, launched = json.loads(one.stdout), json.loads(two.stdout)
    assert [r["target"] for r in launched] == ["de", "sw"]
    for a, b in zip(launched, single):  # each batch split over two processes, gradients summed: the same steps
        assert a["heldout_kl_before"] == pytest.approx(b["heldout_kl_before"], rel=1e-5)
        assert a["heldout_kl_after"] == pytest.approx(b["heldout_kl_after"], rel=1e-4)
    assert sorted(p.name for p in (prompts_copy / "translators").iterdir()) == ["en-de.safetensors", "en-sw.safetensors"]


def test_a_command_that_succeeds_takes_down_its_process_group_and_one_that_fails_leaves_it_to_the_launcher(tmp_path):
    """Left to the interpreter's exit, gloo's threads can abort a process whose work is done; after a failure
    the other processes may wait in a collective, so tearing down could hang them."""
    import torch.distributed as dist

    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        assert invoke("inspect", tmp_path / "missing.safetensors").exit_code == 2
        assert dist.is_initialized()
        assert invoke("env", "--json").exit_code == 0
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_a_launched_predict_refuses_stdin_which_its_processes_cannot_share(translated_dir):
    run = launch("predict", "-", "--lang", "de", "--prompts-dir", translated_dir, "--cpu")
    assert run.returncode != 0
    assert our_errors(run.stderr) == ["error: launched processes cannot share stdin: give the pairs as a file"]


def test_translate_with_adapters_gives_each_process_its_own_languages(full_prompts_dir, toy_data_dir, parallel_dir, tmp_path):
    """Languages are independent: two processes train one each, and every file is the one a single process writes
    (up to the order of floating-point sums: the launched processes run one thread each, this one may run more)."""
    from mpt_cli.artifacts import PromptArtifact
    from mpt_cli.store import PromptStore

    folders = {name: Path(shutil.copytree(full_prompts_dir, tmp_path / name)) for name in ("one", "two")}
    common = ["translate", "--to", "de,sw", "--method", "adapter", "--data", toy_data_dir, "--parallel", parallel_dir,
              "--epochs", "1", "--batch-size", "8", "--heldout", "5", "--adapter-rank", "2", "--cpu", "--json"]  # fmt: skip
    one = invoke(*common, "--prompts-dir", folders["one"])
    two = launch(*common, "--prompts-dir", folders["two"])
    assert one.exit_code == 0 and two.returncode == 0, two.stderr
    assert [w["language"] for w in json.loads(two.stdout)] == ["de", "sw"]  # printed once, by the main process
    # logs come from the main process only, which trains the first language; the second process trains the other
    assert (two.stderr.count("en->de: aligning"), two.stderr.count("en->sw: aligning")) == (1, 0)
    for lang in ("de", "sw"):
        single, launched = (PromptArtifact.load(folders[name] / f"{lang}.safetensors") for name in ("one", "two"))
        torch.testing.assert_close(launched.prompt, single.prompt, rtol=1e-3, atol=1e-4)
        weights = [PromptStore(folders[name]).language_adapter(p)[1] for name, p in (("one", single), ("two", launched))]
        assert weights[0].keys() == weights[1].keys()
        for name in weights[0]:
            torch.testing.assert_close(weights[1][name], weights[0][name], rtol=1e-3, atol=1e-4)
    # side files are named after their weights' hash, which the order of sums may change: compare their kinds
    names = {name: sorted(re.sub(r"-[0-9a-f]{12}\.", ".", p.name) for p in folder.glob("*.safetensors"))
             for name, folder in folders.items()}  # fmt: skip
    assert names["two"] == names["one"]


@pytest.fixture(scope="module")
def steady_source_run(tiny_model_dir, toy_data_dir, tmp_path_factory) -> Path:
    """A fully tuned source run of 9 few-shot rows (3 shots of 3 labels: batches of 8 and 1) on the tiny model
    without dropout, whose draws from each process's own generator would differ with the process count."""
    model = Path(shutil.copytree(tiny_model_dir, tmp_path_factory.mktemp("steady") / "model"))
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps(config | {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}))
    prompts = model.parent / "prompts"
    trained = invoke("train-source", "--shots", "3", "--dev-shots", "2", "--model", model, "--data", toy_data_dir,
                     "--prompts-dir", prompts, "--tune", "full", "--epochs", "1", "--prompt-length", "2", "--cpu")  # fmt: skip
    assert trained.exit_code == 0, trained.stderr
    return prompts


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_train_source_takes_the_one_process_steps_and_with_dropout_another_draw_of_them(
    dropout, tiny_model_dir, toy_data_dir, tmp_path
):
    """Without dropout N processes take the steps one process takes (up to the order of sums). With dropout (0.1
    in real models) each process draws its own masks, so N processes give another dropout draw of the same
    training: it learns as well, and its prompt differs as another draw's would (docs/distributed.md)."""
    model = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    config = json.loads((model / "config.json").read_text())
    dropouts = {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}
    (model / "config.json").write_text(json.dumps(config | dropouts))
    command = ["train-source", "--shots", "8", "--model", model, "--data", toy_data_dir, "--tune", "full", "--epochs", "6",
               "--prompt-length", "4", "--verbalizer", "yes-maybe-no", "--cpu"]  # fmt: skip
    one = invoke(*command, "--prompts-dir", tmp_path / "one")
    two = launch(*command, "--prompts-dir", tmp_path / "two")
    assert one.exit_code == 0 and two.returncode == 0, two.stderr
    single, launched = (PromptArtifact.load(tmp_path / run / "en.safetensors").prompt for run in ("one", "two"))
    if dropout == 0:
        torch.testing.assert_close(launched, single, rtol=1e-4, atol=1e-5)
    else:
        assert not torch.allclose(launched, single, rtol=1e-4, atol=1e-5)  # if this fails, masks no longer depend on it
        for run in (one, two):
            losses = [float(x) for x in re.findall(r"epoch \d+: train loss ([0-9.]+)", run.stderr)]
            assert len(losses) == 6 and losses[-1] < losses[0], run.stderr


def _same_prompts_on_any_process_count(command: list, folder_option: str, runs: dict[int, Path], files: list[str]) -> None:
    """``command`` run alone and launched on 2 and 3 processes (more than the last batch's one row) writes the same prompts."""
    alone = invoke(*command, folder_option, runs[1])
    assert alone.exit_code == 0, alone.stderr
    for count in (2, 3):
        launched = launch(*command, folder_option, runs[count], processes=count)
        assert launched.returncode == 0, launched.stderr
        for name in files:
            single, many = (PromptArtifact.load(runs[n] / name).prompt for n in (1, count))
            torch.testing.assert_close(many, single, rtol=1e-4, atol=1e-5, msg=f"{name} on {count} processes")


def test_joint_gives_the_same_prompts_on_one_two_and_three_processes(steady_source_run, toy_data_dir, parallel_dir, tmp_path):
    command = ["joint", "--to", "de,sw", "--prompts-dir", steady_source_run, "--parallel", parallel_dir, "--max-pairs", "30",
               "--heldout", "5", "--epochs", "3", "--pairs-per-step", "2", "--cpu"]  # fmt: skip
    runs = {n: tmp_path / f"joint-{n}" for n in (1, 2, 3)}
    _same_prompts_on_any_process_count(command, "--output", runs, ["en.safetensors", "de.safetensors", "sw.safetensors"])


def test_align_learning_the_source_gives_the_same_prompts_on_one_two_and_three_processes(
    steady_source_run, toy_data_dir, parallel_dir, tmp_path
):
    """25 training pairs in batches of 4: the last has one row, and the few-shot CE batch is drawn every step."""
    runs = {n: Path(shutil.copytree(steady_source_run, tmp_path / f"align-{n}")) for n in (1, 2, 3)}
    command = ["translate", "--to", "de", "--method", "prompt", "--train-source", "--batch-size", "4", "--max-pairs", "30",
               "--parallel", parallel_dir, "--data", toy_data_dir, "--max-dev-examples", "6",
               "--heldout", "5", "--epochs", "4", "--lr", "2e-3", "--cpu"]  # fmt: skip
    _same_prompts_on_any_process_count(command, "--prompts-dir", runs, ["de.safetensors"])
