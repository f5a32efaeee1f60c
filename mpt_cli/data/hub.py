"""Hub datasets whose configurations are languages: listing them, and loading one language's split.

A configuration named as the language (XNLI's ``sw``) loads at once, so that a cached copy loads offline;
the list of configurations finds other spellings (SIB-200's ``swh_Latn``) and explains a failed load.
"""

from __future__ import annotations

import functools
from pathlib import Path
from urllib.parse import quote

from ..errors import MptError
from ..languages import find_language, languages_in
from ..task import BUILT_IN, Task


def hub_revision(task: Task | None, dataset_id: str) -> str | None:
    """The revision to read ``dataset_id`` at: that of the task whose dataset it is (``task``'s own, else a
    built-in's: ``Davlan/sib200`` is read from its parquet export whatever the task), else the main branch."""
    owner = next((t for t in (task, *BUILT_IN.values()) if t is not None and t.data == dataset_id), None)
    return None if owner is None else owner.hub_revision


def hub_languages(dataset_id: str, revision: str | None = None) -> list[str]:
    """The languages of a hub dataset: its configurations that are language codes (XNLI's ``ar``, SIB-200's ``arb_Arab``)."""
    return list(hub_configs(dataset_id, revision))


@functools.cache
def hub_configs(dataset_id: str, revision: str | None = None) -> dict[str, str]:
    """A hub dataset's configurations that name a language, by the language's canonical code. On the main
    branch the dataset card lists them; a parquet export (``refs/convert/parquet``) has no card, but holds
    one folder per configuration."""
    try:
        if revision is None:
            import datasets

            names = datasets.get_dataset_config_names(dataset_id)
        else:
            import fsspec

            filesystem, root = fsspec.core.url_to_fs(hub_url(dataset_id, revision))
            names = [Path(entry["name"]).name for entry in filesystem.ls(root, detail=True) if entry["type"] == "directory"]
    except Exception as exc:  # noqa: BLE001 - the hub raises many types; the user needs the reason, not a traceback
        raise MptError(f"cannot list the configurations of {dataset_id} on the Hugging Face hub: {exc}") from None
    configs = languages_in(sorted(names))  # all_languages and the like are no language's
    if not configs:  # offline, a cached hub dataset lists only "default"
        listed = ", ".join(names) or "none"
        raise MptError(f"cannot list the languages of {dataset_id}: none of its configurations ({listed}) is a language "
                       "code; offline (HF_HUB_OFFLINE) the hub cannot list them, so name the languages")  # fmt: skip
    return configs


def hub_url(dataset_id: str, revision: str) -> str:
    """Where ``fsspec`` (huggingface_hub's file system) finds the files of ``dataset_id`` at ``revision``."""
    return f"hf://datasets/{dataset_id}@{quote(revision, safe='')}"


def hub_table(dataset_id: str, lang: str, split: str, revision: str | None):
    """``split`` of ``lang``'s configuration of a hub dataset, and the configuration's name.

    A configuration named as the language (XNLI's ``sw``) loads at once, without listing the configurations
    first: a cached copy then loads offline, where the hub cannot list them. The list finds other spellings
    (``swh_Latn``; a parquet export's folders are all FLORES-200 codes) and explains a failed load.
    """
    import datasets

    failure = None
    if revision is None:
        try:
            return datasets.load_dataset(dataset_id, lang, split=split), lang
        except Exception as exc:  # noqa: BLE001 - the hub raises many types; the list below says what went wrong
            failure = exc
    try:
        configs = hub_configs(dataset_id, revision)
    except MptError:
        if failure is None:
            raise
        raise _cannot_load(dataset_id, lang, split, failure) from None  # the load's reason, not the list's
    config = configs.get(lang) or find_language(lang, configs.values())
    if config is None:
        raise MptError(f"{dataset_id} has no configuration for {lang} (it has {len(configs)} languages: {' '.join(configs)})")
    if config == lang and failure is not None:  # it has the configuration: the load failed for another reason
        raise _cannot_load(dataset_id, config, split, failure)
    # a parquet export has no dataset card to name configurations by: each is a folder, its splits inside
    where = {"name": config} if revision is None else {"revision": revision, "data_dir": config}
    try:
        return datasets.load_dataset(dataset_id, split=split, **where), config
    except Exception as exc:  # noqa: BLE001 - the hub raises many types; the user needs the reason, not a traceback
        raise _cannot_load(dataset_id, config, split, exc) from None


def _cannot_load(dataset_id: str, config: str, split: str, exc: Exception) -> MptError:
    return MptError(f"cannot load {dataset_id} ({config}, {split}) from the Hugging Face hub: {exc}")
