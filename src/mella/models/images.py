"""Images for rows of the annotation stages: by key from a fetch output folder.

The folder is the ``images`` option, or found from the input rows themselves: a fetch part
``part-NNNNN.parquet`` has its tar beside it, and a later stage's part names the part it was made from
in its ``_SUCCESS`` marker (``source``), so the chain caption -> translate -> score leads back to fetch.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mella.errors import MellaError
from mella.paths import from_marker

MAX_HOPS = 32


def find_image_folder(shard_uri: str) -> Path | None:
    """The fetch folder the rows of ``shard_uri`` descend from (following part markers), or None."""
    path = Path(shard_uri)
    for _ in range(MAX_HOPS):
        if path.with_suffix(".tar").exists() or any(path.parent.glob("part-*.tar")):
            return path.parent
        marker = path.with_suffix("._SUCCESS")
        if not marker.exists():
            return None
        info = json.loads(marker.read_text(encoding="utf-8"))
        source = info.get("source")
        if not source or source.startswith(("http://", "https://")):
            return None
        # Relative sources are relative to the marker's folder (never to the working directory).
        path = Path(from_marker(source, marker.parent))
        _check_unchanged(path, info.get("source_fingerprint"), marker)
    return None


def _check_unchanged(path: Path, expected: str | None, marker: Path) -> None:
    """Refuse to follow a marker to an input part that has been rewritten with other options since."""
    upstream = path.with_suffix("._SUCCESS")
    if expected is None or not upstream.is_file():
        return
    found = json.loads(upstream.read_text(encoding="utf-8")).get("fingerprint")
    if found != expected:
        raise MellaError(f"{marker} was made from {path}, which has been rewritten since (stage fingerprint "
                         f"{found}, not {expected}); rerun the stages after it or pass --images")


class ImageSource:
    """Decoded images and their sha256 by key; the folder is fixed or looked up per input shard."""

    def __init__(self, folder: str | None):
        self.folder = folder
        self._stores: dict[str, Any] = {}

    def store(self, shard_uri: str | None):
        """The ImageStore for rows read from ``shard_uri``."""
        folder = self.folder or (find_image_folder(shard_uri) if shard_uri else None)
        if folder is None:
            where = f" for {shard_uri}" if shard_uri else ""
            raise MellaError(f"cannot tell where the images{where} are; pass --images FETCH_OUTPUT_FOLDER")
        folder = str(folder)
        if folder not in self._stores:
            from mella.fetch.wds import ImageStore

            self._stores[folder] = ImageStore(folder)
            if not len(self._stores[folder]):
                raise MellaError(f"{folder} holds no fetched images; --images must name a fetch stage's output")
        return self._stores[folder]


def image_sha(row: dict[str, Any], store) -> str | None:
    """The row's image sha256 (from fetch), or the hash of its stored bytes; None when the image is missing."""
    key = row.get("key")
    if key is None or key not in store:
        return None
    return row.get("sha256") or hashlib.sha256(store[key]).hexdigest()


def check_images(rows: list[dict[str, Any]], store) -> list[tuple[str | None, str | None]]:
    """Per row, ``(image sha256, None)`` when its image can be used, else ``(None, drop reason)``.

    The reasons: ``image_missing`` (no such key), ``image_too_large`` and ``image_unreadable`` (the fetch
    stage's limits, :func:`mella.fetch.images.open_stored_image`). Each image is decoded once per call, so a
    bad one is dropped with its reason before any model sees the batch.
    """
    from mella.fetch.images import StoredImageError

    verdicts: dict[str, str | None] = {}
    out = []
    for row in rows:
        sha = image_sha(row, store)
        key = row.get("key")
        if sha is None:
            out.append((None, "image_missing"))
            continue
        if key not in verdicts:
            try:
                store.open(key)
                verdicts[key] = None
            except StoredImageError as exc:
                verdicts[key] = exc.reason
        out.append((None, verdicts[key]) if verdicts[key] else (sha, None))
    return out


class DecodedOnce:
    """One batch's view of an image store: each image is decoded (under the fetch stage's limits) at most
    once, so checking a batch's images (:func:`check_images`) and handing them to the model
    (:func:`load_images`) do not decode them twice. Lives as long as the batch."""

    def __init__(self, store):
        self.store = store
        self._decoded: dict[str, Any] = {}

    def __contains__(self, key: str) -> bool:
        return key in self.store

    def __getitem__(self, key: str) -> bytes:
        return self.store[key]

    def open(self, key: str):
        if key not in self._decoded:  # a bad image raises every time and is never kept
            self._decoded[key] = self.store.open(key)
        return self._decoded[key]


def load_images(keys: list[str], store) -> dict[str, Any]:
    """Decoded RGB images of ``keys`` (each decoded once, under the fetch stage's limits)."""
    return {k: store.open(k).convert("RGB") for k in dict.fromkeys(keys)}
