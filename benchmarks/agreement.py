"""A cheaper arithmetic against float32 on real data: how often the labels agree, the accuracy of each, and
the time of each.

    python benchmarks/agreement.py --prompts-dir prompts --data /path/to/xnli --langs en,de,sw
    python benchmarks/agreement.py --prompts-dir prompts --data /path/to/xnli --langs all --against bf16 --json

Scores the first --max-examples rows of each language's --split with the prompt (and language adapter)
`mpt eval` would use, once on the float32 backbone and once in the --against arithmetic (`--int8`, or
`MPT_PRECISION=bf16`), both on the CPU, each in a process of its own (accelerate keeps one precision per
process), and reports per language: the share of rows given the same label, the accuracy of each and their
difference, and the seconds of each (scoring only: the backbone is loaded, and warmed up on one batch,
before the clock starts). The report goes to stdout, or with --json to stderr, and a JSON summary to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# the mpt of this checkout, not whichever one is installed: a benchmark measures the code beside it
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from sections.common import machine, rerun_in_child  # after the path above, as every import below

from mpt_cli.cli.common import quiet_libraries
from mpt_cli.data import default_data, load_examples
from mpt_cli.data.examples import data_languages
from mpt_cli.engine.batching import EVAL_BATCH_SIZE
from mpt_cli.errors import MptError
from mpt_cli.languages import ALL, DEFAULT_SOURCE, normalise, parse_languages
from mpt_cli.prompt_set import PromptSet

BASELINE = "float32"
ARITHMETICS = {BASELINE: {}, "int8": {}, "bf16": {"MPT_PRECISION": "bf16"}}  # name -> the environment it runs in


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts-dir", type=Path, required=True)
    parser.add_argument("--data", help="as mpt eval's --data [default: the prompts' task's dataset]")
    parser.add_argument("--langs", default="all", help="comma-separated codes, or all (every language --data has)")
    parser.add_argument("--split", default="validation", help="test, validation (dev) or train")
    parser.add_argument("--max-examples", type=int, default=1000, help="the first rows of each language scored")
    parser.add_argument("--batch-size", type=int, default=EVAL_BATCH_SIZE)
    parser.add_argument("--source", default=DEFAULT_SOURCE, help="language of the source prompt")
    parser.add_argument("--model", help="backbone [default: the one the prompts record]")
    parser.add_argument("--against", default="int8", choices=[a for a in ARITHMETICS if a != BASELINE])
    parser.add_argument("--json", action="store_true", help="a JSON summary on stdout (the report on stderr)")
    parser.add_argument("--arithmetic", choices=list(ARITHMETICS), help=argparse.SUPPRESS)  # one run, in this process
    return parser.parse_args(argv)


def scored(prompts: PromptSet, examples: dict[str, list], batch_size: int) -> dict[str, dict]:
    """Per language: the predicted labels, the accuracy and the seconds of scoring its ``examples``."""
    chosen = {lang: prompts.for_language(lang) for lang in examples}  # loads the backbone and the adapters
    first = next(iter(chosen.values()))
    prompts.scorer.score(first.artifact.prompt, examples[first.language][:batch_size], batch_size, route=first.route)  # warm-up
    result = {}
    for lang, prompt in chosen.items():
        start = time.perf_counter()
        scores, probs = prompts.scorer.score(prompt.artifact.prompt, examples[lang], batch_size, route=prompt.route)
        seconds = time.perf_counter() - start
        result[lang] = {"labels": probs.argmax(-1).tolist(), "accuracy": scores.accuracy, "seconds": seconds}
    return result


def run_here(args) -> dict:
    """Scores in ``args.arithmetic``, in this process: per language, the labels, the accuracy and the seconds."""
    prompts = PromptSet(args.prompts_dir, normalise(args.source), args.model, cpu=True, int8=args.arithmetic == "int8")
    data = default_data(prompts.task, args.data)
    languages = parse_languages(args.langs)
    languages = data_languages(prompts.task, data, args.split) if languages is ALL else languages
    examples = {lang: load_examples(prompts.task, data, lang, args.split)[: args.max_examples] for lang in languages}
    return {"task": prompts.task.name, "languages": scored(prompts, examples, args.batch_size)}


def in_own_process(arithmetic: str) -> dict:
    """:func:`run_here` for ``arithmetic`` in a child process with this one's options; MptError with its error."""
    try:
        return rerun_in_child(__file__, ["--arithmetic", arithmetic], ARITHMETICS[arithmetic])
    except RuntimeError as exc:
        lines = str(exc).strip().splitlines() or [f"the {arithmetic} run failed"]
        raise MptError(lines[-1].removeprefix("error: ")) from None


def measure(args) -> dict:
    """Both runs, and per language what they agree on."""
    plain_run, cheap_run = in_own_process(BASELINE), in_own_process(args.against)
    languages = {}
    for lang, plain in plain_run["languages"].items():
        cheap = cheap_run["languages"][lang]
        rows = len(plain["labels"])
        same = sum(a == b for a, b in zip(plain["labels"], cheap["labels"]))
        languages[lang] = {
            "rows": rows,
            "same_label": same / rows,
            "accuracy_float32": plain["accuracy"],
            "accuracy_other": cheap["accuracy"],
            "accuracy_difference": cheap["accuracy"] - plain["accuracy"],
            "seconds_float32": plain["seconds"],
            "seconds_other": cheap["seconds"],
            "speedup": plain["seconds"] / cheap["seconds"],
        }
    total = lambda key: sum(entry[key] for entry in languages.values())  # over every language
    overall = {
        "rows": total("rows"),
        "same_label": sum(entry["same_label"] * entry["rows"] for entry in languages.values()) / total("rows"),
        "seconds_float32": total("seconds_float32"),
        "seconds_other": total("seconds_other"),
        "speedup": total("seconds_float32") / total("seconds_other"),
    }
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k not in ("json", "arithmetic")}
    return {
        "machine": machine("cpu"),
        "settings": settings,
        "task": plain_run["task"],
        "languages": languages,
        "overall": overall,
    }


def pct(share: float) -> str:
    return f"{100 * share:8.1f}"


def report(result: dict) -> list[str]:
    other = result["settings"]["against"]
    columns = ("rows", "same %", "acc fp32", f"acc {other}", "diff", "s fp32", f"s {other}", "speedup")
    lines = ["lang   " + " ".join(f"{name:>8s}" for name in columns)]
    for lang, e in result["languages"].items():
        lines.append(
            f"{lang:6s} {e['rows']:8d} {pct(e['same_label'])} {pct(e['accuracy_float32'])} {pct(e['accuracy_other'])} "
            f"{100 * e['accuracy_difference']:+8.1f} {e['seconds_float32']:8.2f} {e['seconds_other']:8.2f} {e['speedup']:8.2f}"
        )
    o = result["overall"]
    lines.append(f"{'all':6s} {o['rows']:8d} {pct(o['same_label'])} {'':8s} {'':8s} {'':8s} "
                 f"{o['seconds_float32']:8.2f} {o['seconds_other']:8.2f} {o['speedup']:8.2f}")  # fmt: skip
    return lines


def main() -> int:
    args = parse_args()
    quiet_libraries()
    try:
        if args.arithmetic:
            print(json.dumps(run_here(args)))
            return 0
        result = measure(args)
    except MptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stream = sys.stderr if args.json else sys.stdout
    print(f"machine: {result['machine']}\n" + "\n".join(report(result)), file=stream)
    if args.json:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
