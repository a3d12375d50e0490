"""Small real stages used to test the executor, the run folder and the CLI."""

from __future__ import annotations

import time

import pyarrow as pa
from pydantic import Field

from mella.pipeline.stage import Stage, StageOptions, runtime_option

LINES = pa.schema([("file", pa.string()), ("lineno", pa.int64()), ("text", pa.string())])


class LinesOptions(StageOptions):
    min_chars: int = Field(1, ge=0, description="Drop lines shorter than this.")
    upper: bool = Field(False, description="Upper-case the text.")
    delay: float = runtime_option(0.0, ge=0, description="Seconds to sleep per batch (to test killing a run).")
    tags: list[str] = Field(default_factory=list, description="Tags to count.")


class LinesStage(Stage):
    """Read text files: one row per line; drop short lines."""

    name = "lines"
    reads = "files"
    schema = LINES
    Options = LinesOptions
    batch_size = 50

    def read(self, shard):
        name = shard.name
        with open(shard.uri, encoding="utf-8") as fh:
            batch = []
            for i, line in enumerate(fh, 1):
                batch.append({"file": name, "lineno": i, "text": line.rstrip("\n")})
                if len(batch) >= self.batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch

    def process(self, rows, out):
        if self.options.delay:
            time.sleep(self.options.delay)
        for row in rows:
            out.count("lines_read")
            if len(row["text"]) < self.options.min_chars:
                out.drop(row, "too_short")
                continue
            if self.options.upper:
                row = {**row, "text": row["text"].upper()}
            out.keep(row)


class LengthOptions(StageOptions):
    max_chars: int = Field(1000, ge=1, description="Drop rows longer than this.")


class LengthStage(Stage):
    """Add the text length; a row stage that extends its input schema."""

    name = "length"
    Options = LengthOptions

    def output_schema(self, input_schema):
        return input_schema.append(pa.field("n_chars", pa.int64()))

    def process(self, rows, out):
        for row in rows:
            n = len(row["text"])
            if n > self.options.max_chars:
                out.drop({**row, "n_chars": n}, "too_long")
            else:
                out.keep({**row, "n_chars": n})


class ExplodingStage(Stage):
    """Fails on a line that says 'boom' (a programmer error, not bad input)."""

    name = "exploding"
    reads = "files"
    schema = LINES

    def read(self, shard):
        return LinesStage.read(self, shard)

    def process(self, rows, out):
        for row in rows:
            if row["text"] == "boom":
                raise ValueError("boom")
            out.keep(row)

    batch_size = 50


class FirstSeenStage(Stage):
    """Keep a line only in the first shard (in input order) where its text occurs: a cross-shard global step."""

    name = "first-seen"
    schema = LINES

    def prepare(self, shards, stage_dir):
        import pyarrow.parquet as pq

        first: dict[str, int] = {}
        for i, shard in enumerate(shards):
            for text in pq.read_table(shard.uri, columns=["text"])["text"].to_pylist():
                first.setdefault(text, i)
        self.first = first
        self.shard_index = {s.uri: i for i, s in enumerate(shards)}

    def read(self, shard):
        index = self.shard_index[shard.uri]
        for rows in super().read(shard):
            yield [{**r, "_shard": index} for r in rows]

    def process(self, rows, out):
        for row in rows:
            index = row.pop("_shard")
            if self.first[row["text"]] == index:
                out.keep(row)
            else:
                out.drop(row, "seen_in_earlier_shard")


def make_inputs(folder, n_files: int = 6, lines: int = 120):
    """Text files whose lines are deterministic, with some short ones that the stage drops."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(n_files):
        body = "\n".join(("x" if i % 10 == 0 else f"file {f} line {i} ") for i in range(lines))
        (folder / f"in-{f:02d}.txt").write_text(body + "\n", encoding="utf-8")
    return folder
