"""``--verbose`` (debug logging and full tracebacks) and the logging setup every command shares."""

from __future__ import annotations

import logging
import sys

import click


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (test runners and notebooks swap it), not the one at setup."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def setup_logging(verbose: bool) -> None:
    logger = logging.getLogger("mella")
    if not logger.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s" if verbose else "%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)


def _set_verbose(ctx: click.Context, _param, value: bool) -> bool:
    if value:
        ctx.ensure_object(dict)["verbose"] = True
        ctx.find_root().ensure_object(dict)["verbose"] = True
        setup_logging(True)
    return value


verbose_option = click.option("--verbose", "-v", is_flag=True, expose_value=False, is_eager=True,
                              callback=_set_verbose, help="Debug logging and full tracebacks.")
