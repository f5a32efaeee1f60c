"""``mpt predict``: row order and columns, formats, per-row language routing, streaming, and bad rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import LABELS, assert_clean_error, invoke, invoke_with_input, snapshot_tree, toy_rows

from mpt_cli.artifacts import PromptArtifact
from mpt_cli.engine.inference import label_probabilities
from mpt_cli.store import PromptStore

ROWS = toy_rows(3, seed=31)[:7]  # (premise, hypothesis, gold label word), cues of every label
LANGS = ["en", "en", "de", "en", "de", "de", "en", "de"]  # the first chunk of 2 has no German row
MIXED = toy_rows(3, seed=32)[:8]
PROBABILITY_HEADER = ["prediction", "p_entailment", "p_neutral", "p_contradiction"]


def tsv_text(rows, header=None) -> str:
    lines = (["\t".join(header)] if header else []) + ["\t".join(str(f) for f in row) for row in rows]
    return "".join(line + "\n" for line in lines)


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def predict(prompts: Path, *args, stdin: str | None = None):
    command = ["predict", *args, "--prompts-dir", prompts, "--cpu"]
    return invoke(*command) if stdin is None else invoke_with_input(stdin, *command)


def output_rows(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines()]


def probabilities(fields: list[str]) -> list[float]:
    return [float(x) for x in fields[-3:]]


def assert_prediction_is_the_argmax(label: str, probs: list[float]) -> None:
    assert label in LABELS
    assert abs(sum(probs) - 1.0) < 5e-4
    assert probs[LABELS.index(label)] == max(probs)


def summary_of(result) -> dict:
    """The ``--json`` summary printed at the end of stderr."""
    text = result.stderr
    return json.loads(text[text.rindex("\n{\n") + 1 :])


@pytest.fixture(scope="module")
def reference(routing_dir):
    """``reference(pairs, lang)``: label probabilities computed directly with the prompt of ``lang``."""
    source = PromptArtifact.load(routing_dir / "en.safetensors")
    backbone = PromptStore(routing_dir).load_backbone(source, cpu=True)
    scorer = PromptStore.scorer(source, backbone)
    template, label_words = scorer.template, scorer.label_words
    prompts = {"en": source.prompt, "de": PromptArtifact.load(routing_dir / "de.safetensors").prompt}

    def compute(pairs, lang: str) -> torch.Tensor:
        encoded = template.encode([(p, h) for p, h, *_ in pairs])
        return label_probabilities(backbone, encoded, prompts[lang], label_words)

    return compute


def assert_matches_reference(fields_per_row: list[list[float]], expected: torch.Tensor) -> None:
    torch.testing.assert_close(torch.tensor(fields_per_row), expected, rtol=0, atol=2e-4)


# --------------------------------------------------------------------------------------------------
# Rows, columns, formats
# --------------------------------------------------------------------------------------------------


def test_tsv_without_header_keeps_rows_columns_and_order(routing_dir, reference, tmp_path):
    rows = [(p, h, f"r{i}", gold) for i, (p, h, gold) in enumerate(ROWS)]
    result = predict(routing_dir, write(tmp_path / "rows.tsv", tsv_text(rows)), "--lang", "en")
    assert result.exit_code == 0, result.output
    out = output_rows(result.stdout)
    assert len(out) == len(rows)
    for fields, row in zip(out, rows):
        assert len(fields) == 8
        assert fields[:4] == list(row)
        assert_prediction_is_the_argmax(fields[4], probabilities(fields))
    assert_matches_reference([probabilities(f) for f in out], reference(ROWS, "en"))
    assert sum(f[4] == f[3] for f in out) >= 6  # the learned prompt reads the cues, row by row
    assert "labelled 7 rows (en 7)" in result.stderr


def test_tsv_with_header_finds_its_columns_and_repeats_the_header(routing_dir, reference, tmp_path):
    header = ["id", "hypothesis", "note", "premise"]
    rows = [(f"r{i}", h, "x y", p) for i, (p, h, _) in enumerate(ROWS)]
    result = predict(routing_dir, write(tmp_path / "rows.tsv", tsv_text(rows, header)), "--lang", "en")
    assert result.exit_code == 0, result.output
    out = output_rows(result.stdout)
    assert out[0] == header + PROBABILITY_HEADER
    assert [fields[:4] for fields in out[1:]] == [list(row) for row in rows]
    assert_matches_reference([probabilities(f) for f in out[1:]], reference(ROWS, "en"))


def test_header_with_column_aliases(routing_dir, tmp_path):
    plain = predict(routing_dir, write(tmp_path / "a.tsv", tsv_text(ROWS)), "--lang", "en")
    aliased_file = write(tmp_path / "b.tsv", tsv_text(ROWS, ("sentence1", "sentence2", "gold_label")))
    aliased = predict(routing_dir, aliased_file, "--lang", "en")
    assert plain.exit_code == aliased.exit_code == 0, aliased.output
    assert aliased.stdout.splitlines()[1:] == plain.stdout.splitlines()


def test_jsonl_passes_extra_fields_through(routing_dir, reference, tmp_path):
    records = [
        {"id": i, "premise": p, "hypothesis": h, "meta": {"gold": gold, "tags": [1, 2]}} for i, (p, h, gold) in enumerate(ROWS)
    ]
    path = write(tmp_path / "rows.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    result = predict(routing_dir, path, "--lang", "en")
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(records)
    for record, original in zip(out, records):
        assert list(record) == [*original, "prediction", "probabilities"]
        assert {k: record[k] for k in original} == original
        assert list(record["probabilities"]) == list(LABELS)
        assert_prediction_is_the_argmax(record["prediction"], list(record["probabilities"].values()))
    assert_matches_reference([list(r["probabilities"].values()) for r in out], reference(ROWS, "en"))


def test_jsonl_with_aliased_keys(routing_dir, tmp_path):
    records = [{"text_a": p, "text_b": h} for p, h, _ in ROWS]
    result = predict(routing_dir, write(tmp_path / "rows.jsonl", "".join(json.dumps(r) + "\n" for r in records)), "--lang", "en")
    plain_file = write(tmp_path / "rows.tsv", tsv_text([(p, h) for p, h, _ in ROWS]))
    plain = predict(routing_dir, plain_file, "--lang", "en", "--format", "jsonl")
    assert result.exit_code == plain.exit_code == 0, result.output
    assert [json.loads(x)["probabilities"] for x in result.stdout.splitlines()] == [
        json.loads(x)["probabilities"] for x in plain.stdout.splitlines()
    ]


def test_tsv_to_jsonl_names_the_fields(routing_dir, tmp_path):
    rows = [(p, h, f"r{i}", "z") for i, (p, h, _) in enumerate(ROWS)]
    headerless = predict(routing_dir, write(tmp_path / "a.tsv", tsv_text(rows)), "--lang", "en", "--format", "jsonl")
    header_file = write(tmp_path / "b.tsv", tsv_text(rows, ("premise", "hypothesis", "id", "tag")))
    with_header = predict(routing_dir, header_file, "--lang", "en", "--format", "jsonl")
    as_tsv = predict(routing_dir, tmp_path / "a.tsv", "--lang", "en")
    assert headerless.exit_code == with_header.exit_code == as_tsv.exit_code == 0, headerless.output
    first = [json.loads(x) for x in headerless.stdout.splitlines()]
    second = [json.loads(x) for x in with_header.stdout.splitlines()]
    assert len(first) == len(second) == len(rows)
    for a, b, row, tsv_fields in zip(first, second, rows, output_rows(as_tsv.stdout)):
        assert list(a) == ["premise", "hypothesis", "column_3", "column_4", "prediction", "probabilities"]
        assert [a["premise"], a["hypothesis"], a["column_3"], a["column_4"]] == list(row)
        assert list(b) == ["premise", "hypothesis", "id", "tag", "prediction", "probabilities"]
        assert a["prediction"] == b["prediction"] == tsv_fields[4]
        assert list(a["probabilities"].values()) == pytest.approx(probabilities(tsv_fields), abs=1e-4)


def test_jsonl_to_tsv(routing_dir, tmp_path):
    records = [{"premise": p, "hypothesis": h, "id": f"r{i}"} for i, (p, h, _) in enumerate(ROWS)]
    path = write(tmp_path / "rows.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    as_tsv = predict(routing_dir, path, "--lang", "en", "--format", "tsv")
    as_jsonl = predict(routing_dir, path, "--lang", "en")
    assert as_tsv.exit_code == as_jsonl.exit_code == 0, as_tsv.output
    for fields, record, labelled in zip(output_rows(as_tsv.stdout), records, map(json.loads, as_jsonl.stdout.splitlines())):
        assert fields[:3] == list(record.values())
        assert fields[3] == labelled["prediction"]
        assert probabilities(fields) == pytest.approx(list(labelled["probabilities"].values()), abs=1e-4)


def test_jsonl_to_tsv_keeps_one_line_per_row(routing_dir, tmp_path):
    records = [{"premise": "the man\nwalks", "hypothesis": "a\tdog sunny"}, {"premise": "the cat", "hypothesis": "a dog rainy"}]
    path = write(tmp_path / "rows.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    result = predict(routing_dir, path, "--lang", "en", "--format", "tsv")
    assert result.exit_code == 0, result.output
    assert [len(fields) for fields in output_rows(result.stdout)] == [6, 6]


def test_trailing_blank_lines_are_not_rows(routing_dir, tmp_path):
    result = predict(routing_dir, write(tmp_path / "rows.tsv", tsv_text(ROWS) + "\n\n  \n"), "--lang", "en")
    assert result.exit_code == 0, result.output
    assert len(output_rows(result.stdout)) == len(ROWS)


def test_byte_order_mark_and_crlf(routing_dir, tmp_path):
    plain = predict(routing_dir, write(tmp_path / "a.tsv", tsv_text(ROWS, ("premise", "hypothesis", "gold"))), "--lang", "en")
    windows = tsv_text(ROWS, ("premise", "hypothesis", "gold")).replace("\n", "\r\n")
    marked = predict(routing_dir, write(tmp_path / "b.tsv", "\ufeff" + windows), "--lang", "en")
    assert plain.exit_code == marked.exit_code == 0, marked.output
    assert marked.stdout == plain.stdout


# --------------------------------------------------------------------------------------------------
# Languages
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def mixed_files(tmp_path):
    """The same rows as a mixed file (with a lang column) and as one file per language."""
    header = ("premise", "hypothesis", "lang")
    rows = [(p, h, lang) for (p, h, _), lang in zip(MIXED, LANGS)]
    return {
        "mixed": write(tmp_path / "mixed.tsv", tsv_text(rows, header)),
        "headerless": write(tmp_path / "headerless.tsv", tsv_text(rows)),
        "en": write(tmp_path / "en.tsv", tsv_text([r for r in rows if r[2] == "en"], header)),
        "de": write(tmp_path / "de.tsv", tsv_text([r for r in rows if r[2] == "de"], header)),
        "rows": rows,
    }


def test_lang_column_routes_each_row_to_its_prompt(routing_dir, reference, mixed_files):
    mixed = predict(routing_dir, mixed_files["mixed"], "--lang-column", "lang", "--json")
    german = predict(routing_dir, mixed_files["de"], "--lang", "de")
    english = predict(routing_dir, mixed_files["en"], "--lang", "en")
    german_with_source = predict(routing_dir, mixed_files["de"], "--lang", "en")
    for result in (mixed, german, english, german_with_source):
        assert result.exit_code == 0, result.output
    lines = mixed.stdout.splitlines()
    assert lines[0] == german.stdout.splitlines()[0] == "\t".join(["premise", "hypothesis", "lang", *PROBABILITY_HEADER])
    single = {"de": iter(german.stdout.splitlines()[1:]), "en": iter(english.stdout.splitlines()[1:])}
    assert lines[1:] == [next(single[lang]) for lang in LANGS]
    # guard: the German prompt really gives other probabilities than the source prompt on these rows
    de_rows = [f for f in output_rows(german.stdout)[1:]]
    source_rows = [f for f in output_rows(german_with_source.stdout)[1:]]
    assert all(probabilities(a) != probabilities(b) for a, b in zip(de_rows, source_rows))
    german_rows = [r for r in mixed_files["rows"] if r[2] == "de"]
    assert_matches_reference([probabilities(f) for f in de_rows], reference(german_rows, "de"))
    summary = summary_of(mixed)
    assert summary["rows"] == 8 and summary["languages"] == {"en": 4, "de": 4}
    assert summary["skipped"] == [] and summary["warnings"] == []


def test_lang_column_by_number_and_jsonl_key(routing_dir, mixed_files, tmp_path):
    by_name = predict(routing_dir, mixed_files["mixed"], "--lang-column", "lang")
    by_number = predict(routing_dir, mixed_files["headerless"], "--lang-column", "3")
    records = [{"premise": p, "hypothesis": h, "lang": lang.upper()} for p, h, lang in mixed_files["rows"]]
    jsonl_file = write(tmp_path / "mixed.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    jsonl = predict(routing_dir, jsonl_file, "--lang-column", "lang")
    assert by_name.exit_code == by_number.exit_code == jsonl.exit_code == 0, jsonl.output
    assert by_number.stdout.splitlines() == by_name.stdout.splitlines()[1:]
    named = output_rows(by_name.stdout)[1:]
    for record, fields in zip(map(json.loads, jsonl.stdout.splitlines()), named):
        assert record["prediction"] == fields[3]
        assert list(record["probabilities"].values()) == pytest.approx(probabilities(fields), abs=1e-4)


def test_missing_prompt_falls_back_to_the_source_prompt(routing_dir, tmp_path):
    path = write(tmp_path / "rows.tsv", tsv_text(ROWS))
    swahili = predict(routing_dir, path, "--lang", "sw")
    english = predict(routing_dir, path, "--lang", "en")
    assert swahili.exit_code == english.exit_code == 0, swahili.output
    assert swahili.stdout == english.stdout
    warnings = [line for line in swahili.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "no sw prompt" in warnings[0] and "`mpt translate --to sw`" in " ".join(swahili.stderr.split())
    assert not any(line.startswith("warning:") for line in english.stderr.splitlines())


def test_fallback_in_a_lang_column_warns_once(routing_dir, tmp_path):
    rows = [(p, h, lang) for (p, h, _), lang in zip(ROWS, ["sw", "en", "sw", "de", "sw", "en", "en"])]
    path = write(tmp_path / "rows.tsv", tsv_text(rows))
    result = predict(routing_dir, path, "--lang-column", "3", "--chunk-size", "2", "--json")
    assert result.exit_code == 0, result.output
    summary = summary_of(result)
    assert summary["languages"] == {"sw": 3, "en": 3, "de": 1}
    assert len(summary["warnings"]) == 1 and "`mpt translate --to sw`" in summary["warnings"][0]


# --------------------------------------------------------------------------------------------------
# Streams, chunks and the output file
# --------------------------------------------------------------------------------------------------


def test_stdin(routing_dir, tmp_path):
    text = tsv_text(ROWS, ("premise", "hypothesis", "gold"))
    from_file = predict(routing_dir, write(tmp_path / "rows.tsv", text), "--lang", "en")
    from_stdin = predict(routing_dir, "-", "--lang", "en", stdin=text)
    assert from_file.exit_code == from_stdin.exit_code == 0, from_stdin.output
    assert from_stdin.stdout == from_file.stdout


def test_stdin_as_jsonl(routing_dir, tmp_path):
    text = "".join(json.dumps({"premise": p, "hypothesis": h}) + "\n" for p, h, _ in ROWS)
    from_file = predict(routing_dir, write(tmp_path / "rows.jsonl", text), "--lang", "en")
    from_stdin = predict(routing_dir, "-", "--lang", "en", "--input-format", "jsonl", stdin=text)
    assert from_file.exit_code == from_stdin.exit_code == 0, from_stdin.output
    assert from_stdin.stdout == from_file.stdout


@pytest.mark.parametrize("chunk_size", [1, 2, 3])
def test_small_chunks_give_the_same_output(routing_dir, mixed_files, chunk_size):
    whole = predict(routing_dir, mixed_files["mixed"], "--lang-column", "lang")
    chunked = predict(routing_dir, mixed_files["mixed"], "--lang-column", "lang", "--chunk-size", str(chunk_size))
    assert whole.exit_code == chunked.exit_code == 0, chunked.output
    assert chunked.stdout == whole.stdout
    assert chunked.stdout.count("prediction") == 1  # the header once


def test_output_file(routing_dir, tmp_path):
    path = write(tmp_path / "rows.tsv", tsv_text(ROWS))
    target = tmp_path / "out" / "labelled.tsv"
    result = predict(routing_dir, path, "--lang", "en", "--output", target)
    to_stdout = predict(routing_dir, path, "--lang", "en")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert target.read_text() == to_stdout.stdout
    assert f"wrote {target}" in " ".join(result.stderr.split())
    assert sorted(p.name for p in target.parent.iterdir()) == ["labelled.tsv"]


def test_existing_output_is_refused_before_work_then_replaced_with_overwrite(routing_dir, tmp_path):
    target = write(tmp_path / "labelled.tsv", "old\n")
    path = write(tmp_path / "rows.tsv", tsv_text(ROWS))
    # the prompts folder does not exist either: the output must be refused first
    refused = predict(tmp_path / "no-prompts", path, "--lang", "en", "--output", target)
    assert_clean_error(refused, str(target), "already exists", "--overwrite")
    assert target.read_text() == "old\n"
    replaced = predict(routing_dir, path, "--lang", "en", "--output", target, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert len(target.read_text().splitlines()) == len(ROWS)


def test_bad_row_with_an_output_file_writes_nothing(routing_dir, tmp_path):
    lines = tsv_text(ROWS).splitlines()
    lines[5] = lines[5].replace("\t", " ")
    path = write(tmp_path / "rows.tsv", "\n".join(lines) + "\n")
    (tmp_path / "out").mkdir()
    result = predict(routing_dir, path, "--lang", "en", "--output", tmp_path / "out" / "labelled.tsv", "--chunk-size", "2")
    assert_clean_error(result, "rows.tsv line 6", "no tab")
    assert list((tmp_path / "out").iterdir()) == []


# --------------------------------------------------------------------------------------------------
# Bad rows
# --------------------------------------------------------------------------------------------------


def lines_with(index: int, replacement: bytes) -> bytes:
    lines = [line.encode() for line in tsv_text(ROWS).splitlines()]
    lines[index] = replacement
    return b"\n".join(lines) + b"\n"


def jsonl_with(index: int, replacement: str) -> str:
    lines = [json.dumps({"premise": p, "hypothesis": h, "lang": "en"}) for p, h, _ in ROWS]
    lines[index] = replacement
    return "\n".join(lines) + "\n"


HEADER = "id\tpremise\thypothesis\n"
BAD_ROWS = {
    "no-tab": ("rows.tsv", lines_with(2, b"a man walks and no tab"), ["--lang", "en"], ["rows.tsv line 3", "no tab"]),
    "empty-line": ("rows.tsv", lines_with(2, b""), ["--lang", "en"], ["rows.tsv line 3: empty line"]),
    "missing-column": (
        "rows.tsv", HEADER + "1\tthe man\ta dog sunny\n2\tthe cat\ta cat rainy\n3\tonly a premise\n", ["--lang", "en"],
        ["rows.tsv line 4", "missing column 'hypothesis'"],
    ),
    "invalid-utf8": (
        "rows.tsv", lines_with(1, b"the \xff\xfe man\ta dog"), ["--lang", "en"], ["rows.tsv line 2: not valid UTF-8"],
    ),
    "unknown-lang": ("rows.tsv", tsv_text(ROWS), ["--lang", "xx"], ["'xx' is not a language code"]),
    "unknown-lang-in-column": (
        "rows.tsv", tsv_text([(p, h, "xx" if i == 2 else "en") for i, (p, h, _) in enumerate(ROWS)]), ["--lang-column", "3"],
        ["rows.tsv line 3", "'xx' is not a language code"],
    ),
    "empty-file": ("rows.tsv", "", ["--lang", "en"], ["rows.tsv has no rows to label"]),
    "header-only": ("rows.tsv", HEADER, ["--lang", "en"], ["rows.tsv has no rows to label"]),
    "header-without-hypothesis": ("rows.tsv", "premise\tlabel\na\tb\n", ["--lang", "en"], ["'hypothesis' column"]),
    "neither-lang-option": ("rows.tsv", tsv_text(ROWS), [], ["give either --lang", "--lang-column"]),
    "both-lang-options": ("rows.tsv", tsv_text(ROWS), ["--lang", "en", "--lang-column", "3"], ["give either --lang"]),
    "lang-column-not-in-header": ("rows.tsv", tsv_text(ROWS), ["--lang-column", "lang"], ["has no column 'lang'"]),
    "lang-column-beyond-the-row": (
        "rows.tsv", tsv_text(ROWS), ["--lang-column", "9"], ["rows.tsv line 1", "missing language column '9'"],
    ),
    "invalid-json": ("rows.jsonl", jsonl_with(1, '{"premise": "a",'), ["--lang", "en"], ["rows.jsonl line 2: invalid JSON"]),
    "json-not-an-object": (
        "rows.jsonl", jsonl_with(3, '["a", "b"]'), ["--lang", "en"], ["rows.jsonl line 4: expected a JSON object"],
    ),
    "json-missing-field": (
        "rows.jsonl", jsonl_with(2, '{"premise": "a"}'), ["--lang", "en"], ["rows.jsonl line 3", "missing field 'hypothesis'"],
    ),
    "json-missing-lang": (
        "rows.jsonl", jsonl_with(4, '{"premise": "a", "hypothesis": "b"}'), ["--lang-column", "lang"],
        ["rows.jsonl line 5", "missing field 'lang'"],
    ),
    "unknown-output-format": ("rows.tsv", tsv_text(ROWS), ["--lang", "en", "--format", "csv"], ["output format 'csv'"]),
    "unknown-input-format": ("rows.tsv", tsv_text(ROWS), ["--lang", "en", "--input-format", "xml"], ["input format 'xml'"]),
}


BAD_ROW_CASES = [pytest.param(*case, id=key) for key, case in BAD_ROWS.items()]


@pytest.mark.parametrize(("name", "content", "options", "fragments"), BAD_ROW_CASES)
def test_bad_input_is_one_clean_error(routing_dir, tmp_path, name, content, options, fragments):
    path = write(tmp_path / name, content)
    before = snapshot_tree(tmp_path)
    assert_clean_error(predict(routing_dir, path, *options), *fragments)
    assert snapshot_tree(tmp_path) == before


def test_nonexistent_input(routing_dir, tmp_path):
    assert_clean_error(predict(routing_dir, tmp_path / "nothing.tsv", "--lang", "en"), "nothing.tsv", "does not exist")


def test_no_source_prompt(tmp_path):
    (tmp_path / "prompts").mkdir()
    path = write(tmp_path / "rows.tsv", tsv_text(ROWS))
    assert_clean_error(predict(tmp_path / "prompts", path, "--lang", "en"), "no source prompt", "`mpt train-source --lang en`")


def test_prompts_of_another_backbone(source_prompts_dir, other_model_dir, tmp_path):
    path = write(tmp_path / "rows.tsv", tsv_text(ROWS))
    assert_clean_error(predict(source_prompts_dir, path, "--lang", "en", "--model", other_model_dir), "fingerprint", "--model")


def test_bad_row_on_stdin_names_the_line(routing_dir):
    result = predict(routing_dir, "-", "--lang", "en", stdin=tsv_text(ROWS[:2]) + "no tab here\n")
    assert_clean_error(result, "stdin line 3", "no tab")


def test_zero_batch_size_is_a_clean_error(routing_dir, tmp_path):
    path = write(tmp_path / "rows.tsv", tsv_text(ROWS))
    assert_clean_error(predict(routing_dir, path, "--lang", "en", "--batch-size", "0"), "--batch-size")


def test_skip_bad_rows_reports_them_and_labels_the_rest(routing_dir, tmp_path):
    good = [line.encode() for line in tsv_text(ROWS).splitlines()]
    lines = [good[0], good[1], b"no tab at all", good[2], good[3], b"bad \xff byte\tx", good[4], b"", good[5], b""]
    content = b"\n".join(lines) + b"\n"  # bad lines 3, 6 and 8; the blank line 10 ends the file
    clean = predict(routing_dir, write(tmp_path / "clean.tsv", tsv_text(ROWS[:6])), "--lang", "en")
    result = predict(routing_dir, write(tmp_path / "rows.tsv", content), "--lang", "en", "--skip-bad-rows", "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout == clean.stdout
    stderr = " ".join(result.stderr.split())
    assert "skipped 3 bad rows" in stderr
    assert "rows.tsv line 3" in stderr and "rows.tsv line 6" in stderr and "rows.tsv line 8" in stderr
    summary = summary_of(result)
    assert summary["rows"] == 6
    assert [line for line, _ in summary["skipped"]] == [3, 6, 8]
    reasons = [reason for _, reason in summary["skipped"]]
    assert "no tab" in reasons[0] and "UTF-8" in reasons[1] and "empty line" in reasons[2]


def test_skip_bad_rows_with_a_lang_column(routing_dir, mixed_files, tmp_path):
    rows = mixed_files["rows"]
    bad = [*rows[:3], (rows[3][0], rows[3][1], "xx"), *rows[4:]]
    result = predict(routing_dir, write(tmp_path / "rows.tsv", tsv_text(bad)), "--lang-column", "3", "--skip-bad-rows")
    clean = predict(routing_dir, write(tmp_path / "clean.tsv", tsv_text(rows[:3] + rows[4:])), "--lang-column", "3")
    assert result.exit_code == clean.exit_code == 0, result.output
    assert result.stdout == clean.stdout
    assert "skipped 1 bad rows" in result.stderr and "line 4" in result.stderr


def test_skip_bad_rows_with_nothing_left(routing_dir, tmp_path):
    path = write(tmp_path / "rows.tsv", "no tab\nnone here either\n")
    result = predict(routing_dir, path, "--lang", "en", "--skip-bad-rows")
    assert_clean_error(result, "rows.tsv has no rows to label", "2 bad rows skipped")
