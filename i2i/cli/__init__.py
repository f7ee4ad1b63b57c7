"""The command line: thin commands over the library. Errors become exit codes here, once.

Exit codes: 0 all done; 1 some inputs failed (or an internal error); 2 usage error (bad option,
unusable checkpoint); 128 + N stopped by signal N: 130 Ctrl-C (SIGINT), 143 SIGTERM, 129 SIGHUP.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Annotated

import typer

app = typer.Typer(
    name="i2i",
    help="Image-to-image translation: upscale, stylize, colorize, translate, and train models.\n\n"
    "Exit codes: 0 all done; 1 some inputs failed; 2 usage error; 130 stopped by Ctrl-C "
    "(143 SIGTERM, 129 SIGHUP).\n\n"
    "Example: i2i upscale photos/ -o out/",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"i2i {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", help="Print i2i's version and exit.", is_eager=True, callback=_print_version),
    ] = False,
) -> None:
    """The options of `i2i` itself (before the command)."""


_STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")
_received: list[int] = []  # the signals that stopped this run, in order


def _register() -> None:
    import importlib

    from .options import plain_help

    for module in ("export", "run", "gan", "info", "models", "serve", "train"):  # --help lists them in this order
        importlib.import_module(f".{module}", __name__)  # each module adds its commands to `app`

    plain_help(app)


def _stop_on_signals() -> None:
    """SIGINT, SIGTERM and SIGHUP all stop the run the way Ctrl-C does (an exception that unwinds
    through the cleanup code), so none of them leaves a temporary file behind. A signal the
    caller set to be ignored (nohup, a background job) stays ignored."""
    from ..errors import Interrupted

    def stop(signum, frame):
        _received.append(signum)
        raise Interrupted(signum)

    for name in _STOP_SIGNALS:
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, stop)


def main() -> None:
    """The `i2i` program: run the command line, its errors one line on stderr, its exit code as the module doc says."""
    from ..errors import I2IError, one_line
    from .output import keep_os_names

    keep_os_names()
    _register()
    _stop_on_signals()
    try:
        code = app(standalone_mode=False)
    except I2IError as e:
        _fail(one_line(str(e)), e.exit_code)
    except KeyboardInterrupt:
        code = 130  # raised outside a command (typer turns those into exit code 130)
    except Exception as e:  # typer/click usage errors, and the unexpected
        # Matched by shape, not class: typer vendors click in new releases and imports it in old.
        if type(e).__name__ == "Exit":
            _exit(e.exit_code)
        if type(e).__name__ == "Abort":
            _fail("aborted", 130)
        if type(e).__name__ == "NoArgsIsHelpError":
            e.show()  # the help text, for a bare `i2i` or `i2i train`
            _exit(e.exit_code)
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):  # a click usage error
            command = e.ctx.command_path if getattr(e, "ctx", None) else "i2i"
            _fail(one_line(f"{e.format_message()} (see: {command} --help)"), e.exit_code)
        if os.environ.get("I2I_DEBUG"):
            raise
        _fail(one_line(f"internal error: {type(e).__name__}: {e} (set I2I_DEBUG=1 for the traceback)"), 1)
    if code == 130:  # typer's answer to KeyboardInterrupt: Ctrl-C, or a signal caught above
        signum = _received[0] if _received else signal.SIGINT
        _fail(f"interrupted ({signal.Signals(signum).name})", 128 + signum)
    _exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    from .output import error

    error(message)
    _exit(code)


def _exit(code: int) -> None:
    """Exit, without Python's noise about a stdout pipe its reader has closed (`| head`)."""
    try:
        sys.stdout.flush()
    except OSError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(code)
