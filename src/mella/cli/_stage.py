"""Builds the click command of a stage from its Options model, so CLI flags and YAML keys never diverge.

Convention for every stage command: ``mella <stage> INPUT... --out DIR [options]``.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, get_args, get_origin

import click
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from mella.errors import ConfigError

RESERVED = {"inputs", "out", "workers", "executor", "overwrite", "verbose", "ray_address", "progress"}


def _unwrap_optional(tp: Any) -> Any:
    if get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def split_list(_ctx, _param, value):
    if value is None:
        return None
    items: list[str] = []
    for v in value:
        items.extend(x.strip() for x in str(v).split(",") if x.strip())
    # `--langs ""` (an unset shell variable) is not the default: keep one empty entry for validation to name.
    return tuple(items) if items or not value else ("",)


def option_for(name: str, info: FieldInfo) -> click.Option:
    """One click option for one Options field: ``min_chars`` becomes ``--min-chars``."""
    flag = "--" + name.replace("_", "-")
    tp = _unwrap_optional(info.annotation)
    help_text = info.description or ""
    default = None if info.is_required() else info.get_default(call_default_factory=True)
    if tp is bool:
        return click.Option([f"{flag}/--no-{flag[2:]}", name], default=default, show_default=True, help=help_text)
    if get_origin(tp) is Literal:
        return click.Option([flag, name], type=click.Choice([str(a) for a in get_args(tp)]), default=default,
                            show_default=True, required=info.is_required(), help=help_text)
    if get_origin(tp) in (list, tuple, set, frozenset):
        return click.Option([flag, name], multiple=True, callback=split_list, default=tuple(default or ()),
                            show_default=True, help=(help_text + " (comma-separated or repeated)").strip())
    click_type = {int: click.INT, float: click.FLOAT}.get(tp, click.STRING)
    return click.Option([flag, name], type=click_type, default=default, show_default=default is not None,
                        required=info.is_required(), help=help_text)


def build_options(stage_cls, values: dict[str, Any]):
    """Validate CLI values with the stage's Options model; every problem in one ConfigError (exit 2)."""
    from mella.config import option_problems

    options, problems = option_problems("options", stage_cls, values)
    if problems:
        raise ConfigError([p.removeprefix("options.").removeprefix("options: ") for p in problems],
                          f"mella {stage_cls.name}")
    return options


def stage_command(name: str) -> click.Command:
    """The ``mella <name>`` command for the registered stage ``name``."""
    from mella.cli.verbose import verbose_option
    from mella.pipeline.registry import get_stage

    stage_cls = get_stage(name)
    clash = RESERVED & set(stage_cls.Options.model_fields)
    if clash:
        raise RuntimeError(f"stage {name} defines reserved option names: {sorted(clash)}")

    def callback(inputs, out, workers, executor, overwrite, ray_address, **values):
        from mella.cli.standalone import run_standalone

        try:
            options = build_options(stage_cls, {k: v for k, v in values.items() if v is not None})
        except ValidationError as exc:  # pragma: no cover - build_options converts these
            raise ConfigError([str(exc)]) from None
        run_standalone(stage_cls(options), list(inputs), out, workers=workers, executor=executor,
                       overwrite=overwrite, ray_address=ray_address)

    params: list[click.Parameter] = [
        click.Argument(["inputs"], nargs=-1, required=True),
        click.Option(["--out", "-o"], required=True, help="Output folder (parquet parts, _SUCCESS, stats.json)."),
        click.Option(["--workers", "-j"], type=click.IntRange(min=1), default=None,
                     help="Parallel workers (default: one per core)."),
        click.Option(["--executor"], type=click.Choice(["local", "ray"]), default="local", show_default=True),
        click.Option(["--ray-address"], default=None, help="Address of a running Ray cluster (executor ray)."),
        click.Option(["--overwrite"], is_flag=True, help="Delete what --out holds and start over."),
    ]
    params += [option_for(fname, info) for fname, info in stage_cls.Options.model_fields.items()]
    doc = (stage_cls.__doc__ or "").strip()
    cmd = click.Command(name, callback=callback, params=params, help=doc,
                        short_help=doc.splitlines()[0] if doc else None)
    return verbose_option(cmd)
