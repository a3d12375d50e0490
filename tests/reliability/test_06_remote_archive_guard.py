"""Item 6 of issue 15: remote archive inputs of ``collect`` bypassed the address guard.

``mella collect http://169.254.169.254/x.warc.gz`` connected, and a redirect from a loopback server to
169.254.169.254 or 10.0.0.1 was followed (fsspec's HTTP client). Remote archives now go through the
shared client (``mella.net``): the guard on every hop, ``--allow-hosts``, the project's user agent,
retries, and a stream broken mid-body resumed with a Range request. The guard also refuses IPv6
addresses that carry a private IPv4 one (6to4, NAT64, IPv4-mapped, IPv4-compatible) and Teredo.

The tests serve real WARC files from a real loopback HTTP server (allowed by ``host:port``, as the
demo does). Redirect targets are literal addresses the guard refuses before any connection.
"""

from __future__ import annotations

import io
import ipaddress
import random
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from mella.cli import main
from mella.collect.collect import CollectStage
from mella.collect.warc import open_input
from mella.errors import MellaError
from mella.net.guard import Allowlist, check_url, is_public_ip
from mella.pipeline.shards import Shard

SAMPLE = Path(__file__).parents[1] / "data" / "web" / "other" / "allenai__dolma__sample-0000.warc.gz"
SAMPLE_ROWS = 169


