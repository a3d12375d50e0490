"""Errors that reach users as one line (the CLI prints them without a traceback)."""

from __future__ import annotations


class MellaError(Exception):
    """A problem the user can fix: bad input, unusable config, a missing extra. Exit code 1."""

    exit_code = 1


class ConfigError(MellaError):
    """A config with one or more problems; all of them are reported together. Exit code 2."""

    exit_code = 2

    def __init__(self, problems: list[str], source: str = "config"):
        self.problems = list(problems)
        self.source = source
        n = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {n} problem{'s' if n != 1 else ''}:\n{lines}")


class InputError(MellaError):
    """An input that is not what the command reads (missing columns, wrong types, a corrupt file). Exit code 2."""

    exit_code = 2


class MissingExtraError(MellaError):
    """An optional dependency is not installed; names the extra that brings it."""

    def __init__(self, module: str, extra: str, feature: str = ""):
        what = f" for {feature}" if feature else ""
        super().__init__(
            f"{module} is needed{what} but is not installed: pip install 'mella[{extra}]'"
        )


def require(module: str, extra: str, feature: str = ""):
    """Import an optional dependency, or raise MissingExtraError naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # the module itself, or one of its own imports, is missing
        raise MissingExtraError(module, extra, feature) from exc
