"""What the command line prints, and how its process ends.

- :func:`clean` removes control characters from text shown on a terminal: a policy,
  a data file or a results.json can hold escape sequences (clear the screen, move
  the cursor, set the window title, write the clipboard with OSC 52) or bidi
  overrides that make a printed line read differently from what it holds.
  :class:`CleanStream` applies it to everything written to standard output and
  error, except rich's own writes: rich renders styles and the progress bar with
  escape sequences of its own and already strips control characters from the text
  it is given once :func:`harden_rich` has widened what it strips.
- :func:`save_traceback` keeps the traceback of an internal error in a private file,
  so the console shows one line and the bug report has everything.
- :func:`end_process` ends the console command without running native libraries'
  exit-time destructors. pyarrow's thread pools are never joined (apache/arrow#34314,
  #39862): a worker still finishing a read when ``exit()`` destroys static objects calls
  ``std::terminate`` ("terminate called without an active exception", SIGABRT), and
  the audit's error paths exit right after reading Parquet metadata or rows. Python's
  own exit handlers (atexit: Dask, multiprocessing children, logging, temporary
  files) still run first; the output streams are flushed; then the process leaves
  with ``os._exit``.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["clean", "CleanStream", "harden_rich", "save_traceback", "end_process", "silence_stdout",
           "SIGPIPE_EXIT"]

SIGPIPE_EXIT = 141
"""Exit status of a process a closed pipe stopped (128 + SIGPIPE), as ``yes | head`` reports."""

# C0 controls but tab and newline, DEL, C1 controls; bidi embeddings, overrides and isolates.
_CONTROL = "".join(chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0)])
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_STRIP = {ord(c): None for c in _CONTROL + _BIDI}
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """``text`` without control characters (tab and newline kept) or bidi controls; lone
    surrogates (not encodable, so printing them would raise) become U+FFFD."""
    if not isinstance(text, str):
        text = str(text)
    out = text.translate(_STRIP)
    return _SURROGATE.sub("\ufffd", out) if _has_surrogate(out) else out


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class CleanStream:
    """A text stream that passes :func:`clean` text to ``raw``; rich's writes go through as they are.

    Parameters
    ----------
    raw : text stream
        The real ``sys.stdout`` or ``sys.stderr``.
    """

    def __init__(self, raw):
        self._raw = raw

    @property
    def raw_stream(self):
        """The stream this one wraps."""
        return self._raw

    def write(self, text: str) -> int:
        # rich strips control characters from every Text (see harden_rich) and adds its own
        # styling sequences, which must reach the terminal intact.
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if not caller.startswith("rich."):
            text = clean(text)
        return self._raw.write(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._raw, name)


def harden_rich() -> None:
    """Make rich strip every control character (not only BEL, BS, VT, FF and CR) from text.

    rich sanitises each string that becomes a ``Text`` through one translation table;
    widening that table covers every table cell, message and title rich prints.
    """
    from rich import control

    control._CONTROL_STRIP_TRANSLATE.update(_STRIP)  # noqa: SLF001 - the table rich.text uses


def save_traceback(exc: BaseException, argv: list[str] | None = None) -> Path | None:
    """Write ``exc``'s traceback (and the command and versions) to a new private file; its path.

    The file is ``audit-crash-<UTC time>-<pid>-<random>.txt`` in the temporary folder, mode 0600
    (a traceback may quote data values). None when nothing could be written.
    """
    from audit import __version__

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        fd, name = tempfile.mkstemp(prefix=f"audit-crash-{stamp}-{os.getpid()}-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(f"audit {__version__}, Python {sys.version.split()[0]}, {sys.platform}\n")
            fh.write(f"command: audit {' '.join(sys.argv[1:] if argv is None else argv)}\n\n")
            fh.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        return Path(name)
    except OSError:
        return None


def silence_stdout() -> None:
    """Point standard output at /dev/null: the reader closed the pipe (``audit schema | head``),
    and Python's final flush would otherwise report the BrokenPipeError again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError):
        pass


def end_process(code: int) -> None:
    """Run Python's exit handlers, flush the output streams, and leave with ``code`` (see above)."""
    try:
        atexit._run_exitfuncs()  # noqa: SLF001 - the handlers a normal exit would run
    except BaseException:  # noqa: BLE001 - a failing handler must not change the exit code
        pass
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
