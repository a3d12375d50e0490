"""A guard against pathologically nested HTML, checked on the raw bytes before parsing."""

from __future__ import annotations

import re

from mella.collect.accel import native

# Lexbor's tree builder, like every HTML5 parser, scans the stack of open elements at each end tag:
# 200k nested <div>s take a minute. Real pages stay far below this depth.
MAX_NESTING = 5000
# Pages smaller than this cannot nest deep enough to hurt (10k nested <div>s parse in about 0.1 s
# even when every tag nests), so the tag scan only runs on large pages.
_DEPTH_CHECK_BYTES = 50_000
_TAG_COUNT_CHECK = 5_000  # pages with fewer '<' cannot reach a harmful depth
_TAG = re.compile(rb"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)")
# Void elements and elements whose end tag may be left out do not deepen the tree when unclosed.
_FLAT = frozenset(b"""area base br col embed hr img input link meta param source track wbr
    p li dt dd option optgroup tr td th thead tbody tfoot colgroup caption rt rp html head body
    image keygen basefont bgsound frame isindex""".split())

def could_nest_deeper(data: bytes, limit: int) -> bool:
    """False when the page has too few start tags to nest deeper than ``limit``.

    Only a '<' that is not '</' can open an element, so their number bounds the depth that
    :func:`nesting_depth` finds. A well-formed page closes about half its tags; the tag scan, which
    costs about as much as the parse, then runs only on pages with over twice ``limit`` tags.
    """
    if native is not None:  # one vectorised pass in C
        opens, closes = native.tag_counts(data)
        return opens > limit and opens - closes > limit
    np = _numpy()
    if np is None:
        return data.count(b"<") > limit and data.count(b"<") - data.count(b"</") > limit
    # bytes.count goes one byte at a time (about 1 GB/s, a third of a parse on a large page);
    # numpy compares 16 or 32 bytes at once. Same counts either way.
    a = np.frombuffer(data, np.uint8)
    lt = a == 60  # '<'
    opens = int(np.count_nonzero(lt))
    if opens <= limit:
        return False
    return opens - int(np.count_nonzero(lt[:-1] & (a[1:] == 47))) > limit  # '</'


_NUMPY: list = []


def _numpy():
    """numpy when installed (it is not a dependency of mella's core), else None."""
    if not _NUMPY:
        try:
            import numpy
        except ImportError:
            numpy = None
        _NUMPY.append(numpy)
    return _NUMPY[0]


def nesting_depth(data: bytes, limit: int) -> int:
    """An estimate of the deepest element nesting in raw HTML; stops counting once past ``limit``."""
    depth = deepest = 0
    for m in _TAG.finditer(data):
        name = m.group(2).lower()
        if name in _FLAT:
            continue
        if m.group(1):
            depth = max(depth - 1, 0)
        else:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
    return deepest
