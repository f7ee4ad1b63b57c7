"""The command line: thin commands over the library. Errors become exit codes here, once."""
from __future__ import annotations

import os
import sys

import typer

app = typer.Typer(
    name="i2i",
    help="Image-to-image translation: upscale, stylize, colorize, translate, and train models.\n\n"
         "Example: i2i upscale photos/ -o out/",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _register() -> None:
    from . import export, info, run, train  # noqa: F401  (each module adds its commands to `app`)


def main() -> None:
    from ..errors import I2IError

    _register()
    try:
        code = app(standalone_mode=False)
    except I2IError as e:
        _fail(str(e), e.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as e:  # typer/click usage errors, and the unexpected
        # Matched by shape, not class: typer vendors click in new releases and imports it in old.
        if type(e).__name__ == "Exit":
            sys.exit(e.exit_code)
        if type(e).__name__ == "Abort":
            _fail("aborted", 130)
        if hasattr(e, "show") and hasattr(e, "exit_code"):
            e.show()
            sys.exit(e.exit_code)
        if os.environ.get("I2I_DEBUG"):
            raise
        _fail(f"internal error: {type(e).__name__}: {e} (set I2I_DEBUG=1 for the traceback)", 1)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    print(f"i2i: error: {message}", file=sys.stderr)
    sys.exit(code)
