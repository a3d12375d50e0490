"""The rating app at the HTTP level (uvicorn on a free loopback port): sign-in, CSRF and origin refusals, a
judgement on disk before the answer, image keys, inert hostile text, hidden system names, the bind rules."""

from __future__ import annotations

import json
import re
import sqlite3
from urllib.parse import quote, urlencode

import pytest

pytest.importorskip("starlette", reason="the rate extra is not installed")
pytest.importorskip("uvicorn", reason="the rate extra is not installed")

from ratekit import HOSTILE, THAI, Client, Server, make_run  # noqa: E402

from mella.cli import main  # noqa: E402
from mella.rate.app import Settings, create_app  # noqa: E402
from mella.rate.serve import build_store, gather_items  # noqa: E402
from mella.rate.store import RatingStore, default_path  # noqa: E402
from mella.rate.tasks import image_folder  # noqa: E402

SYSTEMS = ("SYSTEMALPHA", "SYSTEMBETA")  # names that must never reach a page
TOKEN = "team-token-123"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("rate-app")
    run = make_run(root, {"th": [HOSTILE, *THAI[1:4]]}, systems=SYSTEMS)
    pairs = [(name, run / f"predict_{name}") for name in SYSTEMS]
    gathered = gather_items(run, "th", pairwise=pairs, know=10, ling=10, seed=3)
    build_store(run, gathered.items)
    return run


@pytest.fixture(scope="module")
def server(run):
    app = create_app(default_path(run), image_folder(run), Settings(lang="th"))
    with Server(app) as srv:
        yield srv


@pytest.fixture(scope="module")
def token_server(run):
    app = create_app(default_path(run), image_folder(run), Settings(lang="th", token=TOKEN))
    with Server(app) as srv:
        yield srv


def judgements(run, rater_name: str) -> list[dict]:
    with RatingStore(default_path(run)) as store:
        return [j for j in store.judgements("th") if j["rater_name"] == rater_name]


def test_login_sets_a_strict_httponly_session(server):
    client = Client(server.port)
    status, headers, _ = client.get("/")
    assert status == 303 and headers["location"] == "/login"
    assert client.login("Somchai") == 303
    cookie = next(h for h in client.set_cookie_headers if h.startswith("mella_rate_session="))
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    status, headers, page = client.get("/")
    assert status == 200 and b"Somchai" in page
    for header, value in (("x-content-type-options", "nosniff"), ("x-frame-options", "DENY")):
        assert headers[header] == value
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert b"<script>" not in page  # no inline script: only the JSON block and /static/rate.js
    assert re.findall(rb"<script[^>]*>", page) == [b'<script type="application/json" id="page-data">',
                                                   b'<script src="/static/rate.js" defer>']


def test_login_form_refuses_forged_posts(server):
    client = Client(server.port)
    client.get("/login")
    form = urlencode({"name": "mallory", "csrf": "guessed"}).encode()
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.request("POST", "/login", form, form_type)[0] == 403          # the nonce is not the cookie's
    assert client.request("POST", "/login", form, form_type, origin="http://evil.example")[0] == 403
    assert client.request("POST", "/login", form, form_type, origin=None)[0] == 403  # no Origin, no Referer
    assert "mella_rate_session" not in client.cookies
    with sqlite3.connect(server.app.state.rate.store_path) as db:
        assert "mallory" not in {name for (name,) in db.execute("SELECT name FROM raters")}


def test_token_is_required_when_set(token_server):
    client = Client(token_server.port)
    assert b'name="token"' in client.get("/login")[2]
    assert client.login("Niran", token="wrong-token") == 403
    assert "mella_rate_session" not in client.cookies
    assert client.login("Niran", token=TOKEN) == 303
    assert client.get("/")[0] == 200


def test_a_judgement_is_stored_before_the_answer_and_the_rater_resumes(server, run):
    client = Client(server.port)
    assert client.login("Ploy") == 303
    data = client.page_data("/rate/know")
    first = data["item_id"]
    for question, value in (("relevance", "4"), ("correctness", 5)):
        status, answer = client.judge(data, question, value, comment="ภาพชัด")
        assert status == 200 and answer["saved"] is True
    stored = {(j["item_id"], j["question"]): (j["value"], j["comment"]) for j in judgements(run, "Ploy")}
    assert stored == {(first, "relevance"): ("4", "ภาพชัด"), (first, "correctness"): ("5", "ภาพชัด")}
    assert answer["done"] == 1
    # A new session of the same name starts at the first item not yet finished, and sees its answers on Back.
    again = Client(server.port)
    assert again.login("Ploy") == 303
    resumed = again.page_data("/rate/know")
    assert resumed["item_id"] != first and resumed["done"] == 1
    shown = again.page_data(f"/rate/know?item={first}")
    assert shown["answers"] == {"relevance": "4", "correctness": "5"} and shown["comment"] == "ภาพชัด"


