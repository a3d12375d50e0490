"""The web app of ``mella rate``: native speakers judge one language's items, one page per item.

Everything a page shows comes from web archives or models, so it is untrusted: every template autoescapes,
data reaches the script only as a ``<script type="application/json">`` block (``tojson`` escapes ``<``, ``>``,
``&`` and ``'``) or a JSON response, and the script writes text with ``textContent`` only. A strict
Content-Security-Policy (scripts from ``/static`` only, none inline) would stop a script even if escaping failed.

Raters sign in with a name (and the team's token when one is set). The session id is a random value the store
keeps, sent back in an HttpOnly, SameSite=Strict cookie; every request that changes state is a POST that must
come from this origin (Origin, else Referer) and carry the session's CSRF token (the ``X-CSRF-Token`` header).
The login form, which comes before any session, carries a random value that must equal its HttpOnly cookie
(double submit). A judgement is answered only after the store committed it, so a killed server loses nothing
a rater saw as saved. System names of pairwise items never leave the server: a page gets outputs "A" and "B".
"""

from __future__ import annotations

import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from mella.rate.scales import QUESTIONS, VALUES, scale, ui_strings
from mella.rate.store import RatingStore
from mella.rate.tasks import KINDS, Item, image_bytes

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "mella_rate_session"
LOGIN_COOKIE = "mella_rate_login"
CSRF_HEADER = "x-csrf-token"
MAX_JSON = 16_384         # a judgement is a few hundred bytes
MAX_FORM = 4_096          # the login form
MAX_COMMENT = 4_000
MAX_NAME = 64
#: Fetch keys are hex digests; anything else is refused before the store of allowed keys is even asked.
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")
IMAGE_TYPES = {"image/jpeg", "image/webp", "image/png", "image/gif"}
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


@dataclass(frozen=True)
class Settings:
    """How the app is served: the language, the team token (None: names only) and the host names it answers to
    (None: any, for --public; on loopback only loopback names, so a DNS-rebinding page gets nothing)."""

    lang: str
    token: str | None = None
    hosts: frozenset[str] | None = frozenset(LOOPBACK_NAMES)


def hostname(host_header: str) -> str:
    """The host name of a Host header (``[::1]:8800`` -> ``::1``), lower-case; '' when it cannot be parsed."""
    try:
        return (urlsplit(f"//{host_header}").hostname or "").lower()
    except ValueError:
        return ""


def text_direction(lang: str) -> str:
    """``rtl`` or ``ltr`` for a language tag, from the language registry."""
    from mella.languages import get_language

    return get_language(lang).direction


def clean_name(raw: str) -> str | None:
    """A rater name as stored (NFC, inner whitespace collapsed), or None when empty, too long or with controls."""
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not name or len(name) > MAX_NAME or any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
        return None
    return name


