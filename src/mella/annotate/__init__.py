"""The annotation stages: ``caption`` (an MLLM describes each image), ``translate`` (into the row's language,
with checks) and ``score`` (image-text relevance). Results are cached by input identity (docs/annotate.md)."""
