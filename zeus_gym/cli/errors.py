"""The command line's one error path: a user's mistake is one `error: ...` line and exit code 1.

Commands raise `ValueError` (or a subclass, such as `TraceValidationError`) with a message that
names the option as typed (`--output`, not `output=`); `user_errors` prints it (the one place that does). Mistakes click sees
itself (an unknown option, `--seed -1` out of its range) go through `OneLineErrors.main`, so both
kinds read alike, under `python -m`, the installed script and typer's CliRunner.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, Sequence

import typer
from typer.core import TyperGroup

from zeus_gym.traces import TracesNotFoundError

# click's exception classes, wherever this typer takes click from (recent typers vendor it).
_CLICK_ERRORS = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
UsageError: type[Exception] = _CLICK_ERRORS["UsageError"]
ClickException: type[Exception] = _CLICK_ERRORS["ClickException"]

# Errors that mean the user has something to fix (TraceValidationError is a ValueError).
USER_ERRORS: tuple[type[Exception], ...] = (ValueError, TracesNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)

def fail(message: str) -> NoReturn:
    """Stop the command with one error line."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _message(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror and error.filename:
        return f"{error.filename}: {error.strerror}"
    return " ".join(str(error).split()) or type(error).__name__


class user_errors(contextlib.ContextDecorator):  # noqa: N801 (used as a decorator and a `with` block)
    """USER_ERRORS raised by a command (`@user_errors()`) or a block (`with user_errors():`) become
    one clean stderr line and exit code 1."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None) -> None:
        if isinstance(error, USER_ERRORS):
            fail(_message(error))


class OneLineErrors(TyperGroup):
    """The `zeus-gym` group: click's usage errors as one `error:` line (exit code 2), no box."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except UsageError as error:
            ctx = getattr(error, "ctx", None)
            hint = f" (see {ctx.command_path} -h)" if ctx is not None else ""
            typer.echo(f"error: {' '.join(error.format_message().split())}{hint}", err=True)
            code = error.exit_code  # type: ignore[attr-defined]
        except ClickException as error:
            typer.echo(f"error: {' '.join(error.format_message().split())}", err=True)
            code = error.exit_code
        except typer.Abort:
            typer.echo("aborted", err=True)
            code = 1
        else:
            code = result if isinstance(result, int) else 0
        if not standalone_mode:
            return code
        sys.exit(code)


def output_folder(path: Path, option: str = "--output") -> Path:
    """Check, before any work, that `path` is or can become a writable folder; creates nothing."""
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} {path} is a file, not a folder: give a folder (it is created if missing)")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{option} {path}: {existing} is a file, so no folder can be made there")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {path}: the folder {existing} is read-only for you; choose another {option}")
    return path


def output_file(path: Path, option: str) -> Path:
    """Check, before any work, that `path` can be written as a file: its folder exists and is writable."""
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder: give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"{option} {path}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"{option} {path}: cannot write there (read-only); choose another {option}")
    return path
