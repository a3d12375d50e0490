"""The ``mella`` command line. Thin: parse, build config, call the library, print.

Commands are loaded lazily (one module per command) so ``mella --help`` imports no heavy library.
Library errors become one line on stderr and a non-zero exit; ``--verbose`` adds the traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from mella.cli.verbose import setup_logging, verbose_option
from mella.errors import MellaError

# name -> module under mella.cli; each module exposes `command`. Every registered stage also gets
# a command built from its Options (mella.cli._stage), unless a module here customises it.
COMMANDS: dict[str, str] = {
    "run": "run",
    "languages": "languages",
    "stages": "stages",
    "evaluate": "evaluate",
    "compare": "compare",
    "report": "report",
    "export": "export",
    "train": "train",
    "ablate": "ablate",
    "cc-estimate": "ccestimate",
    "rate": "rate",
    "rate-report": "ratereport",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        from mella.pipeline.registry import stage_names

        return sorted(set(COMMANDS) | set(stage_names()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from mella.pipeline.registry import STAGES

        if name in COMMANDS:
            return importlib.import_module(f"mella.cli.{COMMANDS[name]}").command
        if name in STAGES:
            from mella.cli._stage import stage_command

            return stage_command(name)
        return None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@verbose_option
@click.version_option(package_name="mella", prog_name="mella")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """mella: datasets, training and evaluation that give multimodal LLMs
    the language and the culture of low-resource languages.

    Every stage command reads INPUT... (files, globs, folders, URLs) and writes
    parquet parts, _SUCCESS markers and stats.json to --out DIR.
    `mella run PIPELINE.yaml --run-dir DIR` runs a whole pipeline.
    """
    ctx.ensure_object(dict)
    if not ctx.obj.get("verbose"):
        setup_logging(False)


def _report(exc: BaseException, ctx: click.Context | None, line: str) -> None:
    if ctx is not None and (ctx.obj or {}).get("verbose"):
        import traceback

        traceback.print_exception(exc)
    click.echo(line, err=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and turn library errors into one line and an exit code."""
    ctx: click.Context | None = None
    try:
        ctx = cli.make_context("mella", list(sys.argv[1:] if argv is None else argv), obj={})
        with ctx:
            cli.invoke(ctx)
        return 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except BrokenPipeError:  # the reader went away (`mella stages | head`): nothing of ours failed
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("mella: interrupted; committed parts are kept and a rerun resumes", err=True)
        return 130
    except MellaError as exc:
        _report(exc, ctx, f"mella: error: {exc}")
        return exc.exit_code
    except (FileExistsError, NotADirectoryError) as exc:  # a file where a folder must go (--out a/b, a a file)
        _report(exc, ctx, f"mella: error: {exc.filename}: {exc.strerror}; a file stands where a folder is needed")
        return 1
    except Exception as exc:  # a bug: one line unless --verbose
        _report(exc, ctx, f"mella: internal error: {type(exc).__name__}: {exc} (rerun with --verbose for the traceback)")
        return 1
