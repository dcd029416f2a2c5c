"""What every subcommand shares: the one-line error format, the parser that prints it, argument types that check
numbers when they are parsed, checks of paths made before anything is written, and the sanitiser of text that
came from the user.

Every refusal is one line on stderr, ``chainrule <command>: error: <what> — <how to fix>``, with exit status 2
for a usage error (an option or argument with a wrong value or of the wrong kind) and 1 for a failure at run
time (a missing file, a folder that cannot be written, a damaged checkpoint, data not found, a missing extra).
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any, NoReturn

from chainrule.data.idx import DataNotFoundError
from chainrule.errors import ChainruleError
from chainrule.io.archive import CheckpointError

USAGE = 2  # exit status of a usage error (what argparse uses)
FAILURE = 1  # exit status of a failure at run time

# optional extras (pyproject.toml) by the top-level module they provide
EXTRAS: dict[str, tuple[str, str]] = {
    "sklearn": ("scikit-learn", "digits"),
    "matplotlib": ("matplotlib", "plot"),
    "PIL": ("Pillow", "plot"),
    "tqdm": ("tqdm", "progress"),
    "safetensors": ("safetensors", "safetensors"),
    "numba": ("numba", "fast"),
    "cupy": ("CuPy", "gpu"),
}


class CommandError(ChainruleError):
    """A refusal of the command line: ``what`` went wrong and ``fix`` says how to put it right; ``status`` is
    the exit status (1: a failure at run time, 2: a usage error)."""

    def __init__(self, what: str, fix: str, status: int = FAILURE) -> None:
        super().__init__(f"{what} — {fix}")
        self.what, self.fix, self.status = what, fix, status
        self.command: str | None = None


class UsageError(CommandError):
    """An option or argument with a wrong value, or of the wrong kind (a file where a folder is expected)."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what, fix, USAGE)


# ----- text from the user -------------------------------------------------------------------------------------


def clean(text: object) -> str:
    r"""``text`` on one line and safe to print: runs of whitespace (line breaks included) become one space, and
    every other control or format character (ESC, carriage return, bidirectional overrides, ...) is shown
    escaped (``\x1b``), so a file name or an expression can never drive the terminal."""
    shown = []
    for ch in str(text):
        if ch.isspace():
            shown.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            code = ord(ch)
            shown.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            shown.append(ch)
    return " ".join("".join(shown).split())


def error_line(command: str | None, what: object, fix: object | None = None) -> str:
    """``chainrule <command>: error: <what> — <fix>``, cleaned (see ``clean``)."""
    prefix = f"chainrule {command}" if command else "chainrule"
    line = f"{prefix}: error: {clean(what)}"
    return f"{line} — {clean(fix)}" if fix else line


def note_line(command: str, text: object) -> str:
    return f"chainrule {command}: note: {clean(text)}"


def detach_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's flush at exit does not fail again."""
    try:
        fd = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture): nothing to redirect
        pass


def say(line: str) -> None:
    """Print a progress line; once the reader has gone (``chainrule train ... | head -1``), drop the output and
    carry on: a training run's results are its files, which it goes on to write."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        detach_stdout()


# ----- the parser -----------------------------------------------------------------------------------------------


class HelpFormatter(argparse.HelpFormatter):
    """Shows every option's default, ``(default: 128)``, unless its help already states it; flags and options
    without a default show none."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "(default" not in text and "%(default)" not in text and action.option_strings
            and default is not None and default is not False and default != argparse.SUPPRESS
            and not isinstance(action, argparse._VersionAction)
        ):
            text += " (default: %(default)s)"
        return text


class RawDescriptionHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """The description as written (its own line breaks), defaults shown."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) raised as ``UsageError``, and whose epilog
    (the examples) is printed as written."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        what, _, fix = message.partition(" — ")
        error = UsageError(what, fix or f"see {self.prog} --help")
        error.command = self.command  # the line names the subcommand whose parser refused
        raise error

    def format_help(self) -> str:
        epilog, self.epilog = self.epilog, None
        try:
            text = super().format_help()
        finally:
            self.epilog = epilog
        return text + (f"\n{epilog.strip(chr(10))}\n" if epilog else "")

    @property
    def command(self) -> str | None:
        """``train`` for the parser of ``chainrule train``; None for the top level."""
        words = self.prog.split()
        return words[1] if len(words) > 1 else None


# ----- numbers, checked when parsed ------------------------------------------------------------------------------


def _whole(text: str, least: int) -> int:
    # ASCII digits only: int() also takes "٣" and "1_000", which no one means on a command line
    value = int(text.strip()) if re.fullmatch(r"\+?[0-9]{1,30}", text.strip()) else None
    if value is None or value < least:
        kind = "a count ≥ 1" if least == 1 else f"a whole number ≥ {least}"
        raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r} — give e.g. {max(least, 1) * 10}")
    return value


def count(text: str) -> int:
    """A whole number ≥ 1: epochs, batch sizes, limits, top-k, strides."""
    return _whole(text, 1)


def natural(text: str) -> int:
    """A whole number ≥ 0: a seed, warm-up epochs, a padding."""
    return _whole(text, 0)


def _real(text: str, positive: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
        finite = False
    else:
        finite = math.isfinite(value)
    if not finite or value < 0 or (positive and value == 0):
        kind = "a finite number > 0" if positive else "a finite number ≥ 0"
        raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r} — give e.g. {'0.05' if positive else '0'}")
    return value


def positive_real(text: str) -> float:
    """A finite float > 0: a learning rate."""
    return _real(text, True)


def nonnegative_real(text: str) -> float:
    """A finite float ≥ 0: momentum, weight decay."""
    return _real(text, False)


# ----- paths, checked before anything is written -------------------------------------------------------------------


def existing_folder(text: str) -> str:
    """An existing folder (``--data-dir``): a file or a missing path is refused when parsed."""
    p = Path(text)
    if not text.strip() or not p.is_dir():
        problem = "is a file" if p.is_file() else "does not exist" if text.strip() else "is empty"
        raise argparse.ArgumentTypeError(f"expected a folder, but {text!r} {problem} — give the folder that holds "
                                         "the data set's files")
    return text


def existing_file(path: str | os.PathLike[str], what: str, fix: str) -> Path:
    """``path`` as a Path when it is a file; a missing one fails (exit 1), a folder is a usage error."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{what} {p} is a folder, not a file", fix)
    if not p.exists():
        raise CommandError(f"{what} {p} does not exist", fix)
    return p


