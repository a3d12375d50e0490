"""Fetch: download the images behind the kept pairs into WebDataset tar shards (see docs/fetch.md).

Later stages read images with :mod:`mella.fetch.wds` (`iter_images`, `open_image`, `ImageStore`).
"""
