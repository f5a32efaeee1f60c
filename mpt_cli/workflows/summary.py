"""The table of ``mpt reproduce``: mean and standard deviation over seeds, and gains over soft-prompt transfer."""

from __future__ import annotations

import statistics

from ..choices import Choice


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
    order of ``results``; ``compared`` methods also get their per-language gain over soft-prompt."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for (method, shots, _), report in results.items():
        groups.setdefault((method, shots), []).append(report)
    rows = [
        {
            "method": method,
            "shots": shots,
            "seeds": len(runs),
            "languages": {lang: _mean_std([run["languages"][lang]["accuracy"] for run in runs]) for lang in languages},
            "average": _mean_std([run["averages"]["all"] for run in runs]),
            "targets": _mean_std([run["averages"]["targets"] for run in runs if run["averages"]["targets"] is not None]),
        }
        for (method, shots), runs in groups.items()
    ]
    row = {(r["method"], r["shots"]): r for r in rows}
    gains = {}  # method -> shots -> language -> gain of the mean accuracy over soft-prompt transfer
    for (method, shots), ours in row.items():
        if method in compared and (Method.SOFT_PROMPT, shots) in row:
            soft = row[Method.SOFT_PROMPT, shots]
            gains.setdefault(method, {})[str(shots)] = {
                lang: ours["languages"][lang]["mean"] - soft["languages"][lang]["mean"] for lang in languages
            }
    return {"languages": list(languages), "source": source, "rows": rows, "gain_over_soft_prompt": gains}


def _mean_std(values: list[float]) -> dict:
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}
