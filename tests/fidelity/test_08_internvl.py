"""Item 8: InternVL, the paper's backbone, did not load (no tiny model, no option for its remote-code checkpoints).

The transformers-native InternVL (``InternVLForConditionalGeneration``, the ``-hf`` ids) now has a tiny random
model built from its config, captions real fetched images through the hf backend, is fine-tuned with LoRA by
``mella train`` and read back by ``mella predict``. The original InternVL2 checkpoints run their repository's
Python code: a local repository with such code is refused in one line without ``trust_remote_code``, and is
loaded (its code really runs) with it; the tiling done for them matches transformers' InternVL processor.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("transformers", reason="the models extra is not installed")
torch = pytest.importorskip("torch")

from mella.annotate.caption import CaptionStage  # noqa: E402
from mella.cli import main  # noqa: E402
from mella.demo.siteserver import SiteServer, load_sites  # noqa: E402
from mella.errors import MellaError  # noqa: E402
from mella.evaluate.predict import PredictStage  # noqa: E402
from mella.fetch.fetch import FetchStage, image_key  # noqa: E402
from mella.models import internvl  # noqa: E402
from mella.models.base import GenOptions, GenRequest  # noqa: E402
from mella.models.hf import HFBackend, RemoteCodeError  # noqa: E402
from mella.pipeline.local import LocalExecutor  # noqa: E402
from mella.pipeline.runner import run_stage  # noqa: E402
from mella.records import PAIRS, SAMPLES  # noqa: E402

SITES = Path(__file__).resolve().parents[2] / "examples" / "sites"
SITE = "ru__raspberrypilearning__lost-in-space"
ANSWERS = ["Космический корабль среди звёзд", "Обезьяна в скафандре", "Астероид и звёздное небо",
           "Ракета летит к Луне", "Планета с кольцами", "Спутник над Землёй", "Комета в ночном небе",
           "Космонавт машет рукой"]


def run(stage, inputs, out):
    return run_stage(stage, [str(inputs)], out, LocalExecutor(1, progress=False))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A fetch output with 8 real images of an example site, and SAMPLES rows over them (6 train, 2 test)."""
    root = tmp_path_factory.mktemp("internvl")
    images = sorted((SITES / SITE).rglob("*.png"))[:8]
    with SiteServer(load_sites(SITES)) as server:
        urls = [f"{server.base_url}/{SITE}/{p.relative_to(SITES / SITE).as_posix()}" for p in images]
        pairs = [dict(dict.fromkeys(PAIRS.names), image_url=u, alt=a, lang="ru", page_url=u)
                 for u, a in zip(urls, ANSWERS, strict=True)]
        (root / "pairs").mkdir()
        pq.write_table(pa.Table.from_pylist(pairs, schema=PAIRS), root / "pairs" / "p.parquet")
        run(FetchStage(allow_hosts=[server.host_port]), root / "pairs", root / "fetch")
    samples = [{"id": f"s{i}", "key": image_key(u), "lang": "ru", "source": "know", "instruction": "Опишите изображение.",
                "response": a, "split": "test" if i >= 6 else "train"}
               for i, (u, a) in enumerate(zip(urls, ANSWERS, strict=True))]
    (root / "samples").mkdir()
    pq.write_table(pa.Table.from_pylist(samples, schema=SAMPLES), root / "samples" / "part-00000.parquet")
    return root


@pytest.fixture(scope="module")
def tiny_internvl(tmp_path_factory):
    from mella.models.tiny import make_tiny

    return make_tiny("internvl", tmp_path_factory.mktemp("tiny") / "internvl")


def test_08_tiny_internvl_is_the_transformers_native_architecture(tiny_internvl):
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(tiny_internvl)
    processor = AutoProcessor.from_pretrained(tiny_internvl)
    assert type(model).__name__ == "InternVLForConditionalGeneration" and model.config.model_type == "internvl"
    assert type(processor).__name__ == "InternVLProcessor"
    # A 4:1 image is cut into a 4x1 grid plus a thumbnail: 5 tiles of 4 context tokens between <img> and </img>.
    text = processor.apply_chat_template([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "?"}]}],
                                         add_generation_prompt=True, tokenize=False)
    assert text == "<|im_start|>user\n<IMG_CONTEXT>\n?<|im_end|>\n<|im_start|>assistant\n"
    inputs = processor(text=[text], images=[Image.new("RGB", (128, 32), (200, 30, 30))], return_tensors="pt")
    ids = inputs["input_ids"][0].tolist()
    assert ids.count(model.config.image_token_id) == 5 * 4 and tuple(inputs["pixel_values"].shape) == (5, 3, 32, 32)


