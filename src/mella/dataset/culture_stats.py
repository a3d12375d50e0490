"""Culture statistics of D_know rows, per language: the share of each ``kind`` (filter), the categories and scores
of the culture stage, and the entities named most often (entity keywords of the keywords stage).

The dataset card and the HTML report both show them. A statistic whose columns a run never filled (an older run,
a stage that did not run) is *not measured*, which the readers say in words rather than leave out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# A build's samples with a D_know turn are know and both; ling samples have none. Rows before build are all D_know
# candidates (their `source` column, where they have one, is the input file they came from).
LING_SOURCE = "ling"
KINDS = ("description", "entity", "other")
# statistic -> the columns it reads (the first tells whether a row was measured)
GROUPS: dict[str, tuple[str, ...]] = {"kind": ("kind",), "entities": ("keywords", "keyword_kinds"),
                                      "category": ("culture_category", "culture_score")}
NOT_MEASURED = "not measured"


@dataclass
class CultureStats:
    """Counts over D_know rows; ``measured[lang]`` names the statistics some row of that language carries."""

    rows: Counter = field(default_factory=Counter)
    kinds: dict[str, Counter] = field(default_factory=dict)
    categories: dict[str, Counter] = field(default_factory=dict)
    scores: dict[str, list[float]] = field(default_factory=dict)
    entities: dict[str, Counter] = field(default_factory=dict)
    measured: dict[str, set[str]] = field(default_factory=dict)

    def add(self, row: dict[str, Any]) -> None:
        """Count one row if it is a D_know row (a build's know or both sample, or any row before build)."""
        if row.get("source") == LING_SOURCE:
            return
        lang = row.get("lang") or "und"
        self.rows[lang] += 1
        seen = self.measured.setdefault(lang, set())
        if row.get("kind") is not None:
            seen.add("kind")
            self.kinds.setdefault(lang, Counter())[row["kind"]] += 1
        if row.get("culture_category") is not None:
            seen.add("category")
            self.categories.setdefault(lang, Counter())[row["culture_category"]] += 1
            if row.get("culture_score") is not None:
                self.scores.setdefault(lang, []).append(float(row["culture_score"]))
        if row.get("keywords") is not None:
            seen.add("entities")
            found = self.entities.setdefault(lang, Counter())
            kinds = row.get("keyword_kinds") or []
            # Each entity once per row: "top entities" counts the samples that name it.
            found.update({k for k, kind in zip(row["keywords"], kinds, strict=False) if kind == "entity" and k})

    def langs(self) -> list[str]:
        return sorted(self.rows)

    def is_measured(self, lang: str, statistic: str) -> bool:
        return statistic in self.measured.get(lang, set())

    def any_measured(self, statistic: str) -> bool:
        return any(statistic in seen for seen in self.measured.values())

    def kind_shares(self, lang: str) -> dict[str, tuple[int, float]] | None:
        """kind -> (rows, share of the language's D_know rows); None when not measured. Rows without a kind,
        where others have one, are ``(none)``."""
        if not self.is_measured(lang, "kind"):
            return None
        found = self.kinds.get(lang, Counter())
        counts = {k: found.get(k, 0) for k in (*KINDS, *sorted(set(found) - set(KINDS)))}
        missing = self.rows[lang] - sum(counts.values())
        if missing:
            counts["(none)"] = missing
        return {k: (n, n / self.rows[lang]) for k, n in counts.items()}

    def category_shares(self, lang: str) -> dict[str, tuple[int, float]] | None:
        """category -> (rows, share), most frequent first; None when not measured."""
        if not self.is_measured(lang, "category"):
            return None
        counts = self.categories.get(lang, Counter())
        return {c: (n, n / self.rows[lang]) for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}

    def mean_score(self, lang: str) -> float | None:
        values = self.scores.get(lang)
        return sum(values) / len(values) if values else None

    def top_entities(self, lang: str, n: int = 10) -> list[tuple[str, int]] | None:
        """The entities most D_know rows name (ties alphabetical); None when not measured."""
        if not self.is_measured(lang, "entities"):
            return None
        return sorted(self.entities.get(lang, Counter()).items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def culture_stats(rows: Iterable[dict[str, Any]]) -> CultureStats:
    """The statistics of ``rows`` (only their D_know rows count)."""
    stats = CultureStats()
    for row in rows:
        stats.add(row)
    return stats


def share(n: int, fraction: float) -> str:
    """``12 (40%)``: a count and its share, as the card and the report print them."""
    return f"{n} ({fraction:.0%})"
