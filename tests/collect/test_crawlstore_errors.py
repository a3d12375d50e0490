"""A crawl copy on an object store (any fsspec base: s3://, gs://, a mirror): a record whose read fails is named
as the http reader names its failures, so a transient failure counts as unreachable and is read again on rerun,
and a missing file is not_found. Real fsspec filesystems: the in-memory one, and one that breaks its reads the way
a dropped connection or a throttling store does."""

from __future__ import annotations

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFile, MemoryFileSystem

from mella.collect.ccindex import targeted_pages
from mella.collect.commoncrawl import CrawlStore, store_error
from mella.net.ranges import Span, failure_reason


class _BreakingFile(MemoryFile):
    """A file whose reads raise what the filesystem was told to raise."""

    def read(self, size=-1):
        raise self.fs.error


class BreakingFS(MemoryFileSystem):
    """The in-memory filesystem under another protocol, whose files raise ``error`` when read."""

    protocol = "breaking"
    error: OSError = ConnectionResetError(104, "Connection reset by peer")
    store: dict = {}  # its own files, not the memory filesystem's
    pseudo_dirs = [""]

    @classmethod
    def _strip_protocol(cls, path):
        return super()._strip_protocol(path.removeprefix("breaking://"))

    def _open(self, path, mode="rb", **kwargs):
        return _BreakingFile(self, path, super()._open(path, mode, **kwargs).getvalue())


@pytest.fixture(autouse=True)
def _registered():
    fsspec.register_implementation("breaking", BreakingFS, clobber=True)
    yield
    BreakingFS.store.clear()


@pytest.mark.parametrize("cls,name,reason", [
    (FileNotFoundError, "not_found", "not_found"),
    (PermissionError, "forbidden", "forbidden"),
    (TimeoutError, "timeout", "unreachable"),
    (ConnectionResetError, "connection_error", "unreachable"),
    (BrokenPipeError, "connection_error", "unreachable"),
    (OSError, "io_error", "unreachable"),  # s3fs and gcsfs raise a bare OSError for throttling and lost streams
    (None, "io_error", "unreachable"),  # an exception name that is not Python's (a botocore error)
])
def test_a_store_error_is_named_as_the_http_reader_names_it(cls, name, reason):
    assert store_error(cls) == name
    assert failure_reason(f"{name} anything: at all") == reason


def test_a_missing_file_on_a_memory_store_is_not_found_and_the_rest_is_read():
    fs = fsspec.filesystem("memory")
    fs.pipe("/cc-test/crawl-data/a.warc.gz", b"0123456789" * 10)
    with CrawlStore("memory://cc-test/") as store:
        out = list(store.read_many([Span(store.url("crawl-data/a.warc.gz"), 10, 5),
                                    Span(store.url("crawl-data/gone.warc.gz"), 0, 5)]))
    assert out[0][1:] == (b"01234", None)
    span, data, error = out[1]
    assert data is None and span.url.endswith("gone.warc.gz")
    assert error.startswith("not_found FileNotFoundError: ")
    assert failure_reason(error) == "not_found"


@pytest.mark.parametrize("error,counted", [
    (ConnectionResetError(104, "Connection reset by peer"), "connection_error"),
    (OSError("An error occurred (SlowDown) when calling the GetObject operation"), "io_error"),
])
def test_a_record_whose_read_breaks_is_unreachable_and_counted_for_the_rerun(error, counted):
    BreakingFS.error = error
    fsspec.filesystem("breaking").pipe("/bucket/crawl-data/b.warc.gz", b"x" * 400)
    rows = [{"url": f"https://example.cz/{i}", "warc_filename": "crawl-data/b.warc.gz", "offset": 100 * i,
             "length": 50} for i in range(3)]
    with CrawlStore("breaking://bucket/") as store:
        out = list(targeted_pages(iter(rows), store, max_page_bytes=1 << 20))
    skips = [r for r in out if r["kind"] == "skip"]
    counts = [r for r in out if r["kind"] == "count"]
    assert len(skips) == 3 and {s["reason"] for s in skips} == {"unreachable"}
    # the counter a rerun reads to open this part again (crawlinputs.RETRIED: "records_unreachable.")
    assert {c["name"] for c in counts} == {f"records_unreachable.{counted}"} and sum(c["n"] for c in counts) == 3
    assert not any(r["kind"] == "page" for r in out)


def test_a_breaking_store_really_raises_on_read():
    # the fault is in the filesystem's own file object, not in the code under test
    BreakingFS.error = ConnectionResetError(104, "Connection reset by peer")
    fs = fsspec.filesystem("breaking")
    fs.pipe("/crawl-data/c.warc.gz", b"abc")
    with fs.open("/crawl-data/c.warc.gz", "rb") as fh, pytest.raises(ConnectionResetError):
        fh.read(1)
