"""The table of ``mpt reproduce``: mean and standard deviation over seeds, and gains over soft-prompt transfer."""

from __future__ import annotations

import statistics

from ..choices import Choice
from ..language_groups import LanguageGroups
from ..plot import Bar, Panel


class Method(Choice):
    """A row of the table: how the task reaches the other languages."""

    SOFT_PROMPT = "soft-prompt"  # the source prompt as is: the baseline the prompt methods are compared with
    MPT = "mpt"  # two-stage: translators trained on parallel data
    JOINT = "joint"  # the source prompt, translators and backbone trained together
    JOINT_NO_TRANSLATOR = "joint-no-translator"  # the ablation: p_T = p_S
    ADAPTER = "adapter"  # per language: a translator and an adapter of its own, distilled from the source run
    ADAPTER_NO_TRANSLATOR = "adapter-no-translator"  # the ablation: p_T = p_S, the adapter alone
    FINETUNE = "finetune"  # a classification head, every transformer weight learning


def summarise(results: dict[tuple[str, int, int], dict], languages, source: str, compared: tuple[str, ...]) -> dict:
    """``results`` maps (method, shots, seed) to an evaluation report (``results.json``). Rows follow the
    order of ``results``; ``compared`` methods also get their per-language gain over soft-prompt.

    Every figure is over the seeds of its row, and the averages are each seed's mean over ``languages``
    (``targets``: all but ``source``). A cell finished before a language was asked for has no result in
    it: that language's entry, the row's averages and the gains that need it are None (missing), so a
    mean is never over fewer seeds or other languages than its neighbours'."""
    groups: dict[tuple[str, int], list[dict]] = {}
    failed: dict[str, dict[str, dict[str, str]]] = {}  # method -> shots -> language -> why, per seed
    badly_read: dict[str, str] = {}  # language -> the tokenizer's warning (engine/tokenizer_fit.py)
    for (method, shots, seed), report in results.items():
        groups.setdefault((method, shots), []).append(report)
        badly_read |= report.get("tokenizer", {})
        for lang, why in report.get("failed", {}).items():
            reasons = failed.setdefault(method, {}).setdefault(str(shots), {})
            reasons[lang] = "; ".join(filter(None, (reasons.get(lang), f"seed {seed}: {why}")))
    targets = [lang for lang in languages if lang != source]
    rows = []
    for (method, shots), runs in groups.items():
        accuracy = [{lang: run["languages"][lang]["accuracy"] for lang in languages if lang in run["languages"]} for run in runs]
        rows.append({
            "method": method,
            "shots": shots,
            "seeds": len(runs),
            "languages": {lang: _mean_std([seed[lang] for seed in accuracy if lang in seed], len(runs)) for lang in languages},
            "average": _mean_std([statistics.mean(seed.values()) for seed in accuracy if len(seed) == len(languages)], len(runs)),
            "targets": _mean_std(
                [statistics.mean(seed[lang] for lang in targets) for seed in accuracy if targets and len(seed) == len(languages)],
                len(runs),
            ),
        })  # fmt: skip
        seconds = {lang: [run["languages"][lang]["train_seconds"] for run in runs
                          if "train_seconds" in run["languages"].get(lang, {})] for lang in languages}  # fmt: skip
        if any(seconds.values()):  # languages trained by this row's method: their mean seconds over the seeds
            rows[-1]["train_seconds"] = {lang: statistics.mean(s) if s else None for lang, s in seconds.items()}
    row = {(r["method"], r["shots"]): r for r in rows}
    gains = {}  # method -> shots -> language -> gain of the mean accuracy over soft-prompt transfer
    for (method, shots), ours in row.items():
        if method in compared and (Method.SOFT_PROMPT, shots) in row:
            mine, soft = ours["languages"], row[Method.SOFT_PROMPT, shots]["languages"]
            gains.setdefault(method, {})[str(shots)] = {
                lang: None if None in (mine[lang], soft[lang]) else mine[lang]["mean"] - soft[lang]["mean"] for lang in languages
            }
    return {"languages": list(languages), "source": source, "rows": rows, "gain_over_soft_prompt": gains, "failed": failed,
            "tokenizer_warnings": {lang: badly_read[lang] for lang in languages if lang in badly_read}}


def panels(summary: dict, groups: LanguageGroups | None = None) -> list[Panel]:
    """The chart of a summary: one panel per row of a compared method, the source prompt's accuracy (the
    soft-prompt row of the same shots) beside each language; the soft-prompt rows alone when nothing else ran."""
    rows = {(row["method"], row["shots"]): row for row in summary["rows"]}
    compared = [row for row in summary["rows"] if row["method"] != Method.SOFT_PROMPT]
    drawn = []
    for row in compared or summary["rows"]:
        soft = rows.get((Method.SOFT_PROMPT, row["shots"])) if compared else None
        bars = [
            Bar(lang, stats["mean"], soft and soft["languages"][lang] and soft["languages"][lang]["mean"],
                groups.group(lang) if groups else None)
            for lang, stats in row["languages"].items() if lang != summary["source"] and stats is not None
        ]  # fmt: skip
        seeds = f"{row['seeds']} seed{'s' if row['seeds'] > 1 else ''}"
        drawn.append(Panel(f"{row['method']}, {row['shots']} shots: accuracy per language ({seeds})", bars))
    return drawn


def _mean_std(values: list[float], seeds: int) -> dict | None:
    """Mean and sample standard deviation of one value per seed; None unless every one of ``seeds`` has it."""
    if len(values) < seeds or not values:
        return None
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}
