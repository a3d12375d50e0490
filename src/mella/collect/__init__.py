"""Collect: image + alt-text candidates from web archives (WARC, WAT) and saved HTML pages.

The HTML extraction (:func:`mella.collect.html.extract_page`) takes bytes, a URL and optional HTTP
headers, so a crawler can reuse it. The stage lives in :mod:`mella.collect.collect`.
"""
