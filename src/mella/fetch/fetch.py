"""The fetch stage: download the images behind the kept pairs into WebDataset tar shards.

Input rows are pairs (the filter stage's output). Each row gets the `images` columns; rows whose image
arrived, decoded, passed the checks and is no copy of an image kept before are kept (`status` "ok"),
the others go to `_dropped/` with `drop_reason` = `status` and the reason in words in `error`.
Several rows with one image URL share one download and one tar member. See docs/fetch.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
from pydantic import Field, model_validator

from mella.fetch.images import DEFAULT_MAX_PIXELS, ImageOptions
from mella.net.client import PROJECT_URL, NetStageOptions
from mella.net.urlform import canonical_host, canonical_part
from mella.pipeline.checks import no_controls, nonblank, raise_problems
from mella.pipeline.stage import Emitter, Stage, StageOptions, runtime_option
from mella.records import FETCH_READS, FETCHED, PAIRS, extend

# What a download decides for a row: the columns fetch adds (mella.records.FETCHED), image_url aside.
RESULT_COLUMNS = [f.name for f in FETCHED if f.name != "image_url"]
DEFAULT_MAX_BYTES = 32 * 1024 * 1024


class FetchOptions(StageOptions, NetStageOptions):
    """Options of `mella fetch`; the runtime ones (concurrency, delays, timeouts) don't invalidate a resume.

    The client options it shares with `collect` (`allow_hosts`, `user_agent` ...) are :class:`NetStageOptions`.
    """

    image_size: int = Field(1024, ge=8, description="longest side (keep_ratio, never upscaled) or side (center_crop)")
    resize_mode: Literal["keep_ratio", "center_crop", "none"] = "keep_ratio"
    encode_format: Literal["jpg", "webp"] = "jpg"
    encode_quality: int = Field(95, ge=1, le=100)
    min_side: int = Field(32, ge=1, description="drop images with a side shorter than this")
    max_aspect_ratio: float = Field(4.0, ge=1.0, description="drop images longer than this times their width")
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, gt=0, description="decompression-bomb limit")
    max_bytes: int = Field(DEFAULT_MAX_BYTES, gt=0, description="per-image download cap")
    max_redirects: int = Field(5, ge=0)
    near_duplicate_distance: int = Field(4, ge=-1, le=16, description="pHash bits; -1: keep near duplicates")
    # The same screenshot with an Arabic and a Korean alt-text is two samples, one per language: by default a
    # copy is dropped only when its language already has the picture.
    dedup_scope: Literal["lang", "all"] = Field(
        "lang", description="drop copies of an image kept for the same language (lang) or for any (all)")
    honour_noai: bool = Field(True, description="refuse images whose X-Robots-Tag says noai/noimageai/none")
    verify_tls: bool = True
    contact_url: str | None = runtime_option(PROJECT_URL, description="put in the User-Agent for site owners")
    concurrency: int = runtime_option(64, ge=1, description="downloads in flight per worker")
    per_host_concurrency: int = runtime_option(4, ge=1)
    retries: int = runtime_option(2, ge=0, description="extra attempts for transient failures")
    connect_timeout: float = runtime_option(10.0, gt=0)
    read_timeout: float = runtime_option(30.0, gt=0)
    total_timeout: float = runtime_option(120.0, gt=0)
    retry_transient: bool = runtime_option(False, description="re-run committed parts with transient failures")

    @model_validator(mode="after")
    def _check(self):
        raise_problems(nonblank(self, "allow_hosts")
                       + no_controls(self, "allow_hosts", "user_agent", "contact_url"))
        return self


def normalize_url(url: str) -> str:
    """Scheme and host lower-cased, default port and fragment dropped, path and query in one written form
    (:mod:`mella.net.urlform`: ``/a b.jpg`` and ``/a%20b.jpg`` are one file): one image, one key."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), canonical_host(parts.hostname or "")
    try:
        port = parts.port
    except ValueError:
        port = None
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port in (None, default) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, canonical_part(parts.path) or "/", canonical_part(parts.query), ""))


def image_key(url: str | None) -> str:
    """The stable key of an image: 20 hex digits of sha256 of its normalised URL."""
    return hashlib.sha256(normalize_url(url or "").encode()).hexdigest()[:20]


