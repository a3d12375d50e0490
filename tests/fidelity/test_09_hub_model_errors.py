"""Item 9: a hub model id that cannot be loaded is one line naming the model, the cause and what to do (exit 2).

Before the fix: ``mella: internal error: OSError: We couldn't connect to 'https://huggingface.co' ...`` (exit 1).
The sandbox has no hub, so real ids fail for real. The CLI runs as a real process (huggingface_hub reads
HF_HUB_OFFLINE and HF_ENDPOINT when it is imported) with an empty HF cache. Offline: HF_HUB_OFFLINE=1. Online:
HF_ENDPOINT points at a small hub on loopback that answers "not found" or "gated" the way huggingface.co does
(X-Error-Code), or at a closed port (unreachable).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from mella.records import IMAGES

pytest.importorskip("transformers", reason="the models extra is not installed")

QWEN = "Qwen/Qwen2-VL-2B-Instruct"
LOCAL = "or pass the path of a local copy (a folder with config.json)"


def _mella(args: list[str], cwd: Path, **env: str) -> tuple[int, str]:
    """``mella ARGS`` as a process with an empty HF cache and ``env``; (exit code, stderr)."""
    import os

    full = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    full.update(HF_HOME=str(cwd / "hf-home"), **env)
    code = f"import sys; from mella.cli import main; sys.exit(main({args!r}))"
    # The timeout only guards against a hang; nothing here asserts how long a run takes.
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=full, capture_output=True, text=True,
                          timeout=240)
    return proc.returncode, proc.stderr


def _one_line(rc: int, err: str) -> str:
    assert rc == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    return err.strip().splitlines()[-1]


@pytest.fixture
def inputs(tmp_path) -> Path:
    """A folder of what fetch writes (caption and score read it), one of captions (translate), a train config."""
    row = dict.fromkeys(IMAGES.names)
    row.update(key="0123456789abcdef0123", image_url="http://127.0.0.1/a.png", alt="a", lang="ru", status="ok")
    (tmp_path / "fetch").mkdir()
    pq.write_table(pa.Table.from_pylist([row], schema=IMAGES), tmp_path / "fetch" / "part-00000.parquet")
    (tmp_path / "captions").mkdir()
    pq.write_table(pa.Table.from_pylist([{"key": row["key"], "lang": "ru", "caption": "A cat on a mat."}]),
                   tmp_path / "captions" / "part-00000.parquet")
    (tmp_path / "samples").mkdir()
    (tmp_path / "train.yaml").write_text(yaml.safe_dump({
        "model": {"name": QWEN}, "data": {"samples": "samples"}, "output": {"dir": "trained"},
        "train": {"device": "cpu"}}))
    return tmp_path


COMMANDS = {
    "caption": (["caption", "fetch", "--out", "out", "--model", QWEN, "-j", "1"], QWEN),
    "translate": (["translate", "captions", "--out", "out", "-j", "1"], "facebook/nllb-200-distilled-600M"),
    "score": (["score", "fetch", "--out", "out", "-j", "1"], "google/siglip-base-patch16-256-multilingual"),
    "train": (["train", "train.yaml"], QWEN),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_09_offline_hub_id_is_one_line_with_model_cause_and_what_to_do(inputs, command):
    args, model = COMMANDS[command]
    line = _one_line(*_mella(args, inputs, HF_HUB_OFFLINE="1"))
    assert line == (f"mella: error: model {model} cannot be loaded: not in the local cache and HF_HUB_OFFLINE=1 "
                    f"forbids downloading; download it first (hf download {model}, with HF_HUB_OFFLINE unset), "
                    f"{LOCAL}")


class _Hub(BaseHTTPRequestHandler):
    """Answers every request the way huggingface.co answers for a missing or a gated repository."""

    error_code = "RepoNotFound"

    def _answer(self):
        self.send_response(403 if self.error_code == "GatedRepo" else 404)
        self.send_header("X-Error-Code", self.error_code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def hub():
    """A loopback hub; yields a function that sets its answer and returns its endpoint."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def answering(error_code: str) -> str:
        _Hub.error_code = error_code
        return f"http://127.0.0.1:{server.server_port}"

    yield answering
    server.shutdown()
    server.server_close()


def test_09_hub_says_not_found(inputs, hub):
    line = _one_line(*_mella(COMMANDS["caption"][0], inputs, HF_ENDPOINT=hub("RepoNotFound")))
    assert line == (f"mella: error: model {QWEN} cannot be loaded: no such model on the hub (or a private one); "
                    f"check the id (org/name), log in for a private model (HF_TOKEN), {LOCAL}")


def test_09_hub_says_gated(inputs, hub):
    line = _one_line(*_mella(COMMANDS["train"][0], inputs, HF_ENDPOINT=hub("GatedRepo")))
    assert line == (f"mella: error: model {QWEN} cannot be loaded: the repository is gated; accept its conditions "
                    f"on huggingface.co and log in (hf auth login, or set HF_TOKEN), {LOCAL}")


def test_09_unreachable_hub_without_offline_mode_ends_with_the_line(inputs):
    # Nothing listens on port 9 of loopback: every connection is refused. huggingface_hub retries with
    # back-off (about half a minute) and then gives up; the run must end, with the one line.
    line = _one_line(*_mella(COMMANDS["caption"][0], inputs, HF_ENDPOINT="http://127.0.0.1:9",
                             HF_HUB_ETAG_TIMEOUT="2", HF_HUB_DOWNLOAD_TIMEOUT="2"))
    assert line == (f"mella: error: model {QWEN} cannot be loaded: not in the local cache and the hub cannot be "
                    f"reached; download it where the hub is reachable (hf download {QWEN}), then set "
                    f"HF_HUB_OFFLINE=1, {LOCAL}")
