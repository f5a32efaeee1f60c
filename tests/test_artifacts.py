"""Prompt artifacts: round trips, backbone checks, damaged files and atomic writes."""

from __future__ import annotations

import os
from dataclasses import asdict, replace

import pytest
import torch
from conftest import raises_mpt

from mpt_cli.artifacts import PromptArtifact, PromptInfo
from mpt_cli.fileformat import FORMAT_VERSION
from mpt_cli.outputs import MARKER, atomic_path, check_writable


def make_info(**overrides) -> PromptInfo:
    info = PromptInfo(
        language="en",
        backbone="tiny",
        backbone_fingerprint="ab" * 32,
        hidden_size=4,
        prompt_length=2,
        tune="lora",
        template="{premise} . {hypothesis} ? {soft} {mask} .",
        verbalizer=["yes", "maybe", "no"],
        max_length=64,
        prompt_encoder={"kind": "mlp", "prompt_length": 2, "hidden_size": 4},
        lora_rank=4,
        data="toy",
        shots=8,
        seed=3,
        split_manifest={"train_ids": ["a:0", "a:1"], "dev_ids": ["a:2"]},
        split_manifest_sha256="cd" * 32,
        dev_accuracy=0.75,
        train_loss=0.5,
        training={"epochs": 2, "best_epoch": 1},
        versions={"torch": torch.__version__},
        command="mpt train-source --shots 8",
        created="2024-01-01T00:00:00+00:00",
    )
    return replace(info, **overrides)


def make_artifact(**overrides) -> PromptArtifact:
    generator = torch.Generator().manual_seed(0)
    return PromptArtifact(
        prompt=torch.randn(2, 4, generator=generator),
        info=make_info(**overrides),
    )


def rewrite_metadata(path, **changes):
    """Rewrite ``path`` with its tensors and metadata changed by ``changes``."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
    save_file(load_file(str(path)), str(path), metadata=meta | changes)


def test_round_trip(tmp_path):
    artifact = make_artifact()
    path = tmp_path / "en.safetensors"
    artifact.save(path)
    loaded = PromptArtifact.load(path)
    assert asdict(loaded.info) == asdict(artifact.info)
    assert torch.equal(loaded.prompt, artifact.prompt)
    assert loaded.legacy == {}


def test_round_trip_of_optional_fields_left_empty(tmp_path):
    artifact = PromptArtifact(torch.zeros(2, 4), make_info(lora_rank=None, split_manifest=None, dev_accuracy=None, tune="prompt"))
    artifact.save(tmp_path / "p.safetensors")
    loaded = PromptArtifact.load(tmp_path / "p.safetensors")
    assert asdict(loaded.info) == asdict(artifact.info)


def test_metadata_marks_format_and_version(tmp_path):
    meta = make_info().to_metadata()
    assert meta["format"] == "mpt.prompt" and meta["format_version"] == str(FORMAT_VERSION)
    assert meta["language"] == "en" and meta["hidden_size"] == "4"
    assert all(isinstance(v, str) for v in meta.values())


def test_check_backbone_accepts_the_training_backbone(load_backbone):
    backbone = load_backbone()
    info = make_info(backbone_fingerprint=backbone.fingerprint, hidden_size=backbone.hidden_size)
    info.check_backbone(backbone.fingerprint, backbone.hidden_size, backbone.name)


def test_check_backbone_refuses_another_backbone(load_backbone, other_model_dir):
    trained, other = load_backbone(), load_backbone(other_model_dir)
    info = make_info(backbone="tiny-model", backbone_fingerprint=trained.fingerprint, hidden_size=trained.hidden_size)
    with raises_mpt("fingerprint", trained.fingerprint[:12], other.fingerprint[:12], "--model tiny-model"):
        info.check_backbone(other.fingerprint, other.hidden_size, other.name)
    with raises_mpt(f"{trained.hidden_size} dimensions per soft token", f"hidden size {trained.hidden_size * 2}"):
        info.check_backbone(trained.fingerprint, trained.hidden_size * 2, trained.name)


@pytest.mark.parametrize("keep", [0.5, 0.95, 4 / 1000])
def test_truncated_file(tmp_path, keep):
    path = tmp_path / "en.safetensors"
    make_artifact().save(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with raises_mpt(str(path), "not a readable safetensors file") as info:
        PromptArtifact.load(path)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_not_a_safetensors_file(tmp_path):
    path = tmp_path / "en.safetensors"
    path.write_text("premise\thypothesis\tlabel\n")
    with raises_mpt("not a readable safetensors file"):
        PromptArtifact.load(path)


def test_missing_file(tmp_path):
    with raises_mpt("does not exist"):
        PromptArtifact.load(tmp_path / "xx.safetensors")


def test_other_format_version(tmp_path):
    path = tmp_path / "en.safetensors"
    make_artifact().save(path)
    rewrite_metadata(path, format_version=str(FORMAT_VERSION + 1))
    with raises_mpt(f"format version {FORMAT_VERSION + 1}", f"reads version {FORMAT_VERSION}"):
        PromptArtifact.load(path)


def test_foreign_safetensors_file(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "model.safetensors"
    save_file({"weight": torch.zeros(2)}, str(path))
    with raises_mpt("is not an mpt prompt"):
        PromptArtifact.load(path)


def test_damaged_metadata(tmp_path):
    path = tmp_path / "en.safetensors"
    make_artifact().save(path)
    rewrite_metadata(path, hidden_size="{not json")
    with raises_mpt("damaged metadata"):
        PromptArtifact.load(path)


def test_save_refuses_to_overwrite_by_default(tmp_path):
    path = tmp_path / "en.safetensors"
    make_artifact().save(path)
    before = path.read_bytes()
    changed = make_artifact(language="de")
    with raises_mpt(str(path), "already exists", "--overwrite"):
        changed.save(path)
    assert path.read_bytes() == before
    changed.save(path, overwrite=True)
    assert PromptArtifact.load(path).info.language == "de"
    assert os.listdir(tmp_path) == ["en.safetensors"]


def test_saved_file_follows_the_umask(tmp_path):
    path = tmp_path / "en.safetensors"
    old = os.umask(0o022)
    try:
        make_artifact().save(path)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("make", ["file", "directory"])
def test_failure_inside_atomic_path_leaves_nothing_behind(tmp_path, make):
    target = tmp_path / "out" / "en.result"
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        if make == "file":
            tmp.write_text("half")
        else:
            tmp.mkdir()
            (tmp / "weights").write_text("half")
        raise RuntimeError("boom")
    assert not target.exists()
    assert os.listdir(target.parent) == []


def test_failure_inside_atomic_path_keeps_the_old_target(tmp_path):
    target = tmp_path / "en.safetensors"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target, overwrite=True) as tmp:
        tmp.write_text("new")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["en.safetensors"]


def test_atomic_path_replaces_a_folder_it_wrote(tmp_path):
    target = tmp_path / "en.backbone"
    with atomic_path(target, folder=True) as tmp:
        tmp.mkdir()
        (tmp / "stale").write_text("x")
    with atomic_path(target, overwrite=True, folder=True) as tmp:
        tmp.mkdir()
        (tmp / "config.json").write_text("{}")
    assert sorted(os.listdir(target)) == [MARKER, "config.json"]
    assert sorted(os.listdir(tmp_path)) == ["en.backbone"]


def test_check_writable_refuses_a_folder_under_a_regular_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with raises_mpt("cannot create output folder", str(tmp_path / "file" / "prompts")):
        check_writable(tmp_path / "file" / "prompts" / "en.safetensors", overwrite=False)
    assert (tmp_path / "file").read_text() == "x"
