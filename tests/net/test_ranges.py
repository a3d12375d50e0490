"""mella.net.ranges: bounded range reads through the guarded client, against real loopback servers.

The Common Crawl fixture's server (tests/cccrawl.py) answers single byte ranges and injects faults; a tiny
second server here misbehaves in the ways a real mirror might (ignores Range, answers another range, sends a
short body) or sleeps, to watch how many requests are in flight.
"""

from __future__ import annotations

import io
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cccrawl import CrawlServer
from mella.errors import MellaError
from mella.net.client import NetOptions
from mella.net.ranges import (
    COALESCE_GAP,
    COALESCE_MAX,
    RangeFile,
    RangeReader,
    RemoteReadError,
    Span,
    coalesce,
    range_options,
    remote_error,
)

DATA = random.Random(19).randbytes(200_000)
U, V = "http://h/a", "http://h/b"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "blob.bin").write_bytes(DATA)
    (tmp_path / "small.txt").write_bytes(b"hello ranges\n")
    (tmp_path / "empty.bin").write_bytes(b"")
    return tmp_path


@pytest.fixture
def srv(files):
    with CrawlServer(files) as s:
        yield s


def reader_for(host_port: str, **kw) -> RangeReader:
    return RangeReader(range_options(NetOptions(allow_hosts=(host_port,), backoff_base=0.01), **kw))


@pytest.fixture
def reader(srv):
    with reader_for(srv.host_port) as r:
        yield r


# -- coalesce ------------------------------------------------------------------------------------------

def test_neighbours_within_the_gap_are_merged():
    [one] = coalesce([Span(U, 0, 10), Span(U, 15, 10)], gap=5)
    assert one.span == Span(U, 0, 25) and one.parts == [Span(U, 0, 10), Span(U, 15, 10)]
    assert [m.span for m in coalesce([Span(U, 0, 10), Span(U, 15, 10)], gap=4)] == [Span(U, 0, 10), Span(U, 15, 10)]


def test_the_default_gap():
    near = [Span(U, 0, 10), Span(U, 10 + COALESCE_GAP, 10)]
    far = [Span(U, 0, 10), Span(U, 11 + COALESCE_GAP, 10)]
    assert len(coalesce(near)) == 1 and len(coalesce(far)) == 2


