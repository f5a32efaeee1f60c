"""The ``mpt`` command line: a thin layer over :mod:`mpt_cli.workflows`."""

import typer

from .align import align_command, translate_command
from .common import quiet_unless_main
from .env import env_command
from .evaluate import eval_command
from .inspect import inspect_command
from .joint import joint_command
from .predict import predict_command
from .reproduce import reproduce_command
from .train_source import train_source_command

app = typer.Typer(
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
app.command("inspect")(inspect_command)
app.command("env")(env_command)


def main() -> None:
    quiet_unless_main()
    app()
