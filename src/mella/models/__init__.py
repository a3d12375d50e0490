"""Model backends behind one small interface (see docs/models.md); heavy libraries load on first use."""

from mella.models.base import (
    BACKENDS,
    Backend,
    BackendOptions,
    GenOptions,
    GenRequest,
    UnsupportedTaskError,
    get_backend_class,
    load_backend,
)

__all__ = ["BACKENDS", "Backend", "BackendOptions", "GenOptions", "GenRequest", "UnsupportedTaskError",
           "get_backend_class", "load_backend"]
