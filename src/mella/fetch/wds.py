"""WebDataset tar shards of the fetch stage: a writer, and readers later stages use to get images by key.

Part `part-NNNNN.parquet` of a fetch output has a sibling `part-NNNNN.tar` holding, per image,
`<key>.jpg` (or `.webp`) and `<key>.json` (the metadata of the first row that brought the image). Every
kept row carries `tar_offset` and `tar_size`: where the image bytes start in its part's tar and how many
there are, so :func:`open_image` reads an image with one seek instead of scanning the tar. The tars are
plain uncompressed POSIX tars: `tar tf`, `webdataset.WebDataset(...)` and `tarfile` all read them.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BLOCK = tarfile.BLOCKSIZE
IMAGE_EXTS = ("jpg", "webp")


class TarWriter:
    """Append `<key>.<ext>` + `<key>.json` pairs to a tar; `add` returns where the image bytes landed.

    Opening an existing tar appends to it (over its end-of-archive blocks), so a part written batch by
    batch is one valid tar after every batch.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        exists = self.path.exists() and self.path.stat().st_size >= 2 * BLOCK
        self._fh = open(self.path, "r+b" if exists else "wb")  # noqa: SIM115 - closed in close()
        if exists:
            self._fh.seek(-2 * BLOCK, io.SEEK_END)  # over the two zero blocks that end the archive
        self.count = 0

    def add(self, key: str, ext: str, data: bytes, meta: dict[str, Any]) -> tuple[int, int]:
        """Write one sample; returns (byte offset of the image data in the tar, its size)."""
        offset = self._add_member(f"{key}.{ext}", data)
        blob = json.dumps(meta, ensure_ascii=False, sort_keys=True, default=str).encode()
        self._add_member(f"{key}.json", blob)
        self.count += 1
        return offset, len(data)

    def _add_member(self, name: str, data: bytes) -> int:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o644, 0  # mtime 0: the same input gives the same bytes
        self._fh.write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        offset = self._fh.tell()
        self._fh.write(data)
        self._fh.write(b"\0" * (-len(data) % BLOCK))
        return offset

    def close(self) -> None:
        """End the archive (two zero blocks) and close the file."""
        self._fh.write(b"\0" * (2 * BLOCK))
        self._fh.truncate()
        self._fh.close()

    def __enter__(self) -> TarWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_at(tar_path: str | Path, offset: int, size: int) -> bytes:
    """The `size` bytes at `offset` of a tar: one image, given its row's `tar_offset` and `tar_size`."""
    with open(tar_path, "rb") as fh:
        fh.seek(offset)
        data = fh.read(size)
    if len(data) != size:
        raise ValueError(f"{tar_path}: {size} bytes expected at offset {offset}, found {len(data)}")
    return data


@dataclass(frozen=True)
class ImageRef:
    """Where one image lives: its part's tar, offset and size."""

    key: str
    tar: Path
    offset: int
    size: int

    def read(self) -> bytes:
        """The encoded image bytes."""
        return read_at(self.tar, self.offset, self.size)


def _parts(stage_dir: str | Path) -> list[Path]:
    from mella.runstore import StageDir

    return StageDir(stage_dir).committed_part_files()


def iter_refs(stage_dir: str | Path) -> Iterator[ImageRef]:
    """An ImageRef per distinct key of a fetch output, part by part (reads only three columns)."""
    import pyarrow.parquet as pq

    for part in _parts(stage_dir):
        table = pq.read_table(part, columns=["key", "tar_offset", "tar_size"])
        seen: set[str] = set()
        tar = part.with_suffix(".tar")
        for key, offset, size in zip(*(table[c].to_pylist() for c in ("key", "tar_offset", "tar_size")),
                                     strict=True):
            if key not in seen:  # several pairs may share one image
                seen.add(key)
                yield ImageRef(key, tar, offset, size)


def iter_images(stage_dir: str | Path) -> Iterator[tuple[str, bytes, dict[str, Any]]]:
    """(key, encoded image bytes, metadata) of every image, streaming the tars in order."""
    for part in _parts(stage_dir):
        tar_path = part.with_suffix(".tar")
        if tar_path.exists():
            yield from _iter_tar(tar_path)


def _iter_tar(tar_path: Path) -> Iterator[tuple[str, bytes, dict[str, Any]]]:
    pending: dict[str, dict[str, Any]] = {}
    with tarfile.open(tar_path, "r:") as tar:
        for member in tar:
            key, _, ext = member.name.rpartition(".")
            entry = pending.setdefault(key, {})
            entry[ext] = tar.extractfile(member).read()
            image_ext = next((e for e in IMAGE_EXTS if e in entry), None)
            if image_ext and "json" in entry:  # the writer puts a sample's two members next to each other
                del pending[key]
                yield key, entry[image_ext], json.loads(entry["json"])


def fetch_max_pixels(stage_dir: str | Path) -> int:
    """The pixel limit the fetch stage of ``stage_dir`` ran with (its stats.json), else the default."""
    from mella.fetch.images import DEFAULT_MAX_PIXELS

    stats = Path(stage_dir) / "stats.json"
    try:
        value = json.loads(stats.read_text(encoding="utf-8")).get("options", {}).get("max_pixels")
    except (OSError, ValueError, AttributeError):
        value = None
    return value if isinstance(value, int) and value > 0 else DEFAULT_MAX_PIXELS


class ImageStore:
    """Random access by key over a fetch output: `ImageStore(dir)[key] -> bytes`; the index is built once.

    :meth:`open` decodes under the fetch stage's own pixel limit (:func:`mella.fetch.images.open_stored_image`).
    """

    def __init__(self, stage_dir: str | Path, max_pixels: int | None = None):
        self.refs = {ref.key: ref for ref in iter_refs(stage_dir)}
        self.max_pixels = max_pixels or fetch_max_pixels(stage_dir)

    def __contains__(self, key: str) -> bool:
        return key in self.refs

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, key: str) -> bytes:
        return self.refs[key].read()

    def open(self, key: str):
        """The image as a loaded PIL Image; StoredImageError (with a drop reason) when it cannot be used."""
        return decode(self[key], self.max_pixels)


def open_image(stage_dir: str | Path, key: str) -> bytes:
    """The encoded bytes of one image by key (scans the key column; use ImageStore for many lookups)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    for part in _parts(stage_dir):
        table = pq.read_table(part, columns=["key", "tar_offset", "tar_size"])
        hits = table.filter(pc.equal(table["key"], key))
        if hits.num_rows:
            return read_at(part.with_suffix(".tar"), hits["tar_offset"][0].as_py(), hits["tar_size"][0].as_py())
    raise KeyError(key)


def decode(data: bytes, max_pixels: int | None = None):
    """Encoded image bytes as a PIL Image (loaded), under the fetch limits; else StoredImageError."""
    from mella.fetch.images import DEFAULT_MAX_PIXELS, open_stored_image

    return open_stored_image(data, max_pixels or DEFAULT_MAX_PIXELS)
