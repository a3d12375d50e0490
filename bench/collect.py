"""Benchmark: ``mella collect`` on a WARC against the floor and against the naive way, in one run.

    .venv/bin/python bench/collect.py [--mb 100] [--naive-mb 10] [--repeat 3]

Builds ``bench/_data/collect-<N>mb.warc.gz`` (gzip per record, like Common Crawl) from the real
pages in tests/data/web (HTML pages and the HTML responses of the two WARC samples), repeated under
distinct URLs until the HTML payloads reach ``--mb`` MB. Then, on one core:

* floor: fastwarc iteration + lexbor parsing of every record, no extraction. Reported twice: with
  lexbor's default options (what "lexbor parsing" means by default) and with the parse options mella
  uses (no DOM mutation events, about twice as fast), which is the like-for-like floor.
* lexbor_passes: the floor plus the tree work extraction needs whatever the Python does (one selector
  pass, a marker before each image, one text pass): the ceiling for mella with this parser.
* floor_mella_lexbor: the floor with mella's own build of the same lexbor sources (parse and free,
  nothing else): the parse that mella's native extractor starts from.
* mella: the collect stage's read() + process() over the same file (decoding, extraction, context),
  again with ``context_chars=0`` to show what the context window costs, and again with the
  selectolax engine (the pure-Python path, the reference the native walk is tested against).
* naive: warcio + BeautifulSoup (html.parser) + urljoin on the first ``--naive-mb`` MB.

Rates are per MB of uncompressed HTML payload and per CPU second of the benchmark process (so that
other processes on the machine disturb them less). Peak memory (ru_maxrss) of mella over 1x and 4x
the input is measured in fresh subprocesses and must stay flat.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "tests" / "data" / "web"
DATA = ROOT / "bench" / "_data"


def corpus_pages() -> list[bytes]:
    """HTML bodies of every real page in tests/data/web (saved pages and WARC sample responses)."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    pages = []
    for path in sorted(WEB.rglob("*")):
        if path.name.endswith((".html", ".html.gz")):
            data = path.read_bytes()
            pages.append(gzip.decompress(data) if path.name.endswith(".gz") else data)
        elif path.name.endswith(".warc.gz"):
            for rec in ArchiveIterator(open(path, "rb"), record_types=WarcRecordType.response):
                if (rec.http_content_type or "") == "text/html":
                    pages.append(rec.reader.read())
    return pages


def warc_record(url: str, body: bytes) -> bytes:
    """One gzip member holding a WARC/1.1 response record."""
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body)
    block = http + body
    head = (f"WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:{uuid.uuid4()}>\r\n"
            f"WARC-Date: 2024-01-01T00:00:00Z\r\nWARC-Target-URI: {url}\r\n"
            f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(block)}\r\n\r\n")
    return gzip.compress(head.encode() + block + b"\r\n\r\n", compresslevel=6)


def build_warc(mb: int) -> Path:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"collect-{mb}mb.warc.gz"
    if path.exists():
        return path
    pages, total, i = corpus_pages(), 0, 0
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        while total < mb * 1_000_000:
            body = pages[i % len(pages)]
            fh.write(warc_record(f"https://site{i % 997}.example.org/p/{i}.html", body))
            total += len(body)
            i += 1
    tmp.rename(path)
    return path


def floor(path: Path, options: int) -> tuple[int, int]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from selectolax.lexbor import LexborHTMLParser

    pages = size = 0
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh, record_types=WarcRecordType.response):
            body = rec.reader.read()
            LexborHTMLParser(body, options=options)
            pages, size = pages + 1, size + len(body)
    return pages, size


def lexbor_passes(path: Path) -> tuple[int, int]:
    """The floor plus the tree work extraction cannot avoid, with no Python per image: mella's one
    selector pass, a marker before each <img>, script/style removed and the one text pass."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from selectolax.lexbor import LexborDocumentOptions, LexborHTMLParser

    from mella.collect.context import _MARK
    from mella.collect.reference import NODES

    pages = size = 0
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh, record_types=WarcRecordType.response):
            body = rec.reader.read()
            tree = LexborHTMLParser(body, options=LexborDocumentOptions.WO_EVENTS)
            pages, size = pages + 1, size + len(body)
            nodes = tree.css(NODES)
            images = [n for n in nodes if n.tag == "img"]
            if not images or tree.body is None:
                continue
            for n in images:
                n.insert_before(_MARK)
            for n in nodes:
                if n.tag in ("script", "style"):
                    n.decompose()
            tree.body.text(separator=" ", skip_empty=True)
    return pages, size


def floor_native(path: Path) -> tuple[int, int]:
    """The floor with mella's own build of lexbor (the same sources, parse and free, no walk)."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    from mella.collect.accel import native

    pages = size = 0
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh, record_types=WarcRecordType.response):
            body = rec.reader.read()
            native.parse(body)
            pages, size = pages + 1, size + len(body)
    return pages, size


def mella(path: Path, context_chars: int = 300, engine: str | None = None) -> tuple[int, int]:
    import os

    from mella.collect.collect import CollectStage
    from mella.pipeline.shards import Shard

    if engine:
        os.environ["MELLA_COLLECT_ENGINE"] = engine
    else:
        os.environ.pop("MELLA_COLLECT_ENGINE", None)
    stage = CollectStage(context_chars=context_chars)
    pages = size = rows = 0
    for batch in stage.read(Shard(str(path))):
        pages += sum(1 for r in batch if r["kind"] == "page")
        size += sum(len(r["data"]) for r in batch if r["kind"] == "page")
        rows += len(stage(batch).kept)
    assert rows > 0
    return pages, size


