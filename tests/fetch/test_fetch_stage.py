"""The fetch stage against a real local HTTP server: good images land in the shards, bad ones get a status."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
import pytest
from fetchkit import REAL_SITE, pair, real_images, tar_members, write_pairs
from PIL import Image

from mella.demo.siteserver import SiteServer
from mella.fetch.fetch import FetchStage, image_key
from mella.fetch.images import sha256_hex
from mella.fetch.wds import ImageStore, iter_images, open_image
from mella.pipeline.local import LocalExecutor
from mella.pipeline.runner import run_stage
from mella.records import IMAGES


def run(stage, inputs, out, workers=1):
    return run_stage(stage, [str(inputs)], out, LocalExecutor(workers, progress=False))


def rows(out, dropped=False):
    path = out / "_dropped" if dropped else out
    files = sorted(path.glob("part-*.parquet"))
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def by_url(out):
    return {r["image_url"]: r for r in rows(out) + rows(out, dropped=True)}


def test_real_site_every_image_ends_in_the_shards_once(server, tmp_path):
    files = real_images()
    urls = [server.base_url + "/" + REAL_SITE + "/" + p.relative_to(p.parents[2]).as_posix() for p in files]
    half = len(urls) // 2
    write_pairs(tmp_path / "in" / "a.parquet", [pair(u, alt=f"alt {i}") for i, u in enumerate(urls[:half])])
    write_pairs(tmp_path / "in" / "b.parquet", [pair(u, alt=f"alt {i}") for i, u in enumerate(urls[half:])])
    out = tmp_path / "out"
    stage = FetchStage(allow_hosts=[server.host_port])
    stage.batch_size = 7  # several batches per part: each appends to the part's tar
    report = run(stage, tmp_path / "in", out, workers=2)

    result = by_url(out)
    assert report.rows + report.dropped == len(urls) == len(result)
    members = tar_members(out)
    for path, url in zip(files, urls, strict=True):
        row = result[url]
        assert row["key"] == image_key(url)
        assert row["sha256"] == sha256_hex(path.read_bytes())
        original = Image.open(path)
        assert (row["original_width"], row["original_height"]) == original.size
        if min(original.size) < 32:
            assert row["status"] == "too_small"
        elif row["status"] == "ok":
            img = Image.open(io.BytesIO(members[row["key"] + ".jpg"]))
            assert img.format == "JPEG" and img.mode == "RGB" and max(img.size) == min(1024, max(original.size))
            assert (row["width"], row["height"]) == img.size
            meta = json.loads(members[row["key"] + ".json"])
            assert meta["image_url"] == url and meta["alt"] == row["alt"] and meta["sha256"] == row["sha256"]
            assert open_image(out, row["key"]) == members[row["key"] + ".jpg"]
        else:
            assert row["status"] in ("duplicate", "near_duplicate"), row["error"]
            assert result_by_key(result)[row["duplicate_of"]]["status"] == "ok"
    ok = [r for r in result.values() if r["status"] == "ok"]
    assert len(members) == 2 * len(ok) >= 2 * 20
    assert len({r["sha256"] for r in ok}) == len(ok)
    store = ImageStore(out)
    assert len(store) == len(ok) and {k for k, _, _ in iter_images(out)} == set(store.refs)
    assert set(IMAGES.names) <= set(pq.read_schema(out / "part-00000.parquet").names)
    # one robots.txt fetch per worker, an honest user agent on every request
    assert 1 <= server.requested_paths().count("/robots.txt") <= 2
    assert all(r.user_agent.startswith("mella/") and "(+http" in r.user_agent for r in server.requests)


def result_by_key(result):
    return {r["key"]: r for r in result.values()}


def misbehaving_urls(b: str, other: SiteServer) -> dict[str, str]:
    """URL -> the status it must end with."""
    return {
        f"{b}/gen/good.png": "ok",
        f"{b}/gen/copy.png": "duplicate",
        f"{b}/gen/near.jpg": "near_duplicate",
        f"{b}/gen/rotated.jpg": "ok",
        f"{b}/gen/bomb.png": "decompression_bomb",
        f"{b}/gen/truncated.jpg": "truncated_image",
        f"{b}/gen/page.jpg": "not_an_image",
        f"{b}/gen/tiny.png": "too_small",
        f"{b}/gen/banner.png": "bad_aspect_ratio",
        f"{b}/gen/private/secret.png": "robots_disallowed",
        f"{b}/gen/missing.png": "http_404",
        f"{b}/_test/noai/{REAL_SITE}/sr-SP/images/poetry-click.png": "noai",
        f"{b}/_test/file/{REAL_SITE}/sr-SP/images/poetry-click.png?tag=noimageai": "noai",
        f"{b}/_test/file/{REAL_SITE}/sr-SP/images/poetry-click.png?tag=otherbot:%20noai": "ok",
        f"{b}/_test/file/{REAL_SITE}/sr-SP/images/poetry-name-test2.png?fail=1&code=429&after=1": "ok",
        f"{b}/_test/status/429?after=1": "http_429",
        f"{b}/_test/status/503": "http_503",
        f"{b}/_test/redirect?to={other.base_url}/x.png": "blocked_address",
        f"{b}/_test/redirect?to=http://169.254.169.254/latest/meta-data/": "blocked_address",
        f"{b}/_test/stall?seconds=20": "timeout",
        f"{b}/_test/big?bytes=3000000&length=0": "too_large",
        "ftp://example.org/a.png": "bad_scheme",
    }


def test_misbehaving_routes_end_with_the_right_status(server, tmp_path):
    with SiteServer([]) as other:  # listening on loopback, but not in allow_hosts
        expected = misbehaving_urls(server.base_url, other)
        write_pairs(tmp_path / "in" / "a.parquet", [pair(u) for u in expected])
        stage = FetchStage(allow_hosts=[server.host_port], read_timeout=1, retries=1, max_bytes=2_000_000)
        report = run(stage, tmp_path / "in", tmp_path / "out")
        assert other.requests == []  # the guard refused before connecting
    result = by_url(tmp_path / "out")
    assert {u: result[u]["status"] for u in expected} == expected
    assert report.rows == 4 and report.dropped == len(expected) - 4
    for url, row in result.items():
        assert (row["error"] is None) == (row["status"] == "ok"), url
    assert result[f"{server.base_url}/gen/copy.png"]["duplicate_of"] == image_key(f"{server.base_url}/gen/good.png")
    assert result[f"{server.base_url}/gen/near.jpg"]["duplicate_of"] == image_key(f"{server.base_url}/gen/good.png")
    assert "noai" in result[f"{server.base_url}/_test/noai/{REAL_SITE}/sr-SP/images/poetry-click.png"]["x_robots_tag"]
    rotated = result[f"{server.base_url}/gen/rotated.jpg"]
    assert (rotated["original_width"], rotated["original_height"]) == (200, 300)  # EXIF orientation applied
    assert (rotated["width"], rotated["height"]) == (200, 300)  # under the 1024 default: not resized
    # robots.txt was checked before the image: the disallowed image was never requested
    paths = server.requested_paths()
    assert "/gen/private/secret.png" not in paths and paths.count("/robots.txt") == 1
    # the 429 was retried after its Retry-After
    flaky = [r.time for r in server.requests if "fail=1" in r.path]
    assert len(flaky) == 2 and flaky[1] - flaky[0] >= 0.9
    kept = tar_members(tmp_path / "out")
    assert sorted(kept) == sorted(f"{result[u]['key']}.{ext}" for u, s in expected.items() if s == "ok"
                                  for ext in ("jpg", "json"))


@pytest.mark.parametrize("mode,size", [("keep_ratio", (128, 96)), ("center_crop", (128, 128)), ("none", (597, 449))])
def test_resize_modes_and_webp(server, tmp_path, mode, size):
    url = f"{server.base_url}/gen/good.png"
    write_pairs(tmp_path / "in.parquet", [pair(url)])
    run(FetchStage(allow_hosts=[server.host_port], image_size=128, resize_mode=mode, encode_format="webp",
                   encode_quality=80), tmp_path / "in.parquet", tmp_path / "out")
    (key, data, meta), = list(iter_images(tmp_path / "out"))
    img = Image.open(io.BytesIO(data))
    assert img.format == "WEBP" and img.size == size and (meta["width"], meta["height"]) == size
    assert f"{key}.webp" in tar_members(tmp_path / "out")


def test_rows_sharing_an_image_share_one_download(server, tmp_path):
    url = f"{server.base_url}/gen/good.png"
    write_pairs(tmp_path / "in.parquet", [pair(url, alt="a"), pair(url + "#x", alt="b"), pair(url, alt="c")])
    run(FetchStage(allow_hosts=[server.host_port]), tmp_path / "in.parquet", tmp_path / "out")
    kept = rows(tmp_path / "out")
    assert [r["alt"] for r in kept] == ["a", "b", "c"] and len({r["key"] for r in kept}) == 1
    assert len({r["tar_offset"] for r in kept}) == 1
    assert server.requested_paths().count("/gen/good.png") == 1
    assert len(tar_members(tmp_path / "out")) == 2


def test_guard_is_on_without_allow_hosts(server, tmp_path):
    write_pairs(tmp_path / "in.parquet", [pair(f"{server.base_url}/gen/good.png")])
    report = run(FetchStage(), tmp_path / "in.parquet", tmp_path / "out")
    assert report.rows == 0 and report.counters["dropped.blocked_address"] == 1
    assert server.requests == []


def test_retry_transient_reruns_only_failed_parts_and_reuses_images(server, tmp_path):
    b = server.base_url
    good = [f"{b}/{REAL_SITE}/sr-SP/images/{n}" for n in ("balloons-final.png", "poetry-ada-intro.png")]
    flaky = f"{b}/_test/file/{REAL_SITE}/sr-SP/images/poetry-click.png?fail=1&code=503"
    write_pairs(tmp_path / "in" / "a.parquet", [pair(good[0]), pair(f"{b}/gen/tiny.png")])
    write_pairs(tmp_path / "in" / "b.parquet", [pair(good[1]), pair(flaky), pair(f"{b}/gen/page.jpg")])
    out = tmp_path / "out"
    options = dict(allow_hosts=[server.host_port], retries=0)
    run(FetchStage(**options), tmp_path / "in", out)
    assert by_url(out)[flaky]["status"] == "http_503"
    part_a = (out / "part-00000.parquet").stat().st_mtime_ns

    stage = FetchStage(**options, retry_transient=True)  # a runtime option: the fingerprint is unchanged
    assert stage.fingerprint() == FetchStage(**options).fingerprint()
    before = len(server.requests)  # the executor calls before_run, which re-opens part 1 only
    report = run(stage, tmp_path / "in", out)
    assert report.parts_run == 1 and report.parts_skipped == 1
    again = [r.path for r in server.requests[before:] if r.path != "/robots.txt"]
    assert again == [flaky.removeprefix(b)]  # nothing else requested again
    result = by_url(out)
    assert result[flaky]["status"] == "ok" and result[good[1]]["status"] == "ok"
    assert result[f"{b}/gen/page.jpg"]["status"] == "not_an_image"
    assert (out / "part-00000.parquet").stat().st_mtime_ns == part_a
    assert report.counters["reused"] == 2  # the ok image and the HTML page of part 1
    assert len(tar_members(out)) == 2 * 3
    assert FetchStage(**options, retry_transient=True).before_run([], out) == []


def test_same_picture_in_two_languages_is_kept_once_per_language(server, tmp_path):
    """The ar and ko translations of one tutorial serve byte-identical screenshots under different URLs."""
    b = server.base_url
    ar = f"{b}/ar__raspberrypilearning__lost-in-space/ar-SA/images/space-egs.png"
    ko = f"{b}/ko__raspberrypilearning__lost-in-space/ko-KR/images/space-egs.png"
    ko_again = f"{b}/ko__raspberrypilearning__lost-in-space/ko-KR/images/space-egs.png?copy=1"
    rows_in = [{**pair(ar, "سفينة"), "lang": "ar"}, {**pair(ko, "우주선"), "lang": "ko"},
               {**pair(ko_again, "우주선 사진"), "lang": "ko"}]
    write_pairs(tmp_path / "in" / "a.parquet", rows_in)
    run(FetchStage(allow_hosts=[server.host_port]), tmp_path / "in", tmp_path / "lang")
    result = by_url(tmp_path / "lang")
    assert result[ar]["status"] == "ok" and result[ko]["status"] == "ok"
    assert result[ar]["sha256"] == result[ko]["sha256"]
    assert result[ko_again]["status"] == "duplicate" and result[ko_again]["duplicate_of"] == image_key(ko)
    run(FetchStage(allow_hosts=[server.host_port], dedup_scope="all"), tmp_path / "in", tmp_path / "all")
    result = by_url(tmp_path / "all")
    assert result[ar]["status"] == "ok"
    assert result[ko]["status"] == "duplicate" and result[ko_again]["status"] == "duplicate"
