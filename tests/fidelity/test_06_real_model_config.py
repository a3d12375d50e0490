"""Item 6 of issue #16: `python -m mella.demo --real-models` reused examples/train-demo.yaml, i.e. full
fine-tuning of Qwen2.5-VL-3B at lr 1e-3, and the offline demo's `echo`-only translation checks went unsaid.

The real-model settings are resolved here exactly as `mella run` resolves them (examples/demo.yaml, then the
train step's config), with nothing downloaded: LoRA at a published recipe's lr and schedule, every check on.
"""

from __future__ import annotations

from pathlib import Path

from mella.annotate.checks import CHECKS
from mella.config import load_pipeline
from mella.demo.__main__ import REAL_MODELS, real_settings
from mella.train.config import load_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _resolve(monkeypatch, tmp_path, settings):
    for name, value in {**settings, "MELLA_DEMO_URL": "http://127.0.0.1:8737",
                        "MELLA_DEMO_HOST": "127.0.0.1:8737", "MELLA_RUN_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    pipeline = load_pipeline(str(EXAMPLES / "demo.yaml"), run_dir=str(tmp_path))
    stages = {s.id: s.options for s in pipeline.stages}
    (tmp_path / "build").mkdir(exist_ok=True)  # what the train step reads; its overrides, as TrainStep sets them
    overrides = {"data.samples": str(tmp_path / "build"), "output.dir": str(tmp_path / "train")}
    return stages, load_config(stages["train"].config, overrides)


def test_real_models_demo_trains_lora_at_a_recipe_lr_not_full_finetuning_at_1e3(monkeypatch, tmp_path):
    stages, train = _resolve(monkeypatch, tmp_path, real_settings())
    assert Path(stages["train"].config).name == "train-real.yaml"
    assert train.model.name == REAL_MODELS["MELLA_CAPTION_MODEL"]
    assert train.method == "lora" and 16 <= train.lora.r <= 64
    assert 1e-4 <= train.optim.lr <= 2e-4
    assert train.optim.scheduler == "cosine" and 0.01 <= train.optim.warmup_ratio <= 0.1
    assert 1 <= train.train.epochs <= 3 and train.train.max_steps == -1
    assert train.freeze.vision
    # LoRA saves the merged model, and the tuned predictions read exactly that folder
    assert train.output.save_merged
    assert Path(stages["predict_tuned"].model) == Path(train.output.dir) / "merged"


def test_real_models_demo_runs_every_translation_check(monkeypatch, tmp_path):
    stages, _ = _resolve(monkeypatch, tmp_path, real_settings())
    assert tuple(stages["translate"].checks) == CHECKS


def test_real_settings_override_what_an_offline_demo_left_in_the_environment(monkeypatch, tmp_path):
    # `make demo` then `--real-models` in one process (or a shell with the offline values exported)
    monkeypatch.setenv("MELLA_MT_CHECKS", "echo")
    monkeypatch.setenv("MELLA_TRAIN_CONFIG", "train-demo.yaml")
    stages, train = _resolve(monkeypatch, tmp_path, real_settings())
    assert tuple(stages["translate"].checks) == CHECKS and train.method == "lora"


def test_report_says_which_translation_checks_ran_and_which_the_demo_turned_off(demo_run):
    html = (demo_run / "report" / "report.html").read_text(encoding="utf-8")
    assert 'id="translate-checks-translate"' in html
    section = html.split('id="translate-checks-translate"', 1)[1].split("</p>", 1)[0]
    assert "ran echo" in section and "turned off: copy, length, language" in section
