"""Helpers of the rating-app tests: a small synthetic run folder (fetch tars of real images, a build folder and two
predictions folders), a uvicorn server on a free loopback port, and a cookie-keeping HTTP client."""

from __future__ import annotations

import http.client
import io
import json
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from mella.fetch.wds import TarWriter

EXAMPLE_SITES = Path(__file__).resolve().parents[2] / "examples" / "sites"
HOSTILE = '<script>alert("alt")</script><img src=x onerror=alert(2)>'
# Alt-texts as a Thai and an Arabic page could carry them (written for these tests).
THAI = ["ยานอวกาศบินผ่านดวงจันทร์", "นักบินอวกาศกับดาวเทียม", "ดาวเคราะห์สีฟ้าในอวกาศ", "หมุนตัวละครบนเวที",
        "ทดสอบขนาดของยานอวกาศ", "ฉากหลังอวกาศสีดำ", "ตัวละครยานอวกาศ", "ภาพหน้าจอโปรแกรม Scratch",
        "สีของดาวเคราะห์", "อุกกาบาตกำลังหมุน"]
ARABIC = ["سفينة فضاء تطير فوق الأرض", "قرد يسبح في الفضاء", "نجمة لامعة في السماء"]
TRANSLATIONS = {"th": "ภาพการ์ตูนของยานอวกาศ", "ar": "صورة كرتونية لسفينة فضاء"}


def real_images(sites: list[str], n: int) -> list[bytes]:
    """``n`` real PNGs of the example sites (in that order) as JPEG bytes (what fetch stores), the smallest first."""
    files = [f for site in sites for f in sorted((EXAMPLE_SITES / site).rglob("*.png"),
                                                 key=lambda p: (p.stat().st_size, p.name))][:n]
    out = []
    for f in files:
        img = Image.open(f).convert("RGBA")
        flat = Image.new("RGB", img.size, "white")
        flat.paste(img, mask=img.getchannel("A"))
        buf = io.BytesIO()
        flat.save(buf, "JPEG", quality=85)
        out.append(buf.getvalue())
    assert len(out) == n, f"{sites} have fewer than {n} images"
    return out


def _commit(folder: Path, rows: list[dict[str, Any]]) -> None:
    """One committed part (parquet + its marker) and the stage's _SUCCESS."""
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-00000.parquet")
    (folder / "part-00000._SUCCESS").write_text(json.dumps({"part": "part-00000", "rows": len(rows)}),
                                                encoding="utf-8")
    (folder / "_SUCCESS").touch()


def make_run(root: Path, texts: dict[str, list[str]] | None = None, systems: tuple[str, str] = ("base", "tuned"),
             ) -> Path:
    """A run folder: ``fetch`` (one tar of real images), ``build`` (a know and a ling sample per image) and
    ``predict_<system>`` for both systems (a prediction per know sample), for each language of ``texts``."""
    texts = texts or {"th": THAI, "ar": ARABIC}
    run = root / "run"
    fetched, samples, predictions = [], [], {s: [] for s in systems}
    (run / "fetch").mkdir(parents=True)
    sites = {"th": ["th__raspberrypilearning__lost-in-space", "ko__raspberrypilearning__lost-in-space"],
             "ar": ["ar__raspberrypilearning__lost-in-space"]}
    with TarWriter(run / "fetch" / "part-00000.tar") as tar:
        for lang, alts in texts.items():
            for i, (alt, data) in enumerate(zip(alts, real_images(sites.get(lang, sites["th"]), len(alts)),
                                                strict=True)):
                key = f"{lang}{i:04d}"
                offset, size = tar.add(key, "jpg", data, {"key": key})
                fetched.append({"key": key, "tar_offset": offset, "tar_size": size, "lang": lang})
                sid = f"{lang}-{i:02d}"
                samples.append({"id": f"{sid}-know", "key": key, "lang": lang, "source": "know",
                                "instruction": "อธิบายภาพนี้" if lang == "th" else "صف هذه الصورة",
                                "response": alt, "split": "test", "variant": "alt", "caption": None})
                samples.append({"id": f"{sid}-ling", "key": key, "lang": lang, "source": "ling",
                                "instruction": "Describe", "response": f"{TRANSLATIONS[lang]} {i}", "split": "test",
                                "variant": "translation", "caption": f"A cartoon of a spaceship, number {i}."})
                for n, system in enumerate(systems):
                    predictions[system].append({"id": f"{sid}-know", "lang": lang, "source": "know",
                                                "prediction": f"{alt} #{n + 1}", "references": [alt],
                                                "model": system})
    _commit(run / "fetch", fetched)
    _commit(run / "build", samples)
    for system, rows in predictions.items():
        _commit(run / f"predict_{system}", rows)
    return run


class Server:
    """The rating app served by uvicorn in a thread on a free loopback port (``with Server(app) as s: s.port``)."""

    def __init__(self, app):
        self.app = app

    def __enter__(self) -> Server:
        import socket

        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


class Client:
    """HTTP/1.1 to the app, keeping its cookies; sends this origin's Origin header on POST unless told otherwise."""

    def __init__(self, port: int):
        self.port = port
        self.origin = f"http://127.0.0.1:{port}"
        self.cookies: dict[str, str] = {}
        self.set_cookie_headers: list[str] = []

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                origin: str | None = "same") -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = {"Host": f"127.0.0.1:{self.port}"}
        if method == "POST" and origin is not None:
            sent["Origin"] = self.origin if origin == "same" else origin
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        sent.update(headers or {})
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        data = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                self.set_cookie_headers.append(value)
                pair = value.split(";", 1)[0]
                key, _, val = pair.partition("=")
                if "max-age=0" in value.lower() or 'expires=thu, 01 jan 1970' in value.lower():
                    self.cookies.pop(key.strip(), None)
                else:
                    self.cookies[key.strip()] = val.strip().strip('"')
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def get(self, path: str, **kw) -> tuple[int, dict[str, str], bytes]:
        return self.request("GET", path, **kw)

    def login(self, name: str, token: str | None = None) -> int:
        """Sign in through the login form; returns the POST's status (303 when it worked)."""
        import re

        status, _, page = self.get("/login")
        assert status == 200
        csrf = re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode()
        form = {"csrf": csrf, "name": name, **({"token": token} if token is not None else {})}
        status, _, _ = self.request("POST", "/login", urlencode(form).encode(),
                                    {"Content-Type": "application/x-www-form-urlencoded"})
        return status

    def page_data(self, path: str) -> dict[str, Any]:
        """The JSON block of a page."""
        import re

        status, _, page = self.get(path)
        assert status == 200, (path, status, page[:200])
        found = re.search(rb'<script type="application/json" id="page-data">(.*?)</script>', page, re.S)
        return json.loads(found.group(1))

    def judge(self, data: dict[str, Any], question: str, value: str, comment: str = "",
              csrf: str | None = None, **kw) -> tuple[int, dict[str, Any]]:
        body = json.dumps({"item_id": data["item_id"], "question": question, "value": value,
                           "comment": comment}).encode()
        headers = {"Content-Type": "application/json"}
        if csrf is not None or data.get("csrf"):
            headers["X-CSRF-Token"] = csrf if csrf is not None else data["csrf"]
        status, _, answer = self.request("POST", "/api/judge", body, headers, **kw)
        return status, json.loads(answer or b"{}")
