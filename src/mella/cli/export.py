"""``mella export BUILD_DIR --format hf|llava|sharegpt|swift|wds --out DIR``: a build in a trainer's format."""

from __future__ import annotations

import click

from mella.cli.verbose import verbose_option

FORMATS = ("hf", "llava", "sharegpt", "swift", "wds")


@click.command("export")
@click.argument("build_dir")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="Output format.")
@click.option("--out", "-o", required=True, help="Output folder (data files, images, README.md card).")
@click.option("--images", default=None, help="Fetch folder with the image tars (default: the one the build recorded).")
@click.option("--name", default="mella", show_default=True, help="Dataset name (file names, LLaMA-Factory entries).")
@click.option("--overwrite", is_flag=True, help="Delete what --out holds first.")
@verbose_option
def command(build_dir: str, fmt: str, out: str, images: str | None, name: str, overwrite: bool) -> None:
    """Export the samples of BUILD_DIR (a `mella build` output) with their images and a dataset card.

    hf: parquet with an Image feature + save_to_disk; llava: JSON + images/; sharegpt: JSON + LLaMA-Factory
    dataset_info.json; swift: ms-swift JSONL (messages + images); wds: WebDataset tars.
    """
    from mella.dataset.export import export

    result = export(build_dir, fmt, out, images=images, overwrite=overwrite, name=name)
    counts = ", ".join(f"{split} {n}" for split, n in result["counts"].items())
    click.echo(f"{fmt}: {counts} samples -> {out}  (card: {result['card']})")
