"""The ``mpt`` command line: a thin layer over :mod:`mpt_cli.workflows`."""

import sys

import typer
from typer.core import TyperGroup

from .align import align_command, translate_command
from .common import quiet_unless_main
from .env import env_command
from .evaluate import eval_command
from .export import export_command
from .inspect import inspect_command
from .joint import joint_command
from .predict import predict_command
from .reproduce import reproduce_command
from .train_source import train_source_command


class _OneLineUsageErrors(TyperGroup):
    """Usage errors (an unknown option, a missing or malformed value) in the shape of every other bad input:
    one ``error:`` line on stderr and exit status 2, not Click's usage block. Click's exceptions are private
    to Typer, so they are recognised by what the public ones show: a message and an exit code."""

    def main(self, args=None, *rest, standalone_mode: bool = True, **kwargs):
        args = sys.argv[1:] if args is None else list(args)
        if not (standalone_mode and args):  # bare `mpt` shows the help, as Typer does
            return super().main(args, *rest, standalone_mode=standalone_mode, **kwargs)
        try:
            code = super().main(args, *rest, standalone_mode=False, **kwargs)
        except Exception as exc:
            if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
                raise
            context = getattr(exc, "ctx", None)
            hint = f" (see `{context.command_path} --help`)" if context is not None else ""
            typer.echo(f"error: {exc.format_message()}{hint}", err=True)
            sys.exit(2)
        sys.exit(code if isinstance(code, int) else 0)  # a command returns None; typer.Exit comes back as its code


app = typer.Typer(
    cls=_OneLineUsageErrors,
    name="mpt",
    help="Multilingual Prompt Translator: carry a classification prompt (NLI by default) learned in one language to many others.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
app.command("train-source")(train_source_command)
app.command("align")(align_command)
app.command("translate")(translate_command)
app.command("joint")(joint_command)
app.command("eval")(eval_command)
app.command("predict")(predict_command)
app.command("reproduce")(reproduce_command)
app.command("export")(export_command)
app.command("inspect")(inspect_command)
app.command("env")(env_command)


def main() -> None:
    quiet_unless_main()
    app()
