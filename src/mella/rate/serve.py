"""Serving ``mella rate``: the items of one language gathered from a run folder into its store, the rule for
which addresses may be bound, and the server itself (uvicorn on a socket bound before the URL is printed)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mella.errors import MellaError
from mella.rate.app import LOOPBACK_NAMES, Settings, create_app
from mella.rate.store import RatingStore, default_path
from mella.rate.tasks import Item, image_folder, know_items, ling_items, pairwise_items, predictions_folders

MIN_TOKEN = 8


@dataclass
class Gathered:
    """What ``mella rate`` built for one language, and what it could not (said in one line each)."""

    items: list[Item] = field(default_factory=list)
    systems: tuple[str, str] | None = None
    notes: list[str] = field(default_factory=list)


def parse_pairwise(spec: str) -> list[tuple[str, Path]]:
    """``NAME=DIR,NAME=DIR`` as [(name, folder)]; exactly two different names of existing folders."""
    pairs = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        name, eq, folder = part.partition("=")
        if not eq or not name.strip() or not folder.strip():
            raise MellaError(f"--pairwise: {part!r} is not NAME=PRED_DIR")
        if not Path(folder.strip()).exists():
            raise MellaError(f"--pairwise: {folder.strip()}: no such predictions folder or file")
        pairs.append((name.strip(), Path(folder.strip())))
    if len(pairs) != 2 or pairs[0][0] == pairs[1][0]:
        raise MellaError(f"--pairwise needs two systems with different names (NAME=PRED_DIR,NAME=PRED_DIR), "
                         f"not {spec!r}")
    return pairs


def gather_items(run_dir: Path, lang: str, *, pairwise: list[tuple[str, Path]] | None, know: int, ling: int,
                 seed: int) -> Gathered:
    """The items of ``lang``: pairwise between the two given systems (else the run's two predictions folders,
    when it has exactly two), and ``know``/``ling`` samples from the run's ``build`` folder."""
    run_dir = Path(run_dir)
    out = Gathered()
    if pairwise is None:
        found = predictions_folders(run_dir)
        if len(found) == 2:
            pairwise = list(found.items())
        elif found:
            out.notes.append(f"{len(found)} predictions folders in {run_dir} ({', '.join(found)}): choose two with "
                             f"--pairwise NAME=DIR,NAME=DIR for pairwise items")
        else:
            out.notes.append(f"no predictions folders in {run_dir}: no pairwise items")
    if pairwise is not None:
        (name_a, dir_a), (name_b, dir_b) = pairwise
        out.systems = (name_a, name_b)
        out.items += pairwise_items(dir_a, dir_b, (name_a, name_b), lang, n=None, seed=seed)
    build = run_dir / "build"
    if know or ling:
        if build.is_dir():
            out.items += know_items(build, lang, n=know, seed=seed) if know else []
            out.items += ling_items(build, lang, n=ling, seed=seed) if ling else []
        else:
            out.notes.append(f"no build folder in {run_dir}: no know or ling items")
    return out


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address (what may be bound without --public)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, public: bool, token: str | None) -> None:
    """Refuse, in one line, to serve beyond this machine without --public and a token."""
    if not is_loopback(host) and not public:
        raise MellaError(f"--host {host} serves to other machines: add --public and --token T (raters then need "
                         f"the token), or keep the default 127.0.0.1")
    if public and not token:
        raise MellaError("--public needs --token T (or MELLA_RATE_TOKEN): raters must enter it to sign in")
    if token is not None and len(token) < MIN_TOKEN:
        raise MellaError(f"--token must be at least {MIN_TOKEN} characters")


def build_store(run_dir: Path, items: list[Item]) -> tuple[Path, int]:
    """Add the items to the run's store (idempotent); (the store's path, how many were new)."""
    path = default_path(run_dir)
    with RatingStore(path) as store:
        return path, store.add_items(items)


def serve(run_dir: Path, lang: str, *, host: str, port: int, public: bool, token: str | None,
          on_ready: Callable[[str], None]) -> None:
    """Serve the run's rating app for ``lang`` until interrupted; ``on_ready(url)`` once the socket listens."""
    import socket

    import uvicorn

    check_bind(host, public, token)
    hosts = None if public else frozenset({*LOOPBACK_NAMES, host.strip("[]").lower()})
    app = create_app(default_path(run_dir), image_folder(Path(run_dir)), Settings(lang=lang, token=token,
                                                                                  hosts=hosts))
    bind = "127.0.0.1" if host.lower() == "localhost" else host.strip("[]")
    sock = socket.socket(socket.AF_INET6 if ":" in bind else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((bind, port))
    except OSError as exc:
        sock.close()
        raise MellaError(f"--host {host} --port {port}: cannot listen there ({exc.strerror})") from exc
    sock.listen(128)
    bound = sock.getsockname()[1]
    shown = f"[{bind}]" if ":" in bind else bind
    if bind in ("0.0.0.0", "::"):
        shown = socket.gethostname()
    on_ready(f"http://{shown}:{bound}/")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    server.run(sockets=[sock])
