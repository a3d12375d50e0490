"""The text around each image: one C-level text pass over the page, windows cut around markers."""

from __future__ import annotations

import unicodedata

from mella.collect.decode import strip_controls

# Markers put in place of each <img> so one C-level text() call yields every image's context.
_MARK = "\ue000\U000f0000\ue001"
def contexts(tree, images: list, junk: list, context_chars: int) -> list[str]:
    """A window of ``context_chars`` of visible text around each image (half before, half after)."""
    for img in images:
        img.insert_before(_MARK)
    for node in junk:  # script, style and template text is not what a reader sees around an image
        node.decompose()
    body = tree.body if tree.body is not None else tree.root
    # Unstripped text nodes: lexbor copies them into one buffer, with no Python string per node.
    # The separator puts a space on both sides of every marker.
    # Control characters (terminal escapes, NULs) are left out, as if they were not in the page.
    pieces = strip_controls(body.text(separator=" ", skip_empty=True) if body is not None else "").split(_MARK)
    if len(pieces) != len(images) + 1:  # a marker was lost (an image inside removed markup)
        return [""] * len(images)
    half = max(context_chars // 2, 1)
    # Windows span neighbouring images too (a gallery has no text between its pictures). Collapsing
    # whitespace costs per character: collapse the whole text once (about 3 ns a character) unless it
    # is long for its images, else only the raw text around each image (about 5 us an image).
    # Both give the same windows.
    if sum(map(len, pieces)) > 10 * half * len(images):
        windows = _windows_sparse(pieces, half)
    else:
        windows = _windows_dense(pieces, half)
    normalize = unicodedata.normalize
    return [w if w.isascii() else normalize("NFC", w) for w in windows]


_SPAN = 2  # raw characters read per collapsed character wanted (text nodes keep their indentation)


def _windows_dense(pieces: list[str], half: int) -> list[str]:
    """Windows from the whole text, collapsed once (pieces: the text between images)."""
    parts: list[str] = []
    marks: list[int] = []
    pos = 0
    for i, piece in enumerate(pieces):
        if i:
            marks.append(pos)
        words = " ".join(piece.split())
        if words:
            if parts:
                parts.append(" ")
                pos += 1
            parts.append(words)
            pos += len(words)
    text = "".join(parts)
    # At each mark the text before it ends with a word and the text after it starts with a space.
    return [f"{text[max(p - half, 0):p].lstrip()} {text[p:p + half + 1].lstrip()[:half].rstrip()}".strip()
            for p in marks]


def _windows_sparse(pieces: list[str], half: int) -> list[str]:
    """Windows from the raw text around each image, collapsed one window at a time."""
    text = "".join(pieces)
    out, pos = [], 0
    for piece in pieces[:-1]:
        pos += len(piece)
        before, after = _window(text, pos, half, False), _window(text, pos, half, True)
        out.append(f"{before[-half:].lstrip()} {after[:half].rstrip()}".strip())
    return out


def _window(text: str, pos: int, half: int, forward: bool) -> str:
    """At least ``half`` characters of collapsed text after (or before) ``pos``, where the text has them."""
    span = half * _SPAN
    while True:
        raw = text[pos:pos + span] if forward else text[max(pos - span, 0):pos]
        words = " ".join(raw.split())
        if len(words) >= half or len(raw) < span:
            return words
        span *= 4  # mostly whitespace (indentation): read further
