"""``mpt reproduce``: the paper's table (methods x shots, per language, mean and std over seeds).

Work is organised in cells, one per (shots, seed), under ``output/k{shots}-s{seed}/``: the prompt
folders (:mod:`.cells` says which method writes which) and one folder per method with its
``results.json``. A method whose ``results.json`` exists is not run again, so an interrupted run
resumes where it stopped (a per-language method whose results lack a language asked for now runs again
for it, keeping what it trained); ``settings.json`` records, per method, the settings its cells depend on,
so that a resumed run (or one adding a method) keeps to them.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from ..callbacks import Callbacks
from ..data.parallel import resolved_corpus
from ..data.paths import resolved_spec
from ..engine.cost import TimeLeft
from ..engine.distributed import Processes, alone, own_errors, processes
from ..errors import MptError
from ..outputs import atomic_path
from .cells import METHODS, PROMPT_METHODS, RUNNERS, Cell, ReproduceOptions
from .summary import Method, summarise


def plan(options: ReproduceOptions) -> list[Cell]:
    return [
        Cell(method, shots, seed, options.output / f"k{shots}-s{seed}")
        for shots in options.shots
        for seed in options.seeds
        for method in options.methods
    ]


def reproduce(options: ReproduceOptions, callbacks: Callbacks | None = None) -> dict:
    """Run every unfinished cell, then summarise all of them; returns the summary (also ``summary.json``).

    Launched processes share the unfinished cells out, whole ``k{shots}-s{seed}`` folders at a time (their
    methods share one source prompt), each running its cells as if alone; with fewer folders than processes
    (one setting over many languages, say) they run each cell together instead: the source run's batches,
    translate's languages and the evaluation's batches spread over them. The summary waits for all.
    """
    callbacks = callbacks or Callbacks()
    group = processes(options.cpu)
    _check_same_settings(options)
    cells = plan(options)
    todo = [c for c in cells if not c.finished(options.languages)]
    group.barrier()  # every process has read the folder before any of them writes to it
    settings_path, recorded = options.output / "settings.json", _recorded_settings(options.output)
    by_method = settings_by_method(options) | recorded
    if group.is_main and by_method != recorded:
        with atomic_path(settings_path, overwrite=True) as tmp:
            tmp.write_text(json.dumps({"by_method": by_method}, indent=2) + "\n")
    extended = sum(c.results_path.is_file() for c in todo)
    if len(todo) < len(cells) or extended:
        more = f"; {extended} of the others add the languages they lack" if extended else ""
        callbacks.on_stage(f"resuming: {len(cells) - len(todo)} of {len(cells)} cells already done{more}")
    if group.count > 1 and len({c.folder for c in todo}) < group.count:
        callbacks.on_stage(f"{group.count} processes run each of the {len(todo)} cells together")
        _run_cells(options, todo, callbacks, group)
    else:
        mine = _share(todo, group)
        if group.count > 1:
            callbacks.on_stage(f"{group.count} processes: this one runs {len(mine)} of the {len(todo)} cells")
        with alone():
            _run_cells(options, mine, callbacks, Processes())
    while not all(c.finished(options.languages) for c in todo):  # files, not a barrier: cells may take hours
        time.sleep(1)
    by_row = sorted(cells, key=lambda c: (options.methods.index(c.method), options.shots.index(c.shots)))
    results = {(c.method, c.shots, c.seed): c.results() for c in by_row if c.results_path.is_file()}
    summary = summarise(results, options.languages, options.source, compared=PROMPT_METHODS) | {
        "settings": _results_settings(options)
    }
    if group.is_main:
        with atomic_path(options.output / "summary.json", overwrite=True) as tmp:
            tmp.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _share(todo: list[Cell], group: Processes) -> list[Cell]:
    """This process's cells: folders (shots, seed) dealt round-robin in plan order."""
    folders = list(dict.fromkeys(c.folder for c in todo))
    dealt = {folder: i % group.count for i, folder in enumerate(folders)}
    return [c for c in todo if dealt[c.folder] == group.index]


def _run_cells(options: ReproduceOptions, cells: list[Cell], callbacks: Callbacks, group: Processes) -> None:
    """Run ``cells`` in order; ``group``: the processes running them together (its main writes the results)."""
    left = TimeLeft(len(cells))
    for number, cell in enumerate(cells, 1):
        callbacks.on_stage(f"cell {number}/{len(cells)}: {cell}{left.before(number - 1)}")
        started = time.perf_counter()
        with own_errors(str(cell)):
            results = RUNNERS[cell.method](options, cell, callbacks)
        if group.is_main:
            with atomic_path(cell.results_path, overwrite=True) as tmp:
                tmp.write_text(json.dumps(results, indent=2, default=str) + "\n")
        left.done(time.perf_counter() - started)


