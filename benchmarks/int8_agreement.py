"""int8 against float32 on real data: how often the labels agree, the accuracy of each, and the time of each.

    python benchmarks/int8_agreement.py --prompts-dir prompts --data /path/to/xnli --langs en,de,sw
    python benchmarks/int8_agreement.py --prompts-dir prompts --data /path/to/xnli --langs all --json

Scores the first --max-examples rows of each language's --split with the prompt (and language adapter)
`mpt eval` would use, once on the float32 backbone and once with --int8, both on the CPU, and reports
per language: the share of rows given the same label, the accuracy of each and their difference, and
the seconds of each (scoring only: the backbone is loaded, and warmed up on one batch, before the
clock starts). The report goes to stdout, or with --json to stderr, and a JSON summary to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# the mpt of this checkout, not whichever one is installed: a benchmark measures the code beside it
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from sections.common import machine  # after the path above, as every import below

from mpt_cli.cli.common import quiet_libraries
from mpt_cli.data import default_data, load_examples
from mpt_cli.data.examples import data_languages
from mpt_cli.engine.batching import EVAL_BATCH_SIZE
from mpt_cli.errors import MptError
from mpt_cli.languages import DEFAULT_SOURCE, normalise, parse_languages
from mpt_cli.prompt_set import PromptSet

KINDS = ("float32", "int8")


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
    parser.add_argument("--json", action="store_true", help="a JSON summary on stdout (the report on stderr)")
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


def measure(args) -> dict:
    """Both runs, and per language what they agree on."""
    source = normalise(args.source)
    runs, examples, task = {}, {}, None
    for kind in KINDS:  # one backbone at a time: the first is gone once ``prompts`` names the second
        prompts = PromptSet(args.prompts_dir, source, args.model, cpu=True, int8=kind == "int8")
        if not examples:  # read and checked before the first backbone loads
            task, data = prompts.task, default_data(prompts.task, args.data)
            languages = parse_languages(args.langs) or data_languages(task, data, args.split)
            examples = {lang: load_examples(task, data, lang, args.split)[: args.max_examples] for lang in languages}
        runs[kind] = scored(prompts, examples, args.batch_size)
    languages = {}
    for lang in examples:
        plain, int8 = runs["float32"][lang], runs["int8"][lang]
        same = sum(a == b for a, b in zip(plain["labels"], int8["labels"]))
        languages[lang] = {
            "rows": len(examples[lang]),
            "same_label": same / len(examples[lang]),
            "accuracy_float32": plain["accuracy"],
            "accuracy_int8": int8["accuracy"],
            "accuracy_difference": int8["accuracy"] - plain["accuracy"],
            "seconds_float32": plain["seconds"],
            "seconds_int8": int8["seconds"],
            "speedup": plain["seconds"] / int8["seconds"],
        }
    total = lambda key: sum(entry[key] for entry in languages.values())  # over every language
    overall = {
        "rows": total("rows"),
        "same_label": sum(entry["same_label"] * entry["rows"] for entry in languages.values()) / total("rows"),
        "seconds_float32": total("seconds_float32"),
        "seconds_int8": total("seconds_int8"),
        "speedup": total("seconds_float32") / total("seconds_int8"),
    }
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "json"}
    return {"machine": machine("cpu"), "settings": settings, "task": task.name, "languages": languages, "overall": overall}


def pct(share: float) -> str:
    return f"{100 * share:8.1f}"


def report(result: dict) -> list[str]:
    columns = ("rows", "same %", "acc fp32", "acc int8", "diff", "s fp32", "s int8", "speedup")
    lines = ["lang   " + " ".join(f"{name:>8s}" for name in columns)]
    for lang, e in result["languages"].items():
        lines.append(
            f"{lang:6s} {e['rows']:8d} {pct(e['same_label'])} {pct(e['accuracy_float32'])} {pct(e['accuracy_int8'])} "
            f"{100 * e['accuracy_difference']:+8.1f} {e['seconds_float32']:8.2f} {e['seconds_int8']:8.2f} {e['speedup']:8.2f}"
        )
    o = result["overall"]
    lines.append(f"{'all':6s} {o['rows']:8d} {pct(o['same_label'])} {'':8s} {'':8s} {'':8s} "
                 f"{o['seconds_float32']:8.2f} {o['seconds_int8']:8.2f} {o['speedup']:8.2f}")  # fmt: skip
    return lines


def main() -> int:
    args = parse_args()
    quiet_libraries()
    try:
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