class Guard:
    """ASGI middleware: refuse unknown Host names (DNS rebinding) and put the security headers on every answer."""

    def __init__(self, app, hosts: frozenset[str] | None):
        self.app, self.hosts = app, hosts

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.datastructures import Headers, MutableHeaders
        from starlette.responses import PlainTextResponse

        async def send_secured(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
            await send(message)

        if self.hosts is not None and hostname(Headers(scope=scope).get("host", "")) not in self.hosts:
            await PlainTextResponse("unknown host name", status_code=421)(scope, receive, send_secured)
            return
        await self.app(scope, receive, send_secured)


class RateApp:
    """The routes over one store and one language; the store is opened on the server's own thread."""

    def __init__(self, store_path: Path, images: Path | None, settings: Settings):
        self.store_path, self.images, self.settings = Path(store_path), images, settings
        self.store: RatingStore | None = None
        self.order: dict[str, list[Item]] = {}
        self.by_id: dict[str, Item] = {}
        self.image_keys: set[str] = set()
        self.ui = ui_strings(settings.lang)
        self.direction = text_direction(settings.lang)
        self.env = _environment()

    # -- set-up ------------------------------------------------------------------------------------------
    def open(self) -> None:
        """Open the store and load this language's items (they do not change while the app serves)."""
        self.store = RatingStore(self.store_path)
        for kind in KINDS:
            items = self.store.items(lang=self.settings.lang, kind=kind)
            if items:
                self.order[kind] = items
        self.by_id = {item.item_id: item for items in self.order.values() for item in items}
        self.image_keys = {item.image_key for item in self.by_id.values() if item.image_key}

    def close(self) -> None:
        closer = getattr(self.store, "close", None)
        if closer is not None:
            closer()
        self.store = None

    # -- helpers -----------------------------------------------------------------------------------------
    def render(self, template: str, status: int = 200, **context: Any):
        from starlette.responses import HTMLResponse

        context.setdefault("data", {})
        context.setdefault("rater", "")
        html = self.env.get_template(template).render(ui=self.ui, lang=self.settings.lang, dir=self.direction,
                                                       **context)
        return HTMLResponse(html, status_code=status)

    def session(self, request) -> tuple[str, str] | None:
        """(rater_id, csrf token) of the request's session cookie, or None."""
        sid = request.cookies.get(SESSION_COOKIE, "")
        if not sid or len(sid) > 256:
            return None
        return self.store.session(sid)

    def done_ids(self, rater_id: str, kind: str) -> set[str]:
        """The items of ``kind`` the rater has finished: one query per page gives both the next item (the first
        of ``self.order`` not in it) and the progress (its size of ``len(self.order[kind])``)."""
        return self.store.done_ids(rater_id, self.settings.lang, kind)

    def answers(self, rater_id: str, item_id: str) -> tuple[dict[str, str], str]:
        """This rater's values for one item (question -> value) and their comment."""
        found = self.store.answered(rater_id, item_id)
        comments = [comment for _, comment in found.values() if comment]
        return {q: value for q, (value, _) in found.items()}, (comments[0] if comments else "")

    def progress_text(self, done: int, total: int) -> str:
        """``ui.progress`` filled in ("3 of 10 done"); the raw template when a translation broke its fields."""
        try:
            return self.ui["progress"].format(done=done, total=total)
        except (KeyError, IndexError, ValueError):
            return f"{done} / {total}"

    def signed_in_as(self, rater_id: str) -> str:
        name = self.store.rater_name(rater_id) or ""
        try:
            return self.ui["signed_in_as"].format(name=name)
        except (KeyError, IndexError, ValueError):
            return name

    def questions(self, kind: str) -> list[dict[str, Any]]:
        """The questions of a task kind with their scales in the rater's language (what the page shows)."""
        out = []
        for q in QUESTIONS[kind]:
            s = scale(q, self.settings.lang)
            out.append({"name": q, "label": s.get("label", q), "help": s.get("help", ""),
                        "options": [{"value": str(v), "anchor": a} for v, a in s["anchors"].items()]})
        return out

    # -- pages -------------------------------------------------------------------------------------------
    async def login_page(self, request, error: str = "", status: int = 200):
        nonce = secrets.token_urlsafe(32)
        response = self.render("login.html.j2", status=status, error=error, need_token=bool(self.settings.token),
                               csrf=nonce)
        response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, path="/", httponly=True, samesite="strict")
        return response

    async def login(self, request):
        from starlette.responses import RedirectResponse

        refused = same_origin_problem(request)
        if refused:
            return _refuse(refused)
        body = await read_body(request, MAX_FORM)
        if body is None:
            return _refuse("the form is too large", 413)
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        if not cookie or not hmac.compare_digest(form.get("csrf", "").encode(), cookie.encode()):
            return await self.login_page(request, self.ui["expired"], 403)
        if self.settings.token and not hmac.compare_digest(form.get("token", "").encode(),
                                                           self.settings.token.encode()):
            import asyncio

            await asyncio.sleep(0.5)  # a guesser gets two tries a second per connection
            return await self.login_page(request, self.ui["wrong_token"], 403)
        name = clean_name(form.get("name", ""))
        if name is None:
            return await self.login_page(request, self.ui["bad_name"], 400)
        session_id, _ = self.store.new_session(self.store.rater(name))
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, session_id, path="/", httponly=True, samesite="strict")
        response.delete_cookie(LOGIN_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    async def home(self, request):
        from starlette.responses import RedirectResponse

        found = self.session(request)
        if found is None:
            return RedirectResponse("/login", status_code=303)
        rater_id, _ = found
        tasks = []
        for kind, order in self.order.items():
            done, total = len(self.done_ids(rater_id, kind)), len(order)
            tasks.append({"kind": kind, "label": self.ui[f"kind_{kind}"], "done": done, "total": total,
                          "url": f"/rate/{kind}", "progress": self.progress_text(done, total)})
        return self.render("choose.html.j2", tasks=tasks, finished=request.query_params.get("finished", ""),
                           rater=self.signed_in_as(rater_id))

    async def rate_page(self, request):
        from starlette.responses import RedirectResponse

        found = self.session(request)
        if found is None:
            return RedirectResponse("/login", status_code=303)
        rater_id, csrf = found
        kind = request.path_params["kind"]
        if kind not in self.order:
            return _refuse("no such task", 404)
        wanted = request.query_params.get("item")
        done_ids = self.done_ids(rater_id, kind)
        if wanted is not None:
            item = self.by_id.get(wanted)
            if item is None or item.kind != kind:
                return _refuse("no such item", 404)
        else:
            item = next((it for it in self.order[kind] if it.item_id not in done_ids), None)
            if item is None:
                return RedirectResponse("/?" + urlencode({"finished": kind}), status_code=303)
        return self.item_page(rater_id, csrf, item, done_ids)

    def item_page(self, rater_id: str, csrf: str, item: Item, done_ids: set[str]):
        order = self.order[item.kind]
        at = next(i for i, it in enumerate(order) if it.item_id == item.item_id)
        back = f"/rate/{item.kind}?" + urlencode({"item": order[at - 1].item_id}) if at > 0 else "/"
        following = f"/rate/{item.kind}?" + urlencode({"item": order[at + 1].item_id}) if at + 1 < len(order) \
            else f"/rate/{item.kind}"
        values, comment = self.answers(rater_id, item.item_id)
        done, total = len(done_ids), len(order)
        questions = self.questions(item.kind)
        view = {
            "kind": item.kind, "position": at + 1, "count": len(order),
            "image_url": f"/image/{item.image_key}" if item.image_key else None,
            "prompt": item.prompt, "text": item.text, "source_text": item.source_text,
            # the outputs in the order shown; item.systems (who wrote them) is never passed on
            "outputs": list(zip(("A", "B"), item.outputs, strict=True)) if item.outputs else [],
        }
        data = {"page": "item", "item_id": item.item_id, "kind": item.kind, "csrf": csrf, "answers": values,
                "comment": comment, "questions": [q["name"] for q in questions], "back_url": back,
                "next_url": following, "done": done, "total": total, "dir": self.direction,
                "ui": {k: self.ui[k] for k in ("saved", "saving", "save_failed", "answer_all", "progress")}}
        return self.render("item.html.j2", item=view, questions=questions, answers=values, comment=comment,
                           done=done, total=total, progress=self.progress_text(done, total), back_url=back,
                           skip_url=following, rater=self.signed_in_as(rater_id), data=data)

    # -- the API and images ------------------------------------------------------------------------------
    async def judge(self, request):
        from starlette.responses import JSONResponse

        found = self.session(request)
        if found is None:
            return _refuse("sign in first", 401)
        rater_id, csrf = found
        refused = same_origin_problem(request)
        if refused:
            return _refuse(refused)
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent.encode(), csrf.encode()):
            return _refuse("missing or wrong CSRF token", 403)
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return _refuse("send application/json", 415)
        body = await read_body(request, MAX_JSON)
        if body is None:
            return _refuse("the request is too large", 413)
        problem, judgement = self.parse_judgement(body)
        if problem:
            return _refuse(problem, 400)
        item = self.by_id[judgement["item_id"]]
        self.store.record(rater_id, item.item_id, judgement["question"], judgement["value"], judgement["comment"])
        done, total = len(self.done_ids(rater_id, item.kind)), len(self.order[item.kind])
        return JSONResponse({"saved": True, "done": done, "total": total})

    def parse_judgement(self, body: bytes) -> tuple[str, dict[str, str]]:
        """('', the judgement) when ``body`` is a valid judgement of one of this app's items, else (why, {})."""
        import json

        try:
            data = json.loads(body)
        except ValueError:
            return "the body is not JSON", {}
        if not isinstance(data, dict):
            return "the body must be a JSON object", {}
        item = self.by_id.get(data.get("item_id")) if isinstance(data.get("item_id"), str) else None
        if item is None:
            return "unknown item_id", {}
        question, value, comment = data.get("question"), data.get("value"), data.get("comment", "")
        if question not in QUESTIONS[item.kind]:
            return f"question must be one of {', '.join(QUESTIONS[item.kind])}", {}
        if not isinstance(value, str | int) or isinstance(value, bool) or str(value) not in VALUES[question]:
            return f"value must be one of {', '.join(VALUES[question])}", {}
        if comment is None:
            comment = ""
        if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
            return f"comment must be a string of at most {MAX_COMMENT} characters", {}
        return "", {"item_id": item.item_id, "question": question, "value": str(value), "comment": comment}

    async def image(self, request):
        from starlette.responses import Response

        if self.session(request) is None:
            return _refuse("sign in first", 401)
        key = request.path_params["key"]
        if not KEY_PATTERN.fullmatch(key) or key not in self.image_keys or self.images is None:
            return _refuse("no such image", 404)
        try:
            data, content_type = image_bytes(self.images, key)
        except (KeyError, FileNotFoundError):
            return _refuse("no such image", 404)
        if content_type not in IMAGE_TYPES:
            return _refuse("not an image", 404)
        return Response(data, media_type=content_type, headers={"cache-control": "private, max-age=3600"})