@dataclass
class _Part:
    """What one worker knows about the part it is writing."""

    name: str
    tar: Path
    previous: Any
    done: dict[str, dict[str, Any]] = field(default_factory=dict)


class FetchStage(Stage):
    """Download, check, dedup, resize and store the images of pairs rows in WebDataset tars (docs/fetch.md)."""

    name = "fetch"
    Options = FetchOptions
    requires = FETCH_READS
    batch_size = 1000  # each batch ends when its slowest download does: larger batches idle less
    _unpicklable = ("_downloader", "_index", "_part")

    def __init__(self, options: FetchOptions | None = None, **kwargs: Any):
        super().__init__(options, **kwargs)
        self._index_path: str | None = None
        self._downloader = self._index = self._part = None

    def __setstate__(self, state: dict[str, Any]) -> None:
        # The worker opens its own client and index in setup().
        self.__dict__.update(state)
        self._downloader = self._index = self._part = None

    def output_schema(self, input_schema: pa.Schema | None) -> pa.Schema:
        return extend(input_schema or PAIRS, *FETCHED)

    def net_options(self):
        """The NetOptions these stage options mean."""
        from mella.net import NetOptions

        o = self.options
        return NetOptions(user_agent=o.user_agent, contact_url=o.contact_url, connect_timeout=o.connect_timeout,
                          read_timeout=o.read_timeout, total_timeout=o.total_timeout, max_bytes=o.max_bytes,
                          max_redirects=o.max_redirects, retries=o.retries, concurrency=o.concurrency,
                          per_host_concurrency=o.per_host_concurrency, per_host_delay=o.per_host_delay,
                          verify_tls=o.verify_tls, allow_hosts=tuple(o.allow_hosts),
                          respect_robots=o.respect_robots)

    def image_options(self) -> ImageOptions:
        """The ImageOptions these stage options mean."""
        o = self.options
        return ImageOptions(image_size=o.image_size, resize_mode=o.resize_mode, encode_format=o.encode_format,
                            encode_quality=o.encode_quality, min_side=o.min_side,
                            max_aspect_ratio=o.max_aspect_ratio, max_pixels=o.max_pixels)

    # -- driver side ------------------------------------------------------------------------
    def before_run(self, shards: list, stage_dir) -> list[str]:
        """With `retry_transient`, un-commit the parts holding transient failures so they run again."""
        from mella.fetch.resume import reopen_transient

        return reopen_transient(stage_dir) if self.options.retry_transient else []

    def prepare(self, shards: list, stage_dir) -> None:
        """Open the run-wide duplicate index and forget claims of parts that never committed."""
        from mella.fetch.hashindex import HashIndex
        from mella.fetch.resume import clear_retry

        folder = stage_dir.path / "_global"
        folder.mkdir(parents=True, exist_ok=True)
        self._index_path = str(folder / "images.sqlite")
        committed = {p.stem for p in stage_dir.committed_part_files()}
        index = HashIndex(self._index_path, self.options.near_duplicate_distance)
        index.forget_uncommitted(committed)
        index.close()
        clear_retry(stage_dir, committed)

    # -- worker side ------------------------------------------------------------------------
    def setup(self) -> None:
        from mella.fetch.downloader import Downloader
        from mella.fetch.hashindex import HashIndex

        self._images = self.image_options()
        self._downloader = Downloader(self.net_options(), self.options.honour_noai,
                                      max_pending=max(64, 2 * self.options.concurrency))
        # Without prepare() (a stage called directly) duplicates are found within this worker only.
        self._index = HashIndex(self._index_path or ":memory:", self.options.near_duplicate_distance)

    def process(self, rows: list[dict[str, Any]], out: Emitter) -> None:
        from mella.fetch.wds import TarWriter

        part = self._part_for(out)
        keys = [image_key(row.get("image_url")) for row in rows]
        first = {}
        for key, row in zip(keys, rows, strict=True):
            first.setdefault(key, row)
        with TarWriter(part.tar) as tar:
            pending = self._settle_known([k for k in first if k not in part.done], first, part, tar, out)
            out.count("downloads", len(pending))
            # Decode as downloads finish (overlapping the network), but keep or drop as copies in input
            # order, so which of two copies a part keeps does not depend on timing.
            ready: dict[int, tuple] = {}
            settled = 0
            for i, download in self._downloader.iter_downloads([first[k]["image_url"] for k in pending]):
                ready[i] = self._decode(pending[i], download)
                while settled in ready:  # the finished prefix, in input order; holds little in memory
                    key, (res, data) = pending[settled], ready.pop(settled)
                    part.done[key] = self._keep(res, data, first[key], part, tar) if data is not None else res
                    out.count(f"images.{part.done[key]['status']}")
                    settled += 1
        for key, row in zip(keys, rows, strict=True):
            self._emit(row, part.done[key], out)

    def _settle_known(self, fresh, first, part: _Part, tar, out: Emitter) -> list[str]:
        """Settle keys an earlier attempt or a bad URL already answers; returns the keys to download."""
        pending = []
        for key in fresh:
            url = first[key].get("image_url")
            found = part.previous.reusable(key)
            if found is not None:
                part.done[key] = self._reuse(found, first[key], part, tar)
                out.count("reused")
                out.count(f"images.{part.done[key]['status']}")
            elif not url or urlsplit(url).scheme.lower() not in ("http", "https"):
                part.done[key] = _result(key, "bad_scheme" if url else "invalid_url", f"image_url {url!r}")
                out.count(f"images.{part.done[key]['status']}")
            else:
                pending.append(key)
        return pending

    def _part_for(self, out: Emitter) -> _Part:
        from mella.fetch.resume import adopt_previous, load_previous
        from mella.runstore import StageDir

        tar = out.artifact("tar")
        if self._part is None or self._part.tar != tar:
            name = out.part_name
            stage_dir = StageDir(tar.parent)
            adopt_previous(stage_dir, name)
            previous = load_previous(stage_dir, name, RESULT_COLUMNS)
            self._index.forget_part(name)
            self._part = _Part(name, tar, previous)
        return self._part

    def _decode(self, key: str, download) -> tuple[dict[str, Any], bytes | None]:
        """The row fields of one download, and the re-encoded image when it is good."""
        from mella.fetch.images import process_image

        res = _result(key, download.status, download.error, http_status=download.http_status,
                      x_robots_tag=download.x_robots_tag)
        if download.status != "ok":
            return res, None
        img = process_image(download.body, self._images)
        res.update(bytes=len(download.body), sha256=img.sha256, phash=img.phash, width=img.width,
                   height=img.height, original_width=img.original_width, original_height=img.original_height)
        if img.status != "ok":
            res.update(status=img.status, error=img.error)
            return res, None
        return res, img.data

    def _reuse(self, found: dict[str, Any], row: dict[str, Any], part: _Part, tar) -> dict[str, Any]:
        res = {c: found.get(c) for c in RESULT_COLUMNS}
        if found["status"] != "ok":
            return res  # a permanent failure stays one: no new request
        from mella.fetch.images import strip_payloads

        # Not re-encoded: an image an older mella stored may still carry its source's comment.
        data = strip_payloads(part.previous.image_bytes(found))
        return self._keep(res, data, row, part, tar)

    def _keep(self, res: dict[str, Any], data: bytes, row: dict[str, Any], part: _Part, tar) -> dict[str, Any]:
        scope = str(row.get("lang") or "") if self.options.dedup_scope == "lang" else ""
        copy = self._index.claim(part.name, res["key"], res["sha256"], res["phash"], scope)
        if copy is not None:
            reason, original = copy
            res.update(status=reason, error=f"{reason} of image {original}", duplicate_of=original,
                       tar_offset=None, tar_size=None)
            return res
        meta = {**row, **{k: v for k, v in res.items() if k not in ("tar_offset", "tar_size")}}
        res["tar_offset"], res["tar_size"] = tar.add(res["key"], self.options.encode_format, data, meta)
        return res

    @staticmethod
    def _emit(row: dict[str, Any], res: dict[str, Any], out: Emitter) -> None:
        merged = {**row, **res}
        if res["status"] == "ok":
            out.keep(merged)
        else:
            out.drop(merged, res["status"])


def _result(key: str, status: str, error: str | None, **more: Any) -> dict[str, Any]:
    res = dict.fromkeys(RESULT_COLUMNS)
    res.update(key=key, status=status, error=error, **more)
    return res
