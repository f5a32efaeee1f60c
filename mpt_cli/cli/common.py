"""What every command shares: stderr console, error handling, JSON output, progress bars."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..callbacks import Callbacks
from ..engine.distributed import close_process_group, is_main_process, launched
from ..engine.train import TrainConfig
from ..errors import MptError, ProcessError
from ..task import BUILT_IN
from ..verbalizer import ALTERNATIVES


def _log_width() -> int | None:
    """Terminals give their own width. Logs and pipes do not wrap, so wide tables (``reproduce``'s
    19 columns) get room there instead of Rich's 80-column default, which ellipsises every cell."""
    return None if sys.stderr.isatty() or os.environ.get("COLUMNS") else 240


console = Console(stderr=True, log_path=False, width=_log_width())


class _ConsoleWarnings(logging.Handler):
    """The package's warnings (rows a loader skipped) as log lines beside the stages, not Python's bare stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        console.log(f"warning: {record.getMessage()}")


logging.getLogger("mpt_cli").addHandler(_ConsoleWarnings(logging.WARNING))


def handle_errors(command):
    """Turn :class:`MptError` into one ``error:`` line on stderr and exit status 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            result = command(*args, **kwargs)
            sys.stdout.flush()  # a full or closed stdout fails here, inside the handler, not at exit
            close_process_group()
            return result
        except MptError as exc:
            own = isinstance(exc, ProcessError)  # else bad options or input, which every launched process meets alike
            if own or is_main_process():
                typer.echo(f"error: {_rank_prefix() if own else ''}{exc}", err=True)
            raise typer.Exit(2) from None
        except OSError as exc:  # the environment: stdout full or closed, a disk full, a file gone
            _detach_stdout()
            typer.echo(f"error: {_rank_prefix()}{exc.filename or 'output'}: {exc.strerror or exc}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("interrupted; files already there are as they were (a partial run leaves no file half-written)", err=True)
            raise typer.Exit(130) from None

    return wrapper


def _rank_prefix() -> str:
    """Where launched processes meet different trouble, each says which one it is."""
    return "" if not launched() else f"process {os.environ.get('RANK', '0')}: "


def quiet_unless_main() -> None:
    """Launched processes other than the main one print nothing: no logs, bars, tables or data."""
    if not is_main_process():
        console.quiet = True
        _detach_stdout()


def _detach_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush of a broken stdout stays quiet."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file behind stdout (tests, embedding)
        pass


def quiet_libraries() -> None:
    """Keep transformers' load reports and progress bars off the user's terminal."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


LANGS_HELP = "Languages, comma-separated, or 'all' (every language the data has files or configurations for)."
TARGETS_HELP = "Target languages, comma-separated, or 'all' (every language the parallel corpus pairs with the source)."
TASK_HELP = f"Task: {', '.join(BUILT_IN)}, or a task file (.json or .toml)."
TASK_CHECK_HELP = "Task the prompts must have been trained for (a name or a task file) [default: theirs]."
PARALLEL_HELP = (
    "Parallel corpus: a folder of en-xx.tsv pair files or of a task's row-aligned {split}-{lang}.tsv files, a .tsv, "
    "'SRC_FILE,TGT_FILE', or a hub id (XNLI's all_languages, or configurations per language such as Davlan/sib200); "
    "FOLDER:SPLIT or ID:SPLIT picks the split [default: train]."
)
DATA_HELP = "Hub dataset id, a folder of {split}-{lang}.tsv files, or one .tsv/.jsonl/.csv file [default: the task's]."
PLOT_HELP = "Draw the accuracy per language into this .png or .svg file (needs matplotlib: pip install 'mpt-cli[plot]')."
GROUPS_HELP = "A TSV of language<TAB>group (a header line allowed): means per group, and the --plot's colours."
DEV_SHOTS_HELP = "Dev examples per class, or 'all', scored after every epoch (--select best keeps the best) [default: {}]."
_NLI = BUILT_IN["xnli"]
VERBALIZER_HELP = (
    f"Label words in label order, comma-separated (several for one label joined by {ALTERNATIVES}), or an xnli preset "
    f"({', '.join(_NLI.word_presets)}) [default: the task's; xnli: "
    f"{next(name for name, words in _NLI.word_presets.items() if words == _NLI.words)}]."
)


def config_help(config: type, name: str) -> str:
    """The help text a config dataclass gives its field ``name``: an option's help written once, by its owner."""
    return config.__dataclass_fields__[name].metadata["help"]


# The few-shot options of every command that trains a prompt (train-source, joint, reproduce).
SelectOption = Annotated[str, typer.Option(help=config_help(TrainConfig, "select"))]
MixupOption = Annotated[float, typer.Option(help=config_help(TrainConfig, "mixup"))]
DecayToStartOption = Annotated[float, typer.Option(help=config_help(TrainConfig, "decay_to_start"))]


# Every command that opens prompts (align, translate, joint, eval, predict) takes their backbone alike.
PromptsModelOption = Annotated[str | None, typer.Option(help="Backbone [default: the one the prompts record].")]

# The commands that only score (eval, predict) can score in int8.
Int8Option = Annotated[
    bool,
    typer.Option(
        "--int8",
        help="On the CPU, compute the backbone's linear layers in int8 (dynamic quantization); a label may differ from "
        "float32's where two labels are nearly tied. Not on a GPU, nor with MPT_PRECISION bf16 or fp16.",
    ),
]


def print_json(payload) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


@contextmanager
def progress_callbacks(label: str, on_epoch: Callable | None = None) -> Iterator[Callbacks]:
    """Callbacks that log each stage and draw one progress bar on stderr, for training steps (with
    their loss) or counted units; the bar appears when a counted loop starts."""
    with progress_bar() as progress:
        task = progress.add_task(label, total=None, visible=False)
        yield Callbacks(
            on_stage=lambda message: console.log(message),
            on_start=lambda total: progress.reset(task, total=total, visible=True),
            on_step=lambda loss: progress.update(task, advance=1, description=f"{label} (loss {loss:.4f})"),
            on_advance=lambda count: progress.update(task, advance=count),
            on_epoch=on_epoch or (lambda record: None),
        )


def log_epoch(record) -> None:
    console.log(record.describe())


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
