"""Item 11: contradictory options are refused when they are parsed, every problem in one message (exit 2).

Before the fix each of these ran and wrote a useless output: ``--min-words 10 --max-words 2`` dropped every row,
``build --test-size 0.9 --validation-size 0.9`` planned 0 train rows, ``--langs ""`` and ``build --langs xx``
kept nothing, ``workers: -3`` in a pipeline file was accepted. Driven through the real CLI (``mella.cli.main``)
on a real pairs folder; nothing may be written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from clikit import pairs_folder, refused

REGISTRY = "ar, cs, en, hu, ko, ru, sr, th, vi"


@pytest.fixture
def pairs(tmp_path) -> Path:
    return pairs_folder(tmp_path)


def test_11_min_words_above_max_words_and_min_chars_above_max_chars_in_one_message(pairs, tmp_path, capsys):
    out = tmp_path / "f"
    problems = refused(capsys, ["filter", str(pairs), "--out", str(out), "--min-words", "10", "--max-words", "2",
                                "--min-chars", "100", "--max-chars", "5"], out)
    assert problems == ["min_words (10) is greater than max_words (2)",
                        "min_chars (100) is greater than max_chars (5)"]


def test_11_conflicts_are_listed_with_the_problems_of_single_fields(pairs, tmp_path, capsys):
    # pydantic skips checks across fields once a field fails; the conflict must still be in the same message.
    out = tmp_path / "f"
    problems = refused(capsys, ["filter", str(pairs), "--out", str(out), "--min-words", "10", "--max-words", "2",
                                "--min-confidence", "7"], out)
    assert len(problems) == 2
    assert problems[0].startswith("min_confidence: Input should be less than or equal to 1")
    assert problems[1] == "min_words (10) is greater than max_words (2)"


def test_11_a_minimum_above_the_rules_file_default_maximum(pairs, tmp_path, capsys):
    out = tmp_path / "f"
    problems = refused(capsys, ["filter", str(pairs), "--out", str(out), "--min-words", "90"], out)
    assert problems == ["min_words (90) is greater than max_words (80, the default)"]


def test_11_build_test_and_validation_fractions_leave_no_train_rows(pairs, tmp_path, capsys):
    out = tmp_path / "b"
    problems = refused(capsys, ["build", str(pairs), "--out", str(out), "--test-size", "0.9",
                                "--validation-size", "0.9"], out)
    assert problems == ["test_size (0.9) + validation_size (0.9) = 1.8 leaves nothing for train; "
                        "fractions must sum below 1"]


@pytest.mark.parametrize("stage", ["filter", "build"])
def test_11_empty_langs_is_refused(pairs, tmp_path, capsys, stage):
    out = tmp_path / "o"
    problems = refused(capsys, [stage, str(pairs), "--out", str(out), "--langs", ""], out)
    assert problems == ["langs: an empty language tag (got [''])"]


def test_11_build_unknown_language_lists_the_valid_ones(pairs, tmp_path, capsys):
    out = tmp_path / "b"
    problems = refused(capsys, ["build", str(pairs), "--out", str(out), "--langs", "xx,ru,sr-Grek"], out)
    assert problems == [f"langs: unknown languages 'xx', 'sr-Grek'; known: {REGISTRY}, "
                        "or any ISO 639-1 code the language detectors know"]


def test_11_filter_unknown_language_is_exit_2_not_exit_1(pairs, tmp_path, capsys):
    out = tmp_path / "f"
    problems = refused(capsys, ["filter", str(pairs), "--out", str(out), "--langs", "xx"], out)
    assert problems[0].startswith("langs: unknown language 'xx'; known: ar, cs")


def test_11_translate_length_ratios_and_source_language(pairs, tmp_path, capsys):
    out = tmp_path / "t"
    problems = refused(capsys, ["translate", str(pairs), "--out", str(out), "--model", "m",
                                "--min-length-ratio", "5", "--max-length-ratio", "2", "--source-lang", "zz"], out)
    assert problems == [f"source_lang: unknown language 'zz'; known: {REGISTRY}",
                        "min_length_ratio (5.0) is greater than max_length_ratio (2.0)"]


@pytest.mark.parametrize("stage", ["collect", "fetch"])
def test_11_empty_allowed_host_is_refused(pairs, tmp_path, capsys, stage):
    out = tmp_path / "o"
    problems = refused(capsys, [stage, str(pairs), "--out", str(out), "--allow-hosts", ""], out)
    assert problems == ["allow_hosts: an empty entry (got [''])"]


def test_11_pipeline_file_lists_every_problem(tmp_path, capsys, pairs):
    path = tmp_path / "p.yaml"
    path.write_text(f"""name: contradictions
workers: -3
stages:
  - stage: filter
    inputs: [{pairs}]
    min_words: 10
    max_words: 2
    langs: []
  - stage: build
    test_size: 0.5
    validation_size: 0.5
  - stage: evaluate
    metrics: [bleu, blue]
  - stage: export
    formats: []
""", encoding="utf-8")
    run_dir = tmp_path / "run"
    problems = refused(capsys, ["run", str(path), "--run-dir", str(run_dir)], run_dir)
    assert problems == [
        "workers: must be at least 1 (got -3); leave it out for one per core",
        f"stages[0] (filter): langs: name at least one language (known: {REGISTRY})",
        "stages[0] (filter): min_words (10) is greater than max_words (2)",
        "stages[1] (build): test_size (0.5) + validation_size (0.5) = 1 leaves nothing for train; "
        "fractions must sum below 1",
        "stages[2] (evaluate): metrics: unknown 'blue'; valid: bleu, chrf, rougeL, meteor, keyword_accuracy, "
        "entity_accuracy, output_lang_rate",
        "stages[3] (export): formats: name at least one of hf, llava, sharegpt, swift, wds",
    ]


def test_11_library_construction_is_refused_too():
    from mella.dataset.build import BuildOptions
    from mella.filter.filter import FilterOptions

    with pytest.raises(ValidationError, match=r"min_words \(10\) is greater than max_words \(2\)"):
        FilterOptions(min_words=10, max_words=2)
    with pytest.raises(ValidationError, match="leaves nothing for train"):
        BuildOptions(test_size=0.6, validation_size=0.4)


def test_11_consistent_options_are_still_accepted():
    from mella.cli._stage import build_options
    from mella.pipeline.registry import get_stage

    assert build_options(get_stage("filter"), {"min_words": 2, "max_words": 2, "langs": ("ru", "sr-Latn")})
    build = get_stage("build")
    assert build_options(build, {"test_size": 0.5, "validation_size": 0.4})
    assert build_options(build, {"test_size": 100, "validation_size": 0.99})  # a count and a fraction
    assert build_options(build, {"langs": ("de",)})  # a code the detectors know, outside the registry
