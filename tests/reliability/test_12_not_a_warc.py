"""Item 12 of issue 15 (one of its smaller points): a text file passed as a WARC exited 0 silently.

A file that holds no WARC record and does not start like one is now refused with one line naming
the file, saying that 0 WARC records were read and what the file starts with (exit 2). A WARC with
damage before its first record, or one with no page records, is still a WARC.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from mella.cli import main

PAGE = Path(__file__).parents[1] / "data" / "web" / "cs" / "TeamHG-Memex__autopager__page-100.html"


def collect(capsys, *args: str) -> tuple[int, str]:
    code = main(["collect", *map(str, args)])
    return code, capsys.readouterr().err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("mella: error")]


def test_a_text_file_named_warc_is_refused_naming_the_file(tmp_path, capsys):
    notes = tmp_path / "notes.warc"
    notes.write_text("hello, these are my notes\nnot a web archive\n")
    code, err = collect(capsys, notes, "--out", tmp_path / "out")
    assert code == 2
    [line] = error_lines(err)
    assert "notes.warc is not a WARC file" in line and "0 WARC records read" in line
    assert "hello, these are my notes" in line


def test_a_text_file_given_with_format_warc_is_refused(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("just some text\n" * 50)
    code, err = collect(capsys, notes, "--format", "warc", "--out", tmp_path / "out")
    assert code == 2 and "notes.txt is not a WARC file" in error_lines(err)[0]


def test_a_gzipped_text_file_named_warc_gz_is_refused(tmp_path, capsys):
    path = tmp_path / "notes.warc.gz"
    path.write_bytes(gzip.compress(b"some text, gzipped\n" * 100))
    code, err = collect(capsys, path, "--out", tmp_path / "out")
    assert code == 2 and "notes.warc.gz is not a WARC file" in error_lines(err)[0]


def test_an_empty_file_named_warc_is_refused(tmp_path, capsys):
    path = tmp_path / "empty.warc.gz"
    path.write_bytes(b"")
    code, err = collect(capsys, path, "--out", tmp_path / "out")
    assert code == 2 and "empty.warc.gz is not a WARC file: it is empty" in error_lines(err)[0]


def test_a_warc_without_page_records_is_not_an_error(tmp_path, capsys):
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    writer.write_record(writer.create_warcinfo_record("info.warc.gz", {"software": "test"}))
    path = tmp_path / "info.warc.gz"
    path.write_bytes(buf.getvalue())
    code, err = collect(capsys, path, "--out", tmp_path / "out")
    assert code == 0 and error_lines(err) == []


def test_a_real_warc_still_collects(tmp_path, capsys):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record("https://cs.example.org/", "response",
                                                  payload=io.BytesIO(PAGE.read_bytes()), http_headers=http))
    path = tmp_path / "ok.warc.gz"
    path.write_bytes(buf.getvalue())
    code, err = collect(capsys, path, "--out", tmp_path / "out")
    assert code == 0 and error_lines(err) == []
    assert list((tmp_path / "out").glob("part-*.parquet"))


@pytest.mark.parametrize("name", ["notes.wat", "notes.wat.gz"])
def test_a_text_file_named_wat_is_refused_too(tmp_path, capsys, name):
    path = tmp_path / name
    data = b"not a WAT file either\n" * 10
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    code, err = collect(capsys, path, "--out", tmp_path / "out")
    assert code == 2 and f"{name} is not a WARC file" in error_lines(err)[0]
