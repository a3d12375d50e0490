"""Filter alt-texts: language ID (:mod:`.langid`), quality rules (:mod:`.rules`), dedup (:mod:`.dedup`).

Stages: ``filter`` (:class:`mella.filter.stage.FilterStage`) and ``dedup``
(:class:`mella.filter.stage.DedupStage`). See docs/filter.md.
"""
