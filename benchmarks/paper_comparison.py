"""mpt's accuracy per language beside a published per-language table (the SIB-200 paper's Table 7, say),
as the Markdown of a results page.

    python benchmarks/paper_comparison.py --summary runs/sib-all/summary.json --anchors sib200-table7.tsv
    python benchmarks/paper_comparison.py --summary runs/sib-all/summary.json --anchors sib200-table7.tsv \
        --columns xlmr_large_from_english,xlmr_large_fullsup --group-column in_xlmr --json

Reads `mpt reproduce`'s summary.json (every row: method and shots, mean accuracy per language over its seeds)
and a TSV with one row per language (`--code-column`: any code mpt reads, such as FLORES-200's), and prints:
the means over the targets both score, per group (`--group-column`) and per script, for each mpt row and each
published column; the languages where the last mpt row is furthest behind and ahead of the first published
column; then every language. A language of the table that mpt has not scored yet is counted apart, so a
mean is always over the languages named beside it.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

# the mpt of this checkout, not whichever one is installed: a benchmark measures the code beside it
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from mpt_cli.errors import MptError
from mpt_cli.languages import language_name, normalise, script_of

EXTREMES = 10  # languages listed as furthest behind and ahead


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--summary", type=Path, required=True, help="mpt reproduce's summary.json")
    parser.add_argument("--anchors", type=Path, required=True, help="the published per-language table (TSV, header)")
    parser.add_argument("--code-column", default="flores_code")
    parser.add_argument("--group-column", default="in_xlmr")
    parser.add_argument("--columns", default="xlmr_large_from_english,xlmr_large_fullsup", help="published columns, in %%")
    parser.add_argument("--json", action="store_true", help="the figures as JSON on stdout instead of Markdown")
    return parser.parse_args(argv)


def read_anchors(path: Path, code_column: str) -> dict[str, dict[str, str]]:
    """The published rows by mpt's canonical language tag."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    if not rows or code_column not in rows[0]:
        raise MptError(f"{path} has no column {code_column!r}")
    return {normalise(row[code_column]): row for row in rows}


def compare(summary: dict, anchors: dict[str, dict[str, str]], group_column: str, columns: list[str]) -> dict:
    """Per-language figures (0-100) of each mpt row and published column, and their means."""
    source = summary["source"]
    rows = {f"{r['method']} {r['shots']}": r for r in summary["rows"]}
    languages = {}
    for lang, published in anchors.items():
        if lang == source:
            continue
        ours = {name: _percent(row["languages"].get(lang)) for name, row in rows.items()}
        theirs = {column: _number(published.get(column)) for column in columns}
        languages[lang] = {
            "name": language_name(lang), "code": published.get("flores_code", lang), "script": script_of(lang),
            "group": published.get(group_column, ""), "family": published.get("language_family", ""),
            "mpt": ours, "published": theirs,
        }  # fmt: skip
    scored = {lang: entry for lang, entry in languages.items() if all(v is not None for v in entry["mpt"].values())}
    return {
        "rows": list(rows), "columns": columns, "languages": languages,
        "not_scored": sorted(set(languages) - set(scored)),
        "means": {
            "all": _means(scored.values(), rows, columns),
            "by_group": {g: _means(members, rows, columns) for g, members in _by(scored, "group").items()},
            "by_script": {s: _means(members, rows, columns) for s, members in _by(scored, "script").items()},
        },
        "not_in_table": sorted(lang for lang in summary["languages"] if lang not in anchors and lang != source),
    }  # fmt: skip


def _by(entries: dict[str, dict], key: str) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for entry in entries.values():
        grouped.setdefault(entry[key], []).append(entry)
    return dict(sorted(grouped.items(), key=lambda item: -len(item[1])))


def _means(entries, rows, columns) -> dict:
    entries = list(entries)
    mean = lambda values: round(statistics.mean(values), 1) if values else None
    figures = {"languages": len(entries)}
    figures |= {name: mean([e["mpt"][name] for e in entries]) for name in rows}
    for column in columns:  # over the languages the column has a figure for
        values = [e["published"][column] for e in entries if e["published"][column] is not None]
        figures[column] = mean(values)
    return figures


def _percent(stats: dict | None) -> float | None:
    return None if stats is None else 100 * stats["mean"]


def _number(text: str | None) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def markdown(report: dict) -> str:
    rows, columns = report["rows"], report["columns"]
    head = ["languages", *rows, *columns]
    lines = [f"Means over the targets mpt has scored ({report['means']['all']['languages']} of {len(report['languages'])}).", ""]

    def table(title: str, figures: dict[str, dict]) -> None:
        lines.extend([f"| {title} | " + " | ".join(head) + " |", "|" + " --- |" * (len(head) + 1)])
        for name, means in figures.items():
            lines.append(f"| {name} | " + " | ".join(_cell(means[h]) for h in head) + " |")
        lines.append("")

    table("group", {"all": report["means"]["all"], **report["means"]["by_group"]})
    table("script", report["means"]["by_script"])
    last, first = rows[-1], columns[0]
    scored = [e for lang, e in report["languages"].items()
              if lang not in report["not_scored"] and e["published"][first] is not None]  # fmt: skip
    scored.sort(key=lambda e: e["mpt"][last] - e["published"][first])
    for title, chosen in (("furthest behind", scored[:EXTREMES]), ("furthest ahead", scored[::-1][:EXTREMES])):
        lines.append(f"{title} of {first} ({last}): " + ", ".join(
            f"{e['name']} {e['mpt'][last] - e['published'][first]:+.1f}" for e in chosen) + ".")  # fmt: skip
    lines.extend(["", "| code | language | script | group | " + " | ".join([*rows, *columns]) + " |",
                  "|" + " --- |" * (4 + len(rows) + len(columns))])  # fmt: skip
    for entry in sorted(report["languages"].values(), key=lambda e: e["code"]):
        figures = [_cell(entry["mpt"][r]) for r in rows] + [_cell(entry["published"][c]) for c in columns]
        named = f"| {entry['code']} | {entry['name']} | {entry['script']} | {entry['group']} | "
        lines.append(named + " | ".join(figures) + " |")
    if report["not_scored"]:
        lines.extend(["", f"Not scored yet: {' '.join(report['not_scored'])}."])
    if report["not_in_table"]:
        lines.extend(["", f"Scored, not in the published table: {' '.join(report['not_in_table'])}."])
    return "\n".join(lines) + "\n"


def _cell(value) -> str:
    return "–" if value is None else f"{value:.1f}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = json.loads(args.summary.read_text())
        report = compare(summary, read_anchors(args.anchors, args.code_column), args.group_column, args.columns.split(","))
    except (MptError, OSError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else markdown(report), end="" if not args.json else "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
