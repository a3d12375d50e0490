"""Human evaluation of a run folder: rating tasks, their SQLite store, the scales, the analysis of judgements,
Label Studio import/export (``mella rate-report``) and the local rating app (``mella rate``).

See docs/rate.md. Nothing outside ``mella.cli`` imports this room.
"""
