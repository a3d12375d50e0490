"""mella's optional C extension, ``mella.collect._native`` (None when this installation lacks it).

Built by setup.py from lexbor's sources (``make install`` fetches them). Every caller keeps a Python
path that gives the same results; the extension only makes collect faster (docs/collect.md).
"""

from __future__ import annotations

import unicodedata

from mella.collect.urls import LAZY_SRC, SRCSET_ATTRS

try:
    from mella.collect import _native as native
except ImportError:  # pragma: no cover - a build without lexbor's sources
    native = None
else:
    native.configure(LAZY_SRC, SRCSET_ATTRS, unicodedata.normalize)
