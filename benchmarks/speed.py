"""Speed and memory of mpt's engine against the alternatives, on one backbone, tokens and batch size.

    python benchmarks/speed.py --model e5-mlm --data xnli/dev-en.tsv
    python benchmarks/speed.py --model path/to/xlm-roberta-base-config.json \\
        --tokenizer path/to/xlmr-tokenizer --data xnli/dev-en.tsv    # random weights
    python benchmarks/speed.py --model e5-mlm --data xnli/dev-en.tsv --only int8 --json --check

--model is a model directory or a config.json (random weights: timings only, never accuracy).
Each variant runs in its own process so that its peak memory is its own. The sections are in
benchmarks/sections/, one module each; the ratios and their goals in benchmarks/goals.py.
The report goes to stdout, or with --json to stderr, and a JSON summary to stdout. With --check the
exit status is 1 unless every goal of the sections run holds. Needs `pip install peft`.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

# the mpt of this checkout, not whichever one is installed: a benchmark measures the code beside it
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import torch  # after the path above, as every import below
from goals import describe, every_goal_holds, ratio_rows
from sections import SECTIONS
from sections.common import load, machine, peak_memory_mb, rerun_in_child, timed

from mpt_cli.cli.common import quiet_libraries

VARIANTS = {name: make for section in SECTIONS.values() for name, make in getattr(section, "VARIANTS", {}).items()}
ENVIRONMENT = {name: env for section in SECTIONS.values() for name, env in getattr(section, "ENVIRONMENT", {}).items()}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--tokenizer")
    parser.add_argument("--data", required=True, help="premise<TAB>hypothesis[<TAB>label] file")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cpu", "cuda"))
    parser.add_argument("--examples", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=128)
    parser.add_argument("--scaling-examples", type=int, default=64)
    parser.add_argument("--translate-pairs", type=int, default=1000, help="parallel pairs a language, translate section")
    parser.add_argument("--translate-languages", type=int, default=3, help="the most languages in one translate run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", choices=list(SECTIONS), metavar="SECTION", help=" ".join(SECTIONS))
    parser.add_argument("--json", action="store_true", help="a JSON summary on stdout (the report on stderr)")
    parser.add_argument("--check", action="store_true", help="exit status 1 unless every goal of the sections run holds")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_variant(args) -> dict:
    """Time one variant in this process."""
    backbone = load(args)
    loaded_mb = peak_memory_mb(backbone)
    if backbone.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    count, run = VARIANTS[args.variant](backbone, args)
    seconds = timed(backbone, run, args.repeats)
    return {
        "items": count, "seconds": seconds, "per_second": count / seconds,
        "peak_mb": peak_memory_mb(backbone), "loaded_mb": loaded_mb, "precision": backbone.accelerator.mixed_precision,
    }  # fmt: skip


def in_own_process(name: str) -> dict:
    """``run_variant`` for ``name`` in a child process with this one's options; raises with its error."""
    try:
        return rerun_in_child(__file__, ["--variant", name], ENVIRONMENT.get(name, {}))
    except RuntimeError as exc:
        raise RuntimeError(str(exc)[-2000:]) from None


def main() -> int:
    args = parse_args()
    quiet_libraries()  # transformers' load reports and bars would bury the report
    if args.variant:
        print(json.dumps(run_variant(args)))
        return 0
    stream = sys.stderr if args.json else sys.stdout

    def say(line: str = "") -> None:
        print(line, file=stream, flush=True)

    sections = [name for name in SECTIONS if name in (args.only or SECTIONS)]
    settings = {k: v for k, v in vars(args).items() if k not in ("only", "json", "check", "variant")}
    say(f"machine: {machine(args.device)}")
    say(f"model: {args.model}; {args.examples} examples of {args.data}; "
        f"eval batch {args.batch_size}, train batch {args.train_batch}\n")  # fmt: skip

    measured, failed, skipped, tables, run = {}, {}, {}, {}, []
    for name in sections:
        section = SECTIONS[name]
        if getattr(section, "CPU_ONLY", False) and args.device != "cpu":
            skipped[name] = "runs on the CPU only"
            say(f"{name}: skipped, it runs on the CPU only")
            continue
        for variant in getattr(section, "VARIANTS", {}):
            run.append(variant)
            try:
                measured[variant] = m = in_own_process(variant)
            except RuntimeError as exc:
                failed[variant] = str(exc)
                say(f"{variant}: failed\n{exc}")
                continue
            say(f"{variant:20s} {m['per_second']:9.1f} items/s   {1000 * m['seconds'] / m['items']:8.2f} ms/item   "
                f"peak {m['peak_mb']:8.0f} MB (after load {m['loaded_mb']:.0f} MB)")  # fmt: skip
        if hasattr(section, "table"):
            try:
                tables[name] = section.table(args)
            except Exception:  # noqa: BLE001 - a benchmark reports a broken section and goes on with the others
                failed[name] = traceback.format_exc()[-2000:]
                say(f"{name}: failed\n{failed[name]}")
                continue
            say("\n" + "\n".join(section.report(tables[name])))

    rows = ratio_rows(run, measured, failed)
    if rows:
        say()
        for row in rows:
            say(describe(row))
    holds = every_goal_holds(rows)
    if args.json:
        summary = {
            "machine": machine(args.device), "settings": settings, "sections": sections, "variants": measured,
            "failed": failed, "skipped": skipped, "tables": tables, "ratios": rows, "goals_hold": holds,
        }  # fmt: skip
        print(json.dumps(summary, indent=2))
    return 0 if holds or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