class ArchiveServer:
    """Serves named files with Range support, plus the misbehaviour the tests need; logs every request."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.seen: Counter = Counter()
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"archive": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.host_port = f"127.0.0.1:{self.port}"
        self.base = f"http://{self.host_port}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.requests]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    archive: ArchiveServer

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        a = self.archive
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with a.lock:
            a.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            a.seen[parts.path] += 1
            seen = a.seen[parts.path]
        route, _, name = parts.path.strip("/").partition("/")
        if route not in ("redirect", "flaky", "cut", "cut-no-ranges", "ranged"):
            route, name = "", parts.path.strip("/")
        if route == "redirect":
            return self._send(int(query.get("code", 302)), b"", {"Location": query["to"]})
        if route == "flaky" and seen <= int(query.get("n", 1)):
            return self._send(503, b"busy", {})
        data = a.files.get(name)
        if data is None:
            return self._send(404, b"not found", {})
        start = 0
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
        if route == "cut" and seen == 1:  # the first answer breaks off half way
            return self._send(200, data, {"Accept-Ranges": "bytes"}, stop_after=len(data) // 2)
        if route == "cut-no-ranges":
            return self._send(200, data, {}, stop_after=len(data) // 2)
        if start:
            headers = {"Accept-Ranges": "bytes", "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
            return self._send(206, data[start:], headers)
        self._send(200, data, {"Accept-Ranges": "bytes"} if route in ("ranged", "cut") else {})

    def _send(self, status: int, body: bytes, headers: dict[str, str], stop_after: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/warc")
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body[:stop_after])
        if stop_after is not None:
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(1)


@pytest.fixture
def archive():
    server = ArchiveServer()
    server.files["sample.warc.gz"] = SAMPLE.read_bytes()
    yield server
    server.close()


def collect(uri: str, **options) -> tuple[list[dict], list[dict], Counter]:
    stage = CollectStage(**options)
    kept, dropped, counters = [], [], Counter()
    for batch in stage.read(Shard(uri)):
        result = stage(batch)
        kept += result.kept
        dropped += result.dropped
        counters.update(result.counters)
    return kept, dropped, counters


def local_rows(path: Path) -> list[tuple[str, str]]:
    kept, _, _ = collect(str(path))
    return [(r["image_url"], r["alt"]) for r in kept]


# -- the guard, before any connection ------------------------------------------------------------

def test_a_warc_url_at_the_metadata_address_is_refused_before_connecting():
    with pytest.raises(MellaError, match=r"cannot read input http://169\.254\.169\.254/x\.warc\.gz: blocked_address"):
        collect("http://169.254.169.254/x.warc.gz")


def test_the_cli_refuses_it_in_one_line(tmp_path, capsys):
    assert main(["collect", "http://169.254.169.254/latest/x.warc.gz", "--out", str(tmp_path / "o")]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("mella: error")]
    assert len(lines) == 1 and "blocked_address" in lines[0] and "--allow-hosts" in lines[0]


def test_a_loopback_server_is_refused_unless_allowed(archive):
    with pytest.raises(MellaError, match="blocked_address"):
        collect(f"{archive.base}/sample.warc.gz")
    assert archive.paths() == []  # refused before connecting
    kept, dropped, _ = collect(f"{archive.base}/sample.warc.gz", allow_hosts=[archive.host_port])
    assert len(kept) == SAMPLE_ROWS and dropped == []


REFUSED_TARGETS = [
    "http://169.254.169.254/latest/x.warc.gz",
    "http://10.0.0.1/x.warc.gz",
    "http://[2002:a9fe:a9fe::]/x.warc.gz",      # 6to4 of 169.254.169.254
    "http://[2002:a00:1::]/x.warc.gz",          # 6to4 of 10.0.0.1
    "http://[::ffff:169.254.169.254]/x.warc.gz",  # IPv4-mapped
    "http://[64:ff9b::a9fe:a9fe]/x.warc.gz",    # NAT64 of 169.254.169.254
    "http://[2001:0:a9fe:a9fe::1]/x.warc.gz",   # Teredo
]


@pytest.mark.parametrize("target", REFUSED_TARGETS)
@pytest.mark.parametrize("code", [302, 301])
def test_a_redirect_from_the_allowed_server_to_a_private_address_is_refused(archive, target, code):
    with pytest.raises(MellaError, match=r"blocked_address \(http://\[?[0-9a-f.:]+\]?/"):
        collect(f"{archive.base}/redirect/x.warc.gz?to={target}&code={code}", allow_hosts=[archive.host_port])
    [only] = archive.paths()  # one request: the redirect itself
    assert only.startswith("/redirect/x.warc.gz?to=")


def test_a_redirect_to_a_loopback_name_that_is_not_allowed_is_refused(archive):
    # The same server under a name resolving to 127.0.0.1: refused after DNS, before connecting.
    target = f"http://localhost:{archive.port}/sample.warc.gz"
    with pytest.raises(MellaError, match="blocked_address"):
        collect(f"{archive.base}/redirect/x.warc.gz?to={target}", allow_hosts=[archive.host_port])
    assert "/sample.warc.gz" not in archive.paths()


def test_a_redirect_within_the_allowed_server_is_followed(archive):
    kept, _, _ = collect(f"{archive.base}/redirect/x.warc.gz?to=/sample.warc.gz", allow_hosts=[archive.host_port])
    assert len(kept) == SAMPLE_ROWS
    assert {r["source"] for r in kept} == {f"{archive.base}/redirect/x.warc.gz?to=/sample.warc.gz"}


def test_a_chained_fsspec_url_over_http_is_refused():
    with pytest.raises(MellaError, match="fsspec reads it over HTTP"):
        open_input("zip://x.warc.gz::http://169.254.169.254/a.zip")


# -- the client's manners: user agent, retries, resume -----------------------------------------------

def test_the_archive_is_fetched_with_the_project_user_agent(archive):
    collect(f"{archive.base}/sample.warc.gz", allow_hosts=[archive.host_port])
    collect(f"{archive.base}/sample.warc.gz", allow_hosts=[archive.host_port], user_agent="mybot/2.0")
    agents = [headers.get("user-agent", "") for _, headers in archive.requests]
    assert agents[0].startswith("mella/") and "(+http" in agents[0]
    assert agents[-1].startswith("mybot/2.0 (+http")


def test_a_transient_server_error_is_retried(archive):
    kept, _, _ = collect(f"{archive.base}/flaky/sample.warc.gz?n=1", allow_hosts=[archive.host_port])
    assert len(kept) == SAMPLE_ROWS
    assert archive.seen["/flaky/sample.warc.gz"] == 2


def test_a_connection_lost_mid_body_is_resumed_with_a_range_request(archive):
    kept, dropped, _ = collect(f"{archive.base}/cut/sample.warc.gz", allow_hosts=[archive.host_port])
    assert len(kept) == SAMPLE_ROWS and dropped == []
    ranges = [h.get("range") for p, h in archive.requests if p.startswith("/cut/")]
    assert ranges[0] is None and ranges[1] == f"bytes={len(SAMPLE.read_bytes()) // 2}-"


def test_a_connection_lost_where_ranges_are_not_accepted_stops_with_one_line_under_strict(archive):
    with pytest.raises(MellaError, match=r"cannot read input http://127\.0\.0\.1:\d+/cut-no-ranges/sample\.warc\.gz: "
                                         r"connection lost .* at byte \d+"):
        collect(f"{archive.base}/cut-no-ranges/sample.warc.gz", allow_hosts=[archive.host_port], strict=True)


def test_a_connection_lost_where_ranges_are_not_accepted_is_a_counted_skip_that_keeps_what_was_read(archive):
    url = f"{archive.base}/cut-no-ranges/sample.warc.gz"
    kept, dropped, counters = collect(url, allow_hosts=[archive.host_port])
    assert 0 < len(kept) < SAMPLE_ROWS  # the first half of the file was read and its rows are kept
    assert counters["inputs_skipped.unreachable"] == 1
    assert [(d["source"], d["drop_reason"]) for d in dropped] == [(url, "input_unreachable")]


def test_damage_recovery_seeks_with_range_requests(archive, tmp_path):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    page = (Path(__file__).parents[1] / "data" / "web" / "cs" / "TeamHG-Memex__autopager__page-100.html").read_bytes()
    records = []
    for i in range(3):
        buf = io.BytesIO()
        writer = WARCWriter(buf, gzip=True)
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(f"https://cs.example.org/{i}", "response",
                                                      payload=io.BytesIO(page), http_headers=http))
        records.append(buf.getvalue())
    damaged = records[0] + random.Random(6).randbytes(3000) + records[1] + records[2]
    (tmp_path / "damaged.warc.gz").write_bytes(damaged)
    archive.files["damaged.warc.gz"] = damaged
    kept, dropped, _ = collect(f"{archive.base}/ranged/damaged.warc.gz", allow_hosts=[archive.host_port])
    local_kept, local_dropped, _ = collect(str(tmp_path / "damaged.warc.gz"))
    assert [(r["page_url"], r["alt"]) for r in kept] == [(r["page_url"], r["alt"]) for r in local_kept]
    assert len({r["page_url"] for r in kept}) == 3
    assert [d["drop_reason"] for d in dropped] == [d["drop_reason"] for d in local_dropped] == ["invalid_warc_data"]
    assert any("range" in h for p, h in archive.requests if p.startswith("/ranged/"))


# -- IPv6 encodings of private IPv4 addresses ------------------------------------------------------------

PRIVATE_V4 = ["169.254.169.254", "10.0.0.1", "127.0.0.1", "192.168.1.1", "172.16.0.1", "100.64.0.1", "0.0.0.0"]


def encodings(v4: str) -> list[str]:
    n = int(ipaddress.IPv4Address(v4))
    hi, lo = n >> 16, n & 0xFFFF
    return [f"2002:{hi:x}:{lo:x}::", f"2002:{hi:x}:{lo:x}:1:2:3:4:5",  # 6to4
            f"64:ff9b::{hi:x}:{lo:x}",                                 # NAT64 (well-known prefix)
            f"::ffff:{v4}", f"::{v4}", f"::ffff:0:{v4}"]                # mapped, compatible, translated


@pytest.mark.parametrize("v4", PRIVATE_V4)
def test_ipv6_encodings_of_private_ipv4_addresses_are_refused(v4):
    for v6 in encodings(v4):
        ip = ipaddress.ip_address(v6)
        assert not is_public_ip(ip), v6
        assert check_url(f"http://[{v6}]:8080/x.warc.gz", Allowlist()) == "blocked_address", v6


def test_teredo_and_local_nat64_are_refused_whatever_they_carry():
    for v6 in ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::1", "64:ff9b:1::808:808"):
        assert not is_public_ip(ipaddress.ip_address(v6)), v6


def test_ipv6_encodings_of_public_ipv4_addresses_pass():
    for v6 in ("2002:808:808::", "64:ff9b::808:808", "::ffff:8.8.8.8", "2606:4700:4700::1111"):
        assert is_public_ip(ipaddress.ip_address(v6)), v6


def test_the_cli_reads_an_allowed_server_with_allow_hosts(archive, tmp_path, capsys):
    import pyarrow.parquet as pq

    url = f"{archive.base}/sample.warc.gz"
    out = tmp_path / "out"
    assert main(["collect", url, "--out", str(out), "--allow-hosts", archive.host_port]) == 0
    assert sum(pq.read_table(p).num_rows for p in out.glob("part-*.parquet")) == SAMPLE_ROWS
    assert main(["collect", url, "--out", str(tmp_path / "refused")]) == 1
    assert "blocked_address" in capsys.readouterr().err