def writable_folder(path: str | os.PathLike[str], option: str) -> Path:
    """Refuse, before anything is written, a folder that cannot be made or written to: a file in its place
    (usage), a file among its parents or a folder without write permission (a failure)."""
    if not os.fspath(path).strip():
        raise UsageError(f"{option} is empty", f"give {option} a folder (new or existing)")
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{option} {p} is a file, not a folder", f"give {option} a folder (new or existing)")
    existing = p
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise CommandError(f"cannot create the folder {p}: {existing} is a file", f"choose an {option} path "
                           "whose parents are folders")
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        raise CommandError(f"cannot write to {existing}: permission denied", f"choose an {option} folder you "
                           "can write to")
    return p


def writable_file(path: str | os.PathLike[str], option: str) -> Path:
    """Refuse, before anything is written, an output file that cannot be written: a folder in its place
    (usage), a missing parent folder or one without write permission (a failure)."""
    if not os.fspath(path).strip():
        raise UsageError(f"{option} is empty", f"give {option} a file name")
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{option} {p} is a folder", f"give {option} a file name, e.g. {p / ('graph.' + option[2:])}")
    parent = p.parent
    if not parent.is_dir():
        raise CommandError(f"cannot write {p}: the folder {parent} does not exist", "create it first, or "
                           f"choose another {option} path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CommandError(f"cannot write {p}: permission denied in {parent}", f"choose another {option} path")
    return p


# ----- errors raised below the command line, as one line -----------------------------------------------------------


_OS_FIXES = {
    errno.ENOENT: "check the path",
    errno.EACCES: "choose a place you can write to",
    errno.EPERM: "choose a place you can write to",
    errno.EROFS: "choose a place you can write to (this one is read-only)",
    errno.ENOSPC: "free some disk space, or choose another folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
    errno.EISDIR: "name a file, not a folder",
}


def missing_extra(exc: ImportError) -> tuple[str, str] | None:
    """(what is missing, how to install it) when ``exc`` is the import of an optional extra, else None."""
    seen: BaseException | None = exc
    while seen is not None:
        name = getattr(seen, "name", None)
        if name and name.split(".")[0] in EXTRAS:
            package, extra = EXTRAS[name.split(".")[0]]
            return package, f'pip install "chainrule[{extra}]"'
        seen = seen.__cause__ or seen.__context__
    return None


def describe(command: str | None, exc: BaseException) -> tuple[str, str, int]:
    """(what, fix, exit status) for an error raised while a command ran."""
    if isinstance(exc, CommandError):
        return exc.what, exc.fix, exc.status
    if isinstance(exc, DataNotFoundError):
        what = str(exc).split(" Looked in:")[0].split(". Looked in:")[0].split("\n")[0].rstrip(".")
        return what, "pass --data-dir FOLDER that holds them, or add --download to fetch them", FAILURE
    if isinstance(exc, CheckpointError):
        what, _, fix = _strip_command(command, str(exc)).partition(" — ")
        return what, fix or "point at another run, or train again", FAILURE
    if isinstance(exc, ChainruleError):  # the library's messages say "what — how to fix" too, or just what
        what, _, fix = _strip_command(command, str(exc)).partition(" — ")
        return what, fix or _help(command), FAILURE
    if isinstance(exc, ImportError):
        extra = missing_extra(exc)
        if extra is not None:
            return f"this needs {extra[0]}, which is not installed", extra[1], FAILURE
        return f"an import failed: {exc}", "reinstall chainrule (pip install chainrule)", FAILURE
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename is not None else ""
        reason = exc.strerror or str(exc) or type(exc).__name__
        return f"{where}{reason}", _OS_FIXES.get(exc.errno, "check the path and try again"), FAILURE
    return (f"unexpected {type(exc).__name__}: {exc}",
            "this is a bug in chainrule: rerun with CHAINRULE_DEBUG=1 to see where, and report it", FAILURE)


def _strip_command(command: str | None, message: str) -> str:
    """A library message that starts with the command's name (``train: ...``, ``predict: ...``) without it."""
    if command:
        message = re.sub(rf"^{re.escape(command)}(?: --[\w-]+)?: ", "", message.strip())
    return message


def _help(command: str | None) -> str:
    return f"see chainrule {command} --help" if command else "see chainrule --help"
