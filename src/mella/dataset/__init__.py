"""The dual-source dataset: D_know and D_ling samples, templates, leakage-free splits, baselines, exports, card.

``mella build`` (:class:`mella.dataset.build.BuildStage`) turns annotated fetch rows into samples;
``mella export`` (:func:`mella.dataset.export.export`) writes them in the formats trainers read.
"""