def test_a_merged_request_stays_within_max_length():
    spans = [Span(U, 0, 10), Span(U, 10, 10), Span(U, 20, 10)]
    merged = coalesce(spans, max_length=25)
    assert [m.span for m in merged] == [Span(U, 0, 20), Span(U, 20, 10)]
    assert [m.parts for m in merged] == [spans[:2], spans[2:]]
    big = [Span(U, i * COALESCE_MAX // 2, COALESCE_MAX // 2) for i in range(4)]
    assert all(m.span.length <= COALESCE_MAX for m in coalesce(big))


def test_files_are_kept_apart_and_the_result_is_sorted():
    merged = coalesce([Span(V, 10, 5), Span(U, 100, 5), Span(U, 0, 10), Span(V, 0, 10)], gap=50)
    assert [m.span for m in merged] == [Span(U, 0, 10), Span(U, 100, 5), Span(V, 0, 15)]
    # adjacent offsets in two files are two requests
    assert [m.span for m in coalesce([Span(U, 0, 10), Span(V, 10, 10)])] == [Span(U, 0, 10), Span(V, 10, 10)]
    assert coalesce([]) == []


def test_overlapping_spans_merge_into_their_union():
    [one] = coalesce([Span(U, 0, 100), Span(U, 50, 10), Span(U, 90, 30)])
    assert one.span == Span(U, 0, 120) and len(one.parts) == 3


def test_split_gives_each_part_its_bytes():
    spans = [Span(U, 5, 10), Span(U, 30, 20), Span(U, 40, 5), Span(U, 60, 3)]
    [one] = coalesce(spans)
    body = DATA[one.span.start:one.span.end]
    assert [(p, b) for p, b in one.split(body)] == [(p, DATA[p.start:p.end]) for p in spans]
    # a short body: a part past its end gets what is there
    short = dict(one.split(body[:30]))
    assert short[Span(U, 5, 10)] == DATA[5:15] and short[Span(U, 30, 20)] == DATA[30:35]
    assert short[Span(U, 60, 3)] == b""


def test_span_end():
    assert Span(U, 7, 3).end == 10 and sorted([Span(V, 0, 1), Span(U, 9, 1), Span(U, 2, 1)])[0] == Span(U, 2, 1)


# -- settings and errors ------------------------------------------------------------------------------

def test_range_options_keep_the_guard_and_read_archives_politely():
    base = NetOptions(allow_hosts=("127.0.0.1:1",), user_agent="bot/1")
    opts = range_options(base, concurrency=5)
    assert opts.allow_hosts == ("127.0.0.1:1",) and opts.user_agent == "bot/1"
    assert opts.respect_robots is False and opts.retries >= 5 and opts.per_host_concurrency == 5
    assert opts.max_bytes >= COALESCE_MAX
    assert range_options(NetOptions(retries=9)).retries == 9


@pytest.mark.parametrize("error", ["blocked_address", "invalid_url", "tls_error (bad cert)"])
def test_what_the_user_must_fix_is_a_plain_error(error):
    exc = remote_error("cannot read x", error)
    assert isinstance(exc, MellaError) and not isinstance(exc, RemoteReadError) and str(exc) == "cannot read x"


@pytest.mark.parametrize(("error", "reason"), [("timeout", "unreachable"), ("connection_error", "unreachable"),
                                               ("http_503", "unreachable"), ("http_429", "unreachable"), ("http_404", "http_404"),
                                               ("range_ignored (status 200)", "range_ignored")])
def test_what_the_network_did_is_a_remote_read_error_with_a_reason(error, reason):
    exc = remote_error("cannot read x", error)
    assert isinstance(exc, RemoteReadError) and isinstance(exc, MellaError) and exc.reason == reason


# -- RangeReader over a real server --------------------------------------------------------------------

def test_read_asks_for_exactly_the_span(srv, reader):
    url = srv.url("blob.bin")
    assert reader.read(Span(url, 1000, 500)) == DATA[1000:1500]
    assert srv.requests == [("blob.bin", "bytes=1000-1499")]
    assert srv.bytes_sent == 500 and reader.bytes_read == 500 and reader.requests == 1


def test_a_span_past_the_end_of_the_file(srv, reader):
    url = srv.url("blob.bin")
    assert reader.read(Span(url, len(DATA) - 10, 100)) == DATA[-10:]  # the caller sees a short record
    with pytest.raises(RemoteReadError) as info:
        reader.read(Span(url, len(DATA) + 5, 10))
    assert info.value.reason == "http_416"


def test_read_raises_a_one_line_error_with_the_reason(srv, reader):
    with pytest.raises(RemoteReadError) as info:
        reader.read(Span(srv.url("nope.bin"), 0, 10))
    assert info.value.reason == "http_404"
    assert str(info.value) == f"cannot read {srv.url('nope.bin')} bytes 0-9: http_404"


def test_transient_failures_are_retried_then_given_up(srv, reader):
    url = srv.url("blob.bin")
    srv.fail("blob.bin", times=2)
    assert reader.read(Span(url, 0, 100)) == DATA[:100]
    assert len(srv.requests) == 3 and reader.requests == 3
    srv.fail("blob.bin", times=50)
    with pytest.raises(RemoteReadError) as info:
        reader.read(Span(url, 0, 100))
    assert info.value.reason == "unreachable"  # a 503 past the retries may pass later: a rerun tries again
    assert len(srv.requests) == 3 + 1 + reader.options.retries


def test_a_body_cut_short_is_asked_for_again(srv, reader):
    url = srv.url("blob.bin")
    srv.reset("blob.bin", times=1, after_bytes=100)
    assert reader.read(Span(url, 5000, 20_000)) == DATA[5000:25_000]
    assert srv.requests == [("blob.bin", "bytes=5000-24999")] * 2
    srv.reset("blob.bin", times=50, after_bytes=0)
    with pytest.raises(RemoteReadError) as info:
        reader.read(Span(url, 0, 1000))
    assert info.value.reason == "unreachable"


def test_read_many_keeps_the_order_given(srv):
    url = srv.url("blob.bin")
    spans = [Span(url, random.Random(i).randrange(len(DATA) - 300), 1 + i * 7) for i in range(40)]
    with reader_for(srv.host_port, concurrency=4) as r:
        out = list(r.read_many(spans, ahead=6))
    assert [s for s, _, _ in out] == spans
    assert all(err is None and data == DATA[s.start:s.end] for s, data, err in out)
    assert r.requests == 40 and r.bytes_read == sum(s.length for s in spans)


def test_read_many_gives_errors_as_data(srv, reader):
    srv.missing("gone.bin")
    spans = [Span(srv.url("blob.bin"), 0, 10), Span(srv.url("gone.bin"), 0, 10), Span(srv.url("blob.bin"), 10, 10),
             Span(srv.url("blob.bin"), len(DATA) + 1, 10)]
    out = list(reader.read_many(spans))
    assert [s for s, _, _ in out] == spans
    assert out[0][1:] == (DATA[:10], None) and out[2][1:] == (DATA[10:20], None)
    assert out[1][1] is None and out[1][2].startswith("http_404")
    assert out[3][1] is None and out[3][2].startswith("http_416")


def test_tail_gives_the_size_and_the_last_bytes(srv, reader):
    assert reader.tail(srv.url("blob.bin"), 1000) == (len(DATA), DATA[-1000:])
    assert srv.requests[-1] == ("blob.bin", "bytes=-1000")
    assert reader.tail(srv.url("small.txt")) == (13, b"hello ranges\n")  # shorter than the tail: all of it
    assert reader.tail(srv.url("empty.bin")) == (0, b"")
    with pytest.raises(RemoteReadError):
        reader.tail(srv.url("nope.bin"))


def test_fetch_reads_a_whole_file_in_one_get(srv, reader):
    assert reader.fetch(srv.url("blob.bin")) == DATA
    assert srv.requests == [("blob.bin", "")]
    with pytest.raises(RemoteReadError) as info:
        reader.fetch(srv.url("nope.bin"))
    assert info.value.reason == "http_404" and srv.url("nope.bin") in str(info.value)


def test_close_twice_is_harmless(srv):
    r = reader_for(srv.host_port)
    assert r.read(Span(srv.url("small.txt"), 0, 5)) == b"hello"
    r.close()
    r.close()


# -- the address guard ------------------------------------------------------------------------------

def test_a_blocked_address_is_a_plain_error_before_any_request(srv):
    with RangeReader() as r:
        for call in (lambda: r.read(Span(srv.url("blob.bin"), 0, 10)), lambda: r.fetch(srv.url("blob.bin")),
                     lambda: r.tail(srv.url("blob.bin"))):
            with pytest.raises(MellaError, match="blocked_address") as info:
                call()
            assert not isinstance(info.value, RemoteReadError)
        [(_, data, error)] = list(r.read_many([Span("http://169.254.169.254/x", 0, 10)]))
        assert data is None and error.startswith("blocked_address")
    assert srv.requests == []


# -- RangeFile and parquet ---------------------------------------------------------------------------

@pytest.fixture
def parquet_file(files):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(3)
    n = 3000
    table = pa.table({"id": list(range(n)), "flag": [i % 3 == 0 for i in range(n)],
                      "text": [rng.randbytes(60).hex() for _ in range(n)]})
    path = files / "t.parquet"
    pq.write_table(table, path, row_group_size=700, compression="none")
    return path, table


def test_a_parquet_file_over_http_reads_as_it_does_locally(srv, reader, parquet_file):
    import pyarrow.parquet as pq

    path, table = parquet_file
    remote = pq.ParquetFile(RangeFile(reader, srv.url(path.name)))
    assert remote.metadata.num_row_groups == pq.ParquetFile(path).metadata.num_row_groups > 1
    assert remote.read().equals(pq.read_table(path)) and remote.read().equals(table)
    assert srv.requests and all(rng.startswith("bytes=") for _, rng in srv.requests)


def test_reading_one_column_sends_only_part_of_the_file(srv, reader, parquet_file):
    import pyarrow.parquet as pq

    path, table = parquet_file
    remote = pq.ParquetFile(RangeFile(reader, srv.url(path.name)))
    assert remote.read(columns=["id"]).column("id").equals(table.column("id"))
    assert remote.read_row_group(2, columns=["flag"]).num_rows == 700
    assert all(rng.startswith("bytes=") for _, rng in srv.requests)
    assert srv.bytes_sent < path.stat().st_size / 2
    assert reader.bytes_read == srv.bytes_sent


def test_range_file_is_a_seekable_file(srv, reader):
    fh = RangeFile(reader, srv.url("blob.bin"))
    assert fh.size == len(DATA) and fh.seekable() and fh.readable() and fh.tell() == 0
    assert fh.read(10) == DATA[:10] and fh.tell() == 10
    fh.seek(100_000)
    assert fh.read(5) == DATA[100_000:100_005]
    fh.seek(-3, io.SEEK_END)
    assert fh.read() == DATA[-3:] and fh.read(10) == b""  # from the tail: no request
    fh.seek(-10, io.SEEK_CUR)
    buf = bytearray(4)
    assert fh.readinto(buf) == 4 and bytes(buf) == DATA[-10:-6]
    with pytest.raises(ValueError):
        fh.seek(-1)
    fh.seek(len(DATA) + 10)
    assert fh.read(5) == b""
    assert all(rng for _, rng in srv.requests)


# -- servers that do not play by the rules -----------------------------------------------------------

class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hangs up on a body it did not ask for is part of the tests


class Odd:
    """Serves DATA at /<mode>/x: ``ignore`` answers 200 and the whole body whatever the Range; ``shifted`` 206
    from one byte later than asked; ``short`` 206 with half the bytes; ``slow`` a correct 206 after a pause,
    counting the requests in flight."""

    def __init__(self):
        self.lock = threading.Lock()
        self.inflight = self.peak = 0
        handler = type("OddHandler", (_OddHandler,), {"odd": self})
        self.httpd = _Quiet(("127.0.0.1", 0), handler)
        self.host_port = f"127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, mode: str) -> str:
        return f"http://{self.host_port}/{mode}/x"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _OddHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    odd: Odd

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        mode = self.path.strip("/").split("/")[0]
        first, _, last = self.headers.get("Range", "bytes=0-").removeprefix("bytes=").partition("-")
        start = int(first) if first else len(DATA) - int(last)
        end = int(last) + 1 if first and last else len(DATA)
        if mode == "ignore":
            return self._send(200, DATA, {})
        if mode == "shifted":
            start += 1
        body = DATA[start:end]
        if mode == "short":
            body = body[:len(body) // 2]
        if mode == "slow":
            with self.odd.lock:
                self.odd.inflight += 1
                self.odd.peak = max(self.odd.peak, self.odd.inflight)
            time.sleep(0.15)
            with self.odd.lock:
                self.odd.inflight -= 1
        self._send(206, body, {"Content-Range": f"bytes {start}-{end - 1}/{len(DATA)}"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            self.close_connection = True


@pytest.fixture
def odd():
    server = Odd()
    yield server
    server.close()


def test_a_server_that_ignores_range_is_refused(odd):
    with reader_for(odd.host_port) as r:
        with pytest.raises(RemoteReadError) as info:
            r.read(Span(odd.url("ignore"), 10, 10))
        assert info.value.reason == "range_ignored"
        [(_, data, error)] = list(r.read_many([Span(odd.url("ignore"), 10, 10)]))
        assert data is None and error.startswith("range_ignored")


def test_the_tail_of_a_small_file_from_a_server_without_ranges_is_refused(odd):
    with reader_for(odd.host_port) as r, pytest.raises(RemoteReadError) as info:
        r.tail(odd.url("ignore"), len(DATA) + 1)
    assert info.value.reason == "no_ranges" and "does not answer range requests" in str(info.value)


def test_range_file_on_a_server_without_ranges_names_the_cause(odd):
    with reader_for(odd.host_port) as r, pytest.raises(RemoteReadError) as info:
        RangeFile(r, odd.url("ignore"))
    assert info.value.reason in ("no_ranges", "range_ignored")


def test_another_range_or_a_short_body_is_an_error_not_data(odd):
    with reader_for(odd.host_port) as r:
        with pytest.raises(RemoteReadError) as shifted:
            r.read(Span(odd.url("shifted"), 100, 50))
        assert shifted.value.reason == "range_mismatch"
        with pytest.raises(RemoteReadError) as short:
            r.read(Span(odd.url("short"), 100, 50))
        assert short.value.reason == "short_body"


def test_read_many_keeps_requests_in_flight_up_to_the_concurrency(odd):
    spans = [Span(odd.url("slow"), i * 100, 100) for i in range(9)]
    with reader_for(odd.host_port, concurrency=3) as r:
        out = list(r.read_many(spans))
    assert [(s, d) for s, d, _ in out] == [(s, DATA[s.start:s.end]) for s in spans]
    assert 2 <= odd.peak <= 3
    odd.peak = 0
    with reader_for(odd.host_port, concurrency=3) as r:
        assert all(err is None for _, _, err in r.read_many(spans[:4], ahead=1))
    assert odd.peak == 1