def _environment():
    """Jinja with autoescaping on for every template, whatever its name."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


def _refuse(reason: str, status: int = 403):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": reason}, status_code=status)


def same_origin_problem(request) -> str:
    """Why a POST is refused as cross-origin ('' when it comes from this origin): Origin, else Referer, must be
    this server's own scheme://host:port; a request with neither is refused too."""
    own = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
    origin = request.headers.get("origin")
    if origin is not None:
        return "" if origin.lower() == own else "cross-origin request refused"
    referer = request.headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        return "" if f"{parts.scheme}://{parts.netloc}".lower() == own else "cross-origin request refused"
    return "request without Origin or Referer refused"


async def read_body(request, limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` bytes (read no further than that)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(store_path: Path, images: Path | None, settings: Settings):
    """The Starlette app over the store at ``store_path`` (its items already added) and the fetch folder
    ``images``; the store is opened when the server starts, on the server's thread."""
    import contextlib

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    rate = RateApp(store_path, images, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        rate.open()
        try:
            yield
        finally:
            rate.close()

    routes = [
        Route("/", rate.home, methods=["GET"]),
        Route("/login", rate.login_page, methods=["GET"]),
        Route("/login", rate.login, methods=["POST"]),
        Route("/rate/{kind}", rate.rate_page, methods=["GET"]),
        Route("/api/judge", rate.judge, methods=["POST"]),
        Route("/image/{key}", rate.image, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(Guard, hosts=settings.hosts)])
    app.state.rate = rate
    return app
