"""``python -m mella.demo`` (what ``make demo`` runs): the main job on the bundled example, offline.

Serves the real example sites from ``examples/sites`` on a local HTTP server that it starts and stops
itself, runs ``examples/demo.yaml`` into ``runs/demo`` and prints where the outputs are.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

# A fixed port keeps the seed URLs identical between runs, so a second `make demo` resumes.
DEMO_PORT = 8737
REAL_MODELS = {"MELLA_CAPTION_MODEL": "Qwen/Qwen2.5-VL-3B-Instruct",
               "MELLA_MT_MODEL": "facebook/nllb-200-distilled-600M",
               "MELLA_SCORE_MODEL": "google/siglip-base-patch16-256-multilingual"}
TINY_MODELS = {"MELLA_CAPTION_MODEL": "qwen2-vl", "MELLA_MT_MODEL": "nllb", "MELLA_SCORE_MODEL": "siglip"}
# Tiny-model translations are noise in no language: only the prompt-echo check can mean anything. Real
# translations get every check (the report lists the checks each translate stage ran).
TINY_CHECKS = "echo"


def real_settings() -> dict[str, str]:
    """The pipeline variables of ``--real-models``: hub ids, every translation check, and LoRA training
    (examples/train-real.yaml, whose merged model ``predict_tuned`` reads). Nothing is downloaded here."""
    from mella.annotate.checks import CHECKS

    return {**REAL_MODELS, "MELLA_MAX_NEW_TOKENS": "256", "MELLA_MT_CHECKS": ",".join(CHECKS),
            "MELLA_TRAIN_CONFIG": "train-real.yaml", "MELLA_TUNED_DIR": "merged"}


def _model_env(run_dir: Path, real: bool) -> dict[str, str]:
    """Model ids for the pipeline: real hub ids, or tiny random models made here (offline, meaningless)."""
    if real:
        return real_settings()
    from mella.models.tiny import make_tiny

    folder = run_dir / "_models"
    env = {name: str(make_tiny(kind, folder / kind)) for name, kind in TINY_MODELS.items()}
    env.update(MELLA_MT_CHECKS=TINY_CHECKS, MELLA_TRAIN_CONFIG="train-demo.yaml", MELLA_TUNED_DIR="model")
    print("models: TINY RANDOM test models (offline); their captions and translations are noise, "
          "labelled tiny-random on every row. Use --real-models with a model hub for real ones.")
    print(f"translate checks: only {TINY_CHECKS} (the others judge the output language and length, "
          "which tiny-model noise cannot pass); --real-models runs them all")
    return env


def _start_server(sites_dir: Path):
    from mella.demo.siteserver import SiteServer, load_sites

    sites = load_sites(sites_dir)
    try:
        return SiteServer(sites, port=DEMO_PORT).start(), True
    except OSError:  # the port is taken: any free port, and a fresh run folder
        return SiteServer(sites, port=0).start(), False


def _print_samples(run_dir: Path) -> None:
    import pyarrow.parquet as pq

    stage = next((s for s in ("dedup", "filter", "collect") if (run_dir / s / "_SUCCESS").exists()), None)
    parts = sorted((run_dir / stage).glob("part-*.parquet")) if stage else []
    if not parts:
        return
    lang_col = "lang" if stage != "collect" else "html_lang"
    table = pq.read_table(parts, columns=[lang_col, "alt", "image_url"]).to_pylist()
    print(f"\nsample alt-texts kept after {stage} (native, from the crawled pages):")
    seen: set[str] = set()
    for row in table:
        if row[lang_col] not in seen:
            seen.add(row[lang_col])
            print(f"  [{row[lang_col]}] {row['alt'][:70]!r}  <- {row['image_url'].rsplit('/', 1)[-1]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mella.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--examples", default="examples", help="folder with demo.yaml and sites/")
    parser.add_argument("--run-dir", default="runs/demo")
    parser.add_argument("--pipeline", default=None, help="pipeline file (default: <examples>/demo.yaml)")
    parser.add_argument("--fresh", action="store_true", help="delete the run folder first")
    parser.add_argument("--real-models", action="store_true",
                        help="use real hub models (needs a model hub and a GPU) instead of tiny random ones")
    args = parser.parse_args(argv)

    from mella.cli import main as mella_main

    examples, run_dir = Path(args.examples), Path(args.run_dir)
    server, fixed_port = _start_server(examples / "sites")
    if args.fresh or not fixed_port:
        if run_dir.exists() and any(run_dir.iterdir()) and not (run_dir / "run.json").exists():
            server.stop()  # a folder that is not a run folder is never deleted: it may be anything
            print(f"mella demo: error: {run_dir} is not a run folder (no run.json); name another --run-dir",
                  file=sys.stderr)
            return 2
        shutil.rmtree(run_dir, ignore_errors=True)
    print(f"serving {len(server.sites)} example sites at {server.base_url}/ (stopped when the demo ends)")
    os.environ["MELLA_DEMO_URL"] = server.base_url
    os.environ["MELLA_DEMO_HOST"] = server.host_port
    os.environ.update(_model_env(run_dir, args.real_models))
    try:
        rc = mella_main(["run", args.pipeline or str(examples / "demo.yaml"), "--run-dir", str(run_dir)])
    finally:
        server.stop()
    if rc == 0:
        _print_samples(run_dir)
        print(f"\noutputs: {run_dir}/  (run.json, one folder per stage with parquet parts and stats.json)")
        report = run_dir / "report" / "report.html"
        if report.exists():
            print(f"report:  {report}  (open it in a browser)")
    return rc


if __name__ == "__main__":
    sys.exit(main())