def test_judgements_without_csrf_or_from_elsewhere_are_refused(server, run):
    client = Client(server.port)
    assert client.login("Kanya") == 303
    data = client.page_data("/rate/know")
    assert client.judge({**data, "csrf": ""}, "relevance", "3")[0] == 403                  # no token
    assert client.judge(data, "relevance", "3", csrf="not-the-token")[0] == 403            # wrong token
    assert client.judge(data, "relevance", "3", origin="http://evil.example")[0] == 403    # cross-origin
    assert client.judge(data, "relevance", "3", origin=None)[0] == 403                     # no Origin/Referer
    referer = {"Referer": "http://evil.example/page"}
    body = json.dumps({"item_id": data["item_id"], "question": "relevance", "value": "3"}).encode()
    assert client.request("POST", "/api/judge", body, {"Content-Type": "application/json",
                                                       "X-CSRF-Token": data["csrf"], **referer},
                          origin=None)[0] == 403
    assert client.request("POST", "/api/judge", body, {"Content-Type": "text/plain",
                                                       "X-CSRF-Token": data["csrf"]})[0] == 415
    assert client.judge(data, "relevance", "9")[0] == 400
    assert client.judge(data, "preference", "A")[0] == 400
    assert client.judge({**data, "item_id": "0" * 16}, "relevance", "3")[0] == 400
    stranger = Client(server.port)  # no session at all
    assert stranger.judge(data, "relevance", "3")[0] == 401
    assert judgements(run, "Kanya") == []
    # the same request, done right, is stored
    assert client.judge(data, "relevance", "3")[0] == 200
    assert [j["value"] for j in judgements(run, "Kanya")] == ["3"]


def test_images_by_key_only(server, run):
    client = Client(server.port)
    assert client.get("/image/th0001")[0] == 401  # signed-out
    assert client.login("Arthit") == 303
    status, headers, data = client.get("/image/th0001")
    assert status == 200 and headers["content-type"] == "image/jpeg" and data[:3] == b"\xff\xd8\xff"
    assert headers["x-content-type-options"] == "nosniff"
    secret = run / "secret.txt"
    secret.write_text("do not serve", encoding="utf-8")
    for path in ("/image/..%2Fsecret.txt", "/image/" + quote("../../secret.txt", safe=""), "/image/%2e%2e",
                 "/image/th0001.jpg", "/image/th9999", "/image/..", "/static/..%2Fapp.py", "/static/../app.py",
                 "/image/" + "a" * 300):
        status, _, body = client.get(path)
        assert status in (400, 404), path
        assert b"do not serve" not in body and b"import" not in body
    assert client.get("/static/rate.js")[1]["content-type"].startswith(("text/javascript", "application/javascript"))


def test_hostile_text_is_inert(server):
    client = Client(server.port)
    assert client.login("Malee") == 303
    seen = []
    for _ in range(4):  # the hostile alt-text is one of the four know items
        status, _, page = client.get("/rate/know")
        data = client.page_data("/rate/know")
        seen.append(page)
        for q in ("relevance", "correctness"):
            client.judge(data, q, "3")
    page = next(p for p in seen if b"alert" in p)
    assert HOSTILE.encode() not in page
    assert b"&lt;script&gt;alert(&#34;alt&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    block = re.search(rb'<script type="application/json" id="page-data">(.*?)</script>', page, re.S).group(1)
    assert b"<" not in block and b">" not in block  # the JSON block cannot close itself


def test_system_names_never_reach_the_page(server):
    client = Client(server.port)
    bodies = [client.get("/login")[2]]
    assert client.login("Chai") == 303
    bodies.append(client.get("/")[2])
    for _ in range(5):
        status, _, page = client.get("/rate/pairwise")
        if status != 200:
            break
        bodies.append(page)
        data = client.page_data("/rate/pairwise")
        status, answer = client.judge(data, "preference", "A")
        bodies.append(json.dumps(answer).encode())
    bodies.append(client.get("/static/rate.js")[2])
    assert len(bodies) >= 8
    for body in bodies:
        for name in SYSTEMS:
            assert name.lower().encode() not in body.lower()


def test_other_host_names_are_refused(server):
    client = Client(server.port)
    status, _, _ = client.get("/login", headers={"Host": f"rebound.example:{server.port}"})
    assert status == 421


@pytest.mark.parametrize("args, message", [
    (["--host", "0.0.0.0"], "add --public and --token"),
    (["--host", "192.0.2.7", "--token", TOKEN], "add --public and --token"),
    (["--public"], "--public needs --token"),
    (["--host", "0.0.0.0", "--public"], "--public needs --token"),
    (["--public", "--token", "short"], "at least 8 characters"),
])
def test_serving_beyond_loopback_needs_public_and_a_token(run, capsys, monkeypatch, args, message):
    monkeypatch.delenv("MELLA_RATE_TOKEN", raising=False)
    assert main(["rate", str(run), "--lang", "th", *args]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