def test_08_internvl_captions_fetched_images_through_the_hf_backend(site, tiny_internvl):
    report = run(CaptionStage(model=str(tiny_internvl), max_new_tokens=8, cache=False), site / "fetch",
                 site / "caption")
    rows = [r for f in sorted((site / "caption").glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]
    assert len(rows) == 8 and all(r["caption"] for r in rows)
    assert {r["caption_model"] for r in rows} == {"tiny-random:internvl"}
    assert report.counters["model_calls"] == 8


def test_08_internvl_batched_generation_equals_one_by_one(site, tiny_internvl):
    from mella.fetch.wds import ImageStore

    store = ImageStore(site / "fetch")
    keys = [r["key"] for r in pq.read_table(site / "samples").to_pylist()][:3]
    requests = [GenRequest(prompt="Опишите изображение.", image=store.open(k)) for k in keys]
    options = GenOptions(max_new_tokens=6)
    batched = HFBackend(model=str(tiny_internvl), device="cpu", batch_size=3).generate(requests, options)
    single = HFBackend(model=str(tiny_internvl), device="cpu", batch_size=1).generate(requests, options)
    assert batched == single and all(batched)


def test_08_max_tiles_sets_internvl_dynamic_tiling(tiny_internvl):
    from PIL import Image

    backend = HFBackend(model=str(tiny_internvl), device="cpu", max_tiles=1)
    processor = backend.loaded.processor
    assert processor.image_processor.max_patches == 1
    text = processor.apply_chat_template([{"role": "user", "content": [{"type": "image"}]}], tokenize=False)
    inputs = processor(text=[text], images=[Image.new("RGB", (128, 32))], return_tensors="pt")
    assert inputs["pixel_values"].shape[0] == 1


def _train_config(model, site, out, **train) -> dict:
    return {"method": "lora", "model": {"name": str(model)},
            "data": {"samples": str(site / "samples"), "images": str(site / "fetch"), "eval_split": None,
                     "max_pixels": 56 * 56},
            "output": {"dir": str(out)},
            "optim": {"lr": 1e-2, "warmup_ratio": 0.0, "scheduler": "constant"},
            "train": {"max_steps": 12, "batch_size": 3, "logging_steps": 1, "save_steps": None, "device": "cpu",
                      "resume": False, **train}}


def test_08_internvl_lora_sft_lowers_the_loss_and_predict_reads_the_result(site, tiny_internvl, tmp_path):
    pytest.importorskip("trl")
    pytest.importorskip("peft")
    from mella.train.config import parse_config
    from mella.train.model import parts
    from mella.train.sft import SFTRecipe

    torch.set_num_threads(1)
    recipe = SFTRecipe(parse_config(_train_config(tiny_internvl, site, tmp_path / "out"))).setup()
    p = parts(recipe.trainer.model.get_base_model())
    assert (p.language, p.vision, p.projector) == ("model.language_model", ["model.vision_tower"],
                                                   ["model.multi_modal_projector"])
    lora = [n for n, _ in recipe.trainer.model.named_parameters() if "lora_" in n]
    assert lora and all(".language_model." in n for n in lora)  # LoRA on the language model only
    result = recipe.train().save()
    losses = result["losses"]["train"]
    assert len(losses) == 12 and sum(losses[-3:]) / 3 < 0.9 * sum(losses[:3]) / 3

    merged = result["outputs"]["model"]
    assert json.loads((Path(merged) / "config.json").read_text())["architectures"] == ["InternVLForConditionalGeneration"]
    report = run(PredictStage(model=merged, images=str(site / "fetch"), max_new_tokens=8), site / "samples",
                 tmp_path / "predict")
    rows = pq.read_table(tmp_path / "predict" / "part-00000.parquet").to_pylist()
    assert sorted(r["id"] for r in rows) == ["s6", "s7"] and all(r["prediction"] for r in rows)
    assert report.counters["model_calls"] == 2


# -- remote-code InternVL2 -------------------------------------------------------------------------

REMOTE_CONFIG = '''
from transformers import PretrainedConfig


class InternVLChatConfig(PretrainedConfig):
    model_type = "internvl_chat"

    def __init__(self, force_image_size=448, max_dynamic_patch=12, use_thumbnail=True, **kwargs):
        super().__init__(**kwargs)
        self.force_image_size, self.max_dynamic_patch, self.use_thumbnail = force_image_size, max_dynamic_patch, use_thumbnail
        self.loaded_by_remote_code = True
'''


@pytest.fixture
def remote_repo(tmp_path) -> Path:
    """A checkpoint folder laid out like OpenGVLab/InternVL2-8B: its config class lives in the repository's code."""
    folder = tmp_path / "InternVL2-tiny"
    folder.mkdir()
    (folder / "configuration_internvl_chat.py").write_text(REMOTE_CONFIG)
    (folder / "config.json").write_text(json.dumps({
        "architectures": ["InternVLChatModel"], "model_type": "internvl_chat", "force_image_size": 448,
        "max_dynamic_patch": 6, "use_thumbnail": True,
        "auto_map": {"AutoConfig": "configuration_internvl_chat.InternVLChatConfig",
                     "AutoModel": "modeling_internvl_chat.InternVLChatModel"}}))
    return folder


def test_08_remote_code_checkpoint_without_the_option_is_one_line(remote_repo, tmp_path, capsys):
    with pytest.raises(RemoteCodeError) as err:
        _ = HFBackend(model=str(remote_repo)).task
    message = str(err.value)
    assert "\n" not in message and err.value.exit_code == 2
    assert message.startswith(f"model {remote_repo} runs Python code from its own repository")
    assert "trust_remote_code: true" in message and "-hf" in message
    # Through the CLI: one line, exit 2, no traceback (a real fetch-shaped folder is not even needed to get there).
    from mella.records import IMAGES

    row = dict.fromkeys(IMAGES.names)
    row.update(key="0123456789abcdef0123", image_url="http://127.0.0.1/a.png", alt="a", lang="ru", status="ok")
    (tmp_path / "fetch").mkdir()
    pq.write_table(pa.Table.from_pylist([row], schema=IMAGES), tmp_path / "fetch" / "part-00000.parquet")
    code = main(["caption", str(tmp_path / "fetch"), "--out", str(tmp_path / "cap"), "--model", str(remote_repo),
                 "-j", "1"])
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "Traceback" not in "\n".join(err_lines)
    assert "trust_remote_code" in err_lines[-1] and "internal error" not in err_lines[-1]


def test_08_trust_remote_code_is_validated_and_passed_through(remote_repo):
    from mella.annotate.caption import CaptionOptions

    with pytest.raises(Exception, match="trust_remote_code"):
        CaptionOptions(model=str(remote_repo), model_options={"trust_remote_code": "yes"})
    backend = HFBackend(model=str(remote_repo), trust_remote_code=True)
    assert backend.config.loaded_by_remote_code is True  # the repository's own configuration code ran
    assert backend.task == "vlm"
    assert internvl.settings(backend.config, None) == {"image_size": 448, "max_num": 6, "use_thumbnail": True}
    assert internvl.settings(backend.config, 2)["max_num"] == 2


def test_08_training_refuses_remote_code_internvl_in_one_line(remote_repo, site, tmp_path):
    from mella.train.config import parse_config
    from mella.train.model import load

    doc = _train_config(remote_repo, site, tmp_path / "out")
    with pytest.raises(RemoteCodeError, match="model.trust_remote_code: true"):
        load(parse_config(doc), on_gpu=False)
    doc["model"]["trust_remote_code"] = True
    with pytest.raises(MellaError, match="InternVL remote-code checkpoint: mella trains the transformers-native"):
        load(parse_config(doc), on_gpu=False)


@pytest.mark.parametrize("max_num", [1, 4, 6, 12])
def test_08_remote_code_tiling_matches_the_transformers_internvl_processor(max_num):
    from transformers.models.got_ocr2.image_processing_got_ocr2 import get_optimal_tiled_canvas

    sizes = [(w, h) for w in (20, 100, 448, 500, 900, 1344, 2000) for h in (20, 90, 448, 640, 1000, 3000)]
    for w, h in sizes:
        assert internvl.grid(w, h, 448, 1, max_num) == get_optimal_tiled_canvas((h, w), (448, 448), 1, max_num)


def test_08_remote_code_pixel_values_of_real_images(site):
    from mella.fetch.wds import ImageStore

    store = ImageStore(site / "fetch")
    images = [store.open(r["key"]) for r in pq.read_table(site / "samples").to_pylist()[:3]]
    x, counts = internvl.pixel_values(images, 448, 6)
    expected = [len(internvl.tiles(img, 448, 6)) for img in images]
    assert counts == expected and x.shape == (sum(expected), 3, 448, 448)
    for img, n in zip(images, counts, strict=True):
        cols, rows = internvl.grid(img.width, img.height, 448, 1, 6)
        assert n == (cols * rows + 1 if cols * rows > 1 else 1)   # the grid, plus a thumbnail when cut
    assert -2.2 < float(x.min()) and float(x.max()) < 2.7   # ImageNet-normalised
