"""The HTML report of a run folder: funnel, gallery, distributions, metrics, run-to-run comparison."""