_SOURCE_RUN = ("model", "data", "task", "split", "source", "max_examples", "dev_shots", "train", "tune")
_TRANSLATED = (*_SOURCE_RUN, "parallel", "max_pairs", "align")
_JOINT = (*_SOURCE_RUN, "parallel", "joint_pairs", "joint")
DEPENDS_ON = {
    Method.SOFT_PROMPT: _SOURCE_RUN, Method.MPT: _TRANSLATED, Method.ADAPTER: (*_TRANSLATED, "adapter"),
    Method.ADAPTER_NO_TRANSLATOR: (*_TRANSLATED, "adapter"), Method.JOINT: _JOINT, Method.JOINT_NO_TRANSLATOR: _JOINT,
    Method.FINETUNE: tuple(key for key in _SOURCE_RUN if key != "tune"),
}  # fmt: skip
"""The settings (or groups of them: ``train`` is every ``train.*``) a method's cells depend on; every prompt
method depends on the source run's, which it starts from."""


def _depends(method: str, key: str) -> bool:
    return key.split(".")[0] in DEPENDS_ON[method]


def settings_by_method(options: ReproduceOptions) -> dict[str, dict]:
    """Requested method -> the settings its cells depend on: what ``settings.json`` records for it."""
    settings = _results_settings(options)
    return {m: {k: v for k, v in settings.items() if _depends(m, k)} for m in options.methods}


def _recorded_settings(output: Path) -> dict[str, dict]:
    """Method -> the settings its cells in ``output`` were made with. A ``settings.json`` of earlier versions
    holds one flat set for every method; finished cells without one were made before settings were recorded."""
    path = output / "settings.json"
    if not path.is_file():
        if any(output.glob("*/*/results.json")):
            raise MptError(
                f"{output} holds cells of an mpt that did not record their settings (no settings.json), so they "
                "cannot be checked against these; choose another --output"
            )
        return {}
    try:
        recorded = json.loads(path.read_text())
        by_method = recorded["by_method"] if "by_method" in recorded else dict.fromkeys(METHODS, recorded)
        if not all(m in METHODS and isinstance(settings, dict) for m, settings in by_method.items()):
            raise ValueError
    except (ValueError, TypeError, KeyError):
        raise MptError(f"{path} is not a settings file mpt wrote; choose another --output") from None
    return by_method


BEFORE_RECORDED = {
    "train.group_by_length": False, "align.group_by_length": False, "train.mixup": 0.0, "train.decay_to_start": 0.0,
    "dev_shots": None, "align.mlm_weight": 0.0,
}  # fmt: skip
"""Settings added after reproduce folders were first made, and the value every cell made before then had."""
RECORDED_AS = {"joint_pairs": "max_pairs"}
"""Settings an earlier version recorded under another name: before ``--joint-pairs`` the joint cells took ``--max-pairs``."""


def _made_with(method: str, earlier: dict, key: str) -> tuple[bool, object]:
    """(known, value): the ``key`` that ``method``'s cells were made with, from their record ``earlier``."""
    if key in earlier:
        return True, earlier[key]
    if RECORDED_AS.get(key) in earlier:
        return True, earlier[RECORDED_AS[key]]
    if key in BEFORE_RECORDED:
        return True, BEFORE_RECORDED[key]
    return False, None


def _check_same_settings(options: ReproduceOptions) -> None:
    """Refuse to resume an ``--output`` whose cells were made with other settings: one table, one setting.

    Each setting a requested method depends on must be the one every earlier method that depended on it
    had. Shots, seeds, methods and languages may differ between runs: they only choose cells and columns;
    a method depends on no other's own settings, so it can be added to a finished folder. A setting the
    earlier run did not record did not exist then: its cells were made as :data:`BEFORE_RECORDED` and
    :data:`RECORDED_AS` say, or with a value nobody knows, which is refused too.
    """
    settings = _results_settings(options)
    for method, earlier in _recorded_settings(options.output).items():
        for key, value in settings.items():
            if not _depends(method, key) or not any(_depends(m, key) for m in options.methods):
                continue
            known, made_with = _made_with(method, earlier, key)
            if not known:
                raise MptError(
                    f"{options.output} holds {method} cells made before mpt recorded {key}, so their {key} is "
                    "unknown; choose another --output"
                )
            if made_with != value:
                raise MptError(
                    f"{options.output} holds {method} cells made with {key}={made_with!r}, not {value!r}; "
                    "resume with the same settings or choose another --output"
                )


def _results_settings(options: ReproduceOptions) -> dict:
    """Everything the accuracies depend on, flat (``train.epochs``) and JSON-normal; local paths resolved."""
    settings = {
        "model": resolved_spec(options.model), "data": resolved_spec(options.data), "parallel": resolved_corpus(options.parallel),
        "task": options.task.record() | {"template": options.task.template, "words": list(options.task.words)},
        "split": options.split, "source": options.source, "tune": options.tune,
        "max_examples": options.max_examples, "max_pairs": options.max_pairs, "joint_pairs": options.joint_pairs,
        "dev_shots": options.dev_shots,
    }  # fmt: skip
    configs = (("train", options.train), ("align", options.align), ("joint", options.joint), ("adapter", options.adapter))
    for name, config in configs:
        settings |= {f"{name}.{key}": value for key, value in asdict(config).items()}
    # a setting that changes nothing is not one the cells depend on: a new default of it keeps old folders resumable
    for key in options.align.without_effect():
        del settings[f"align.{key}"]
    return json.loads(json.dumps(settings))
