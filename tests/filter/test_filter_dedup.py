"""Global dedup: exact pairs, per-domain alts, site chrome, logos; buckets do not change the answer."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from mella.filter import dedup_index as dedup
from mella.filter.filter import FILTERED


def row(page, image, alt, domain="example.rs"):
    r = {name: None for name in FILTERED.names}
    r.update(page_url=f"https://{domain}/{page}", image_url=f"https://{domain}/img/{image}", alt=alt,
             domain=domain, source="t", source_offset=-1, lang="sr-Latn", lang_confidence=0.9)
    return r


def write_parts(tmp_path, parts):
    paths = []
    for i, rows in enumerate(parts):
        path = tmp_path / f"part-{i:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(rows, schema=FILTERED), path)
        paths.append(str(path))
    return paths


def sample_parts():
    logo = [row(f"p{i}", "logo.png", f"Vesti dana broj {i}") for i in range(5)]
    chrome = [row(f"p{i}", f"ad{i}.png", "Preuzmi igru sa Google Play prodavnice") for i in range(3)]
    part0 = [row("a", "1.jpg", "Predsednik otvorio novi most"), row("a", "1.jpg", "Predsednik  otvorio novi most!"),
             row("b", "2.jpg", "Predsednik otvorio novi most"), *logo[:3], *chrome[:2]]
    part1 = [row("a", "1.jpg", "predsednik otvorio novi most"), row("x", "9.jpg", "Deca u parku posle kiše"),
             row("x", "9.jpg", "Deca u parku", domain="other.rs"), *logo[3:], *chrome[2:]]
    return part0, part1


def test_reasons_across_parts(tmp_path):
    paths = write_parts(tmp_path, sample_parts())
    work = dedup.build_index(paths, tmp_path / "work", buckets=1)
    d0, d1 = dedup.part_drops(work, 0), dedup.part_drops(work, 1)
    assert d0 == {1: "duplicate", 2: "duplicate_alt_domain", 3: "repeated_image", 4: "repeated_image",
                  5: "repeated_image", 6: "site_chrome", 7: "site_chrome"}
    # part 1, row 0 repeats part 0's first pair (same image, same normalised alt): a cross-part duplicate
    assert d1 == {0: "duplicate", 3: "repeated_image", 4: "repeated_image", 5: "site_chrome"}


def test_buckets_give_the_same_answer(tmp_path):
    paths = write_parts(tmp_path, sample_parts())
    one = dedup.build_index(paths, tmp_path / "w1", buckets=1)
    many = dedup.build_index(paths, tmp_path / "w7", buckets=7)
    assert all(dedup.part_drops(one, i) == dedup.part_drops(many, i) for i in range(2))


def test_ensure_index_builds_once(tmp_path):
    paths = write_parts(tmp_path, sample_parts())
    work = dedup.ensure_index(paths, tmp_path / "w", buckets=2)
    stamp = (work / "_DONE").stat().st_mtime_ns
    assert dedup.ensure_index(paths, tmp_path / "w", buckets=2) == work
    assert (work / "_DONE").stat().st_mtime_ns == stamp


def test_one_image_written_two_ways_is_one_image(tmp_path):
    """A raw space or letter and its percent-escape are one address (a browser requests both the same), so the
    second copy of a pair is a duplicate and the same file on 5 pages is a logo, however each page wrote it."""
    pages = [row("a", "Фото 1.jpg", "Храм Светог Саве у Београду"),
             row("b", "%D0%A4%D0%BE%D1%82%D0%BE%201.jpg", "Храм Светог Саве у Београду"),
             row("a", "%d0%a4%d0%be%d1%82%d0%be%201.jpg", "Храм Светог Саве у Београду")]
    logos = [row(f"p{i}", name, f"Vesti dana broj {i}")
             for i, name in enumerate(["grb grada.png", "grb%20grada.png", "grb%20grad%61.png",
                                       "grb grada.png", "grb%20grada.png"])]
    work = dedup.build_index(write_parts(tmp_path, [pages + logos]), tmp_path / "work", buckets=1)
    assert dedup.part_drops(work, 0) == {1: "duplicate", 2: "duplicate", **{i: "repeated_image" for i in range(3, 8)}}
