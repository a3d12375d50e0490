"""Filter alt-texts: language ID (:mod:`.langid`), quality rules (:mod:`.rules`), dedup (:mod:`.dedup`).

Stages: ``filter`` (:class:`mella.filter.filter.FilterStage`) and ``dedup``
(:class:`mella.filter.dedup.DedupStage`). See docs/filter.md.
"""
