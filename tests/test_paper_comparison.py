"""``benchmarks/paper_comparison.py``: mpt's figures beside a published per-language table, means by group and
script over the languages both score, and the languages not scored yet counted apart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "paper_comparison.py"

ANCHORS = """flores_code\tin_xlmr\txlmr_large_from_english\txlmr_large_fullsup\tlanguage_family
eng_Latn\tyes\t92.2\t92.2\tIndo-European
deu_Latn\tyes\t88.0\t90.0\tIndo-European
yor_Latn\tno\t30.0\t60.0\tAtlantic-Congo
ars_Arab\tno\t80.0\tNA\tAfro-Asiatic
nqo_Nkoo\tno\t10.0\t20.0\tMande
"""


def summary(languages: dict[str, tuple[float, float]]) -> dict:
    """A reproduce summary with a soft-prompt and an adapter row of one seed."""
    row = lambda method, i: {"method": method, "shots": "all", "seeds": 1,
                             "languages": {lang: {"mean": pair[i], "std": 0.0} for lang, pair in languages.items()}}  # fmt: skip
    return {"source": "en", "languages": ["en", *languages], "rows": [row("soft-prompt", 0), row("adapter", 1)]}


def run(tmp_path: Path, languages: dict, *extra: str) -> subprocess.CompletedProcess:
    (tmp_path / "summary.json").write_text(json.dumps(summary(languages)))
    (tmp_path / "anchors.tsv").write_text(ANCHORS)
    command = [sys.executable, str(SCRIPT), "--summary", tmp_path / "summary.json", "--anchors", tmp_path / "anchors.tsv", *extra]
    return subprocess.run(list(map(str, command)), capture_output=True, text=True, check=False, timeout=120)


def test_means_by_group_and_script_over_the_languages_both_score(tmp_path):
    languages = {"en": (0.9, 0.9), "de": (0.6, 0.8), "yo": (0.4, 0.6), "ars": (0.5, 0.7)}
    languages["ko"] = (0.5, 0.5)  # scored, not in the table
    result = run(tmp_path, languages, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    means = report["means"]
    assert means["all"] == {"languages": 3, "soft-prompt all": 50.0, "adapter all": 70.0,
                            "xlmr_large_from_english": 66.0, "xlmr_large_fullsup": 75.0}  # fmt: skip
    assert means["by_group"]["no"]["languages"] == 2 and means["by_group"]["no"]["adapter all"] == 65.0
    assert means["by_group"]["no"]["xlmr_large_fullsup"] == 60.0  # over the languages the column has a figure for
    assert means["by_script"]["Arab"]["adapter all"] == 70.0
    assert report["not_scored"] == ["nqo"] and report["not_in_table"] == ["ko"]
    assert report["languages"]["ars"]["name"] == "Najdi Arabic" and report["languages"]["ars"]["code"] == "ars_Arab"


def test_the_markdown_page_lists_every_language_and_the_extremes(tmp_path):
    result = run(tmp_path, {"de": (0.6, 0.8), "yo": (0.4, 0.6), "ars": (0.5, 0.7), "nqo": (0.1, 0.15)})
    assert result.returncode == 0, result.stderr
    page = result.stdout
    assert "Means over the targets mpt has scored (4 of 4)." in page
    assert "| yor_Latn | Yoruba | Latn | no | 40.0 | 60.0 | 30.0 | 60.0 |" in page
    assert "furthest ahead of xlmr_large_from_english (adapter all): Yoruba +30.0" in page
    assert "furthest behind of xlmr_large_from_english (adapter all): Najdi Arabic -10.0" in page


def test_a_table_without_the_code_column_is_one_clear_error(tmp_path):
    result = run(tmp_path, {"de": (0.6, 0.8)}, "--code-column", "iso")
    assert result.returncode == 2 and result.stderr.startswith("error:") and "no column 'iso'" in result.stderr