def naive(path: Path, limit_mb: int) -> tuple[int, int]:
    from urllib.parse import urljoin

    from bs4 import BeautifulSoup
    from warcio.archiveiterator import ArchiveIterator

    pages = size = 0
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type != "response":
                continue
            body = rec.content_stream().read()
            url = rec.rec_headers.get_header("WARC-Target-URI")
            soup = BeautifulSoup(body, "html.parser")
            title = soup.title.get_text() if soup.title else ""
            _ = [(urljoin(url, img.get("src", "")), img["alt"].strip(), title)
                 for img in soup.find_all("img") if img.get("alt", "").strip()]
            pages, size = pages + 1, size + len(body)
            if size >= limit_mb * 1_000_000:
                break
    return pages, size


def timed(runs: dict[str, tuple], repeat: int = 1) -> dict[str, dict]:
    """Best of ``repeat`` runs of each ``name: (fn, *args)``, in CPU seconds of this process
    (time.process_time): other processes share the cores, so CPU time (not wall time) and the
    minimum are the signal. The runs are interleaved (one of each per round, after one warm-up round
    that is not timed) so that a machine that gets slower or faster during the benchmark moves every
    figure alike and the ratios hold."""
    best: dict[str, dict] = {}
    rounds: dict[str, list[float]] = {name: [] for name in runs}
    for i in range(repeat + 1):
        for name, (fn, *args) in runs.items():
            t0 = time.process_time()
            pages, size = fn(*args)
            dt = time.process_time() - t0
            if i == 0:
                continue  # warm-up round: imports, caches, the allocator's first growth
            rounds[name].append(dt)
            if name not in best or dt < best[name]["seconds"]:
                best[name] = {"seconds": dt, "pages": pages, "mb": size / 1e6}
    for name, r in best.items():
        r["rounds"] = rounds[name]
        r["mb_per_s"] = r["mb"] / r["seconds"]
        r["pages_per_s"] = r["pages"] / r["seconds"]
    return best


def peak_memory_mb(path: Path) -> float:
    """ru_maxrss of a fresh process that runs mella over ``path``."""
    code = ("import resource, sys; sys.path.insert(0, %r); import collect as b; from pathlib import Path; "
            "b.mella(Path(%r)); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code % (str(Path(__file__).parent), str(path))],
                         check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024  # Linux reports KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=100, help="uncompressed HTML in the benchmark WARC")
    ap.add_argument("--naive-mb", type=int, default=10, help="how much of it the naive way reads")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-memory", action="store_true")
    args = ap.parse_args()
    from selectolax.lexbor import LexborDocumentOptions

    path = build_warc(args.mb)
    print(f"input: {path.name} ({path.stat().st_size / 1e6:.1f} MB gzip)", flush=True)
    results = timed({
        "floor_default": (floor, path, 0),
        "floor_same_options": (floor, path, LexborDocumentOptions.WO_EVENTS),
        "floor_mella_lexbor": (floor_native, path),
        "lexbor_passes": (lexbor_passes, path),
        "mella": (mella, path),
        "mella_no_context": (mella, path, 0),
        "mella_selectolax_engine": (mella, path, 300, "selectolax"),
    }, repeat=args.repeat)
    results["naive"] = timed({"naive": (naive, path, args.naive_mb)})["naive"]  # (slow: one timed round)
    for name, r in results.items():
        print(f"{name:24s} {r['mb_per_s']:7.1f} MB/s {r['pages_per_s']:8.1f} pages/s  ({r['mb']:.1f} MB, {r['seconds']:.2f} s)")
    m = results["mella"]["mb_per_s"]
    ratios = {
        "mella/floor_same_options": m / results["floor_same_options"]["mb_per_s"],
        "mella/floor_default": m / results["floor_default"]["mb_per_s"],
        "mella/floor_mella_lexbor": m / results["floor_mella_lexbor"]["mb_per_s"],
        "mella_selectolax_engine/floor_same_options": results["mella_selectolax_engine"]["mb_per_s"]
        / results["floor_same_options"]["mb_per_s"],
        "lexbor_passes/floor_same_options": results["lexbor_passes"]["mb_per_s"]
        / results["floor_same_options"]["mb_per_s"],
        "mella/naive": m / results["naive"]["mb_per_s"],
        "mella_no_context/floor_same_options": results["mella_no_context"]["mb_per_s"]
        / results["floor_same_options"]["mb_per_s"],
    }
    for name, value in ratios.items():
        print(f"{name:42s} {value:6.2f}x")
    # Each round measures the floor and mella back to back: the ratio within a round is a paired
    # measurement, steadier than the ratio of two bests when the machine's speed drifts.
    paired = sorted(f / m for f, m in zip(results["floor_same_options"]["rounds"], results["mella"]["rounds"],
                                          strict=True))
    ratios["mella/floor_same_options_per_round"] = paired
    print(f"{'mella/floor_same_options, per round':42s} " + " ".join(f"{r:.2f}" for r in paired)
          + f"  (median {paired[len(paired) // 2]:.2f})")
    print("targets: >= 0.7x the floor, >= 10x the naive way")
    if not args.no_memory:
        big = build_warc(args.mb * 4)
        mem = {"1x_mb": peak_memory_mb(path), "4x_mb": peak_memory_mb(big)}
        print(f"peak memory (ru_maxrss): 1x {mem['1x_mb']:.0f} MB, 4x {mem['4x_mb']:.0f} MB "
              f"(ratio {mem['4x_mb'] / mem['1x_mb']:.2f})")
        results["memory"] = mem
    results["ratios"] = ratios
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "collect.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
