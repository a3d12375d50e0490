"""One line for a model that cannot be loaded: the model id, the cause, and what to do (exit 2).

transformers turns every hub failure into an ``OSError`` with a paragraph about the hub; the cause
(offline, no such repository, gated, no such revision) is in the exception chain, as a
``huggingface_hub.errors`` class or a network error. The load sites wrap ``from_pretrained`` in
:func:`hub_errors`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from mella.errors import MellaError

_LOCAL = "or pass the path of a local copy (a folder with config.json)"
_FETCH = f"download it where the hub is reachable (hf download MODEL), then set HF_HUB_OFFLINE=1, {_LOCAL}"
_OFFLINE = "not in the local cache and HF_HUB_OFFLINE=1 forbids downloading"
_UNSET = f"download it first (hf download MODEL, with HF_HUB_OFFLINE unset), {_LOCAL}"

# (exception class name in the chain, cause, what to do), first match wins: gated before not found
# (GatedRepoError is a RepositoryNotFoundError), network errors before the cache miss they cause.
_CAUSES = (
    ("GatedRepoError", "the repository is gated",
     "accept its conditions on huggingface.co and log in (hf auth login, or set HF_TOKEN), " + _LOCAL),
    ("RepositoryNotFoundError", "no such model on the hub (or a private one)",
     "check the id (org/name), log in for a private model (HF_TOKEN), " + _LOCAL),
    ("RevisionNotFoundError", "no such revision in the repository", "check the revision option"),
    ("OfflineModeIsEnabled", _OFFLINE, _UNSET),
    ("ConnectError", "not in the local cache and the hub cannot be reached", _FETCH),
    ("ConnectionError", "not in the local cache and the hub cannot be reached", _FETCH),
    ("TimeoutException", "not in the local cache and the hub did not answer in time",
     f"raise HF_HUB_ETAG_TIMEOUT / HF_HUB_DOWNLOAD_TIMEOUT, or {_FETCH}"),
    ("gaierror", "not in the local cache and the hub cannot be reached", _FETCH),
    ("LocalEntryNotFoundError", "not in the local cache", _FETCH),
    ("RemoteEntryNotFoundError", "the repository lacks a file the model needs", "check the id and revision"),
)


class ModelLoadError(MellaError):
    """A model that could not be loaded from the hub or a folder; the message says why and what to do."""

    exit_code = 2


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "on", "yes", "true")


def describe(model: str, exc: BaseException) -> str:
    """``model ID cannot be loaded: CAUSE; WHAT TO DO`` for a failed ``from_pretrained``."""
    names = {cls.__name__ for e in _chain(exc) for cls in type(e).__mro__}
    for name, cause, todo in _CAUSES:
        if name in names:
            if name == "LocalEntryNotFoundError" and _offline():
                cause, todo = _OFFLINE, _UNSET
            return f"model {model} cannot be loaded: {cause}; {todo.replace('MODEL', model)}"
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return f"model {model} cannot be loaded: {first}"


@contextmanager
def hub_errors(model: str) -> Iterator[None]:
    """Turn the ``OSError`` of a failed ``from_pretrained`` of ``model`` into a one-line :class:`ModelLoadError`."""
    try:
        yield
    except OSError as exc:
        raise ModelLoadError(describe(model, exc)) from None
