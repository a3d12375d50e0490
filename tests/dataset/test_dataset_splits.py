"""Image groups (sha256, pHash neighbours, domain), split assignment and mixing, on synthetic rows."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq

from mella.dataset.build import BuildOptions
from mella.dataset.groups import bands, image_groups, labels
from mella.dataset.plan import make_plan, read_plan
from mella.dataset.splits import assign_splits, mix


def _flip(h: str, bits: int) -> str:
    return f"{int(h, 16) ^ ((1 << bits) - 1):016x}"


def test_bands_cover_64_bits():
    for d in range(0, 10):
        b = bands(d)
        assert len(b) == d + 1 and sum(w for _, w in b) == 64 and b[0][0] == 0


def test_groups_join_same_bytes_and_near_hashes_only():
    base = "9e52500fa5a5a5af"
    sha = labels(["a", "b", "a", "c", "d", None, None])
    phash = [base, _flip(base, 4), "0123456789abcdef", _flip(base, 9), "fedcba9876543210", None, None]
    groups = image_groups(sha, phash, None, 4)
    assert groups[0] == groups[1] == groups[2]     # near hash (4 bits), same sha256
    assert groups[3] != groups[0]                  # 9 bits from one, 5 from the other
    assert len({groups[4], groups[5], groups[6]}) == 3  # missing hashes link nothing
    dom = labels(["x", "y", "y", "z", "y", "x", None])
    assert len(set(image_groups(sha, phash, dom, 4).tolist())) == 3  # {x, y} domains, z, no domain


def test_split_targets_are_met_without_exceeding_and_deterministic():
    cells = {f"g{i}": Counter({("ru", "know"): 1 + i % 3, ("ru", "ling"): 1}) for i in range(200)}
    sizes = {"test": 0.1, "validation": 20}
    a = assign_splits(cells, sizes, seed=3)
    assert a == assign_splits(cells, sizes, seed=3) and a != assign_splits(cells, sizes, seed=4)
    per = Counter()
    for g, split in a.items():
        for c, n in cells[g].items():
            per[(split, c)] += n
    assert 38 <= per[("test", ("ru", "know"))] <= 40 and per[("test", ("ru", "ling"))] <= 20
    assert per[("validation", ("ru", "ling"))] <= 20 and per[("validation", ("ru", "know"))] <= 20


def test_mix_ratio_cap_and_balance():
    counts = {("ru", "know"): 100, ("ru", "ling"): 50, ("ar", "know"): 10, ("ar", "ling"): 30}
    assert mix(counts, None, None, "none") == counts
    assert mix(counts, 0.5, None, "none") == {("ru", "know"): 50, ("ru", "ling"): 50, ("ar", "know"): 10,
                                             ("ar", "ling"): 10}
    capped = mix(counts, None, 60, "none")
    assert sum(v for (lang, _), v in capped.items() if lang == "ru") == 60 and capped[("ru", "know")] == 40
    balanced = mix(counts, None, None, "equal")
    assert sum(v for (lang, _), v in balanced.items() if lang == "ru") == 40


def _rows(n: int) -> list[dict]:
    """Synthetic annotated rows: image i has two alt-texts; images 0/1 share bytes under two URLs, 2/3 are
    pHash neighbours, all in Russian on two domains."""
    rows = []
    for i in range(n):
        sha = "same" if i in (0, 1) else f"sha{i}"
        ph = f"{(i * 0x9E3779B97F4A7C15) & (2**64 - 1):016x}"
        if i == 3:
            ph = _flip(rows[2 * 2]["phash"], 2)
        for alt in ("первая подпись", "вторая подпись"):
            rows.append({"key": f"k{i:03d}", "sha256": sha, "phash": ph, "domain": f"d{i % 2}.ru", "lang": "ru",
                         "alt": f"{alt} {i}", "translation": f"описание {i}", "caption": f"a caption {i}"})
    return rows


def test_plan_keeps_every_image_group_in_one_split(tmp_path):
    rows = _rows(60)
    parts = []
    for p in range(3):  # images spread over parts: the pass is global
        path = tmp_path / f"part-{p:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(rows[p::3]), path)
        parts.append(str(path))
    opts = BuildOptions(test_size=0.2, validation_size=0.1)
    summary = make_plan(parts, opts, tmp_path / "work")
    assert summary["samples"]["ru/know/test"] > 0
    split_of: dict[str, set] = {}
    for p in range(3):
        for row, d in zip(rows[p::3], read_plan(tmp_path / "work", p), strict=True):
            for s in (d["know"], d["ling"]):
                if s:
                    split_of.setdefault(row["key"], set()).add(s)
    assert all(len(s) == 1 for s in split_of.values())
    assert split_of["k000"] == split_of["k001"]            # same sha256, other URL
    assert split_of["k002"] == split_of["k003"]            # pHash neighbours
    assert sum(1 for d in (read_plan(tmp_path / "work", p) for p in range(3)) for x in d
               if x["ling_drop"] == "duplicate_sample") == 60  # one translation per image and language
    by_domain = make_plan(parts, BuildOptions(test_size=0.2, group_by_domain=True), tmp_path / "dom")
    # images 0 and 1 are one picture on both domains: the domains join, and one group fits no test target
    assert by_domain["groups"] == 1 and by_domain["group_splits"] == {"train": 1}
