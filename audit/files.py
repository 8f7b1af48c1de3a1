"""Files a user names (data, models, policies): only regular files are read.

Reading a character device (``/dev/zero``, ``/dev/urandom``), a FIFO or a socket never
ends, or blocks until another process writes; a symbolic link can point at one under an
innocent name (``holdout.csv -> /dev/zero``). :func:`regular_file` refuses anything but a
regular file, after following links, before a byte is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from audit.errors import InputError

__all__ = ["regular_file", "file_kind"]


def file_kind(mode: int) -> str:
    """What a file is, in words, from its ``st_mode``."""
    for test, name in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"


def regular_file(path: str | os.PathLike, what: str = "file", error: type[Exception] = InputError) -> Path:
    """``path`` when it is (or links to) a regular file; otherwise ``error`` saying what it is.

    Parameters
    ----------
    path : str or path-like
        The file.
    what : str
        How messages name it ("data file", "model file").
    error : exception class
        Raised for a missing file or one that is not regular (default :class:`InputError`).
    """
    p = Path(path)
    try:
        st = p.stat()  # follows symbolic links: what would be read
    except FileNotFoundError:
        broken = " (a symbolic link to a missing file)" if p.is_symlink() else ""
        raise error(f"{what} not found: {p}{broken}") from None
    except OSError as exc:
        raise error(f"{what} {p}: cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISREG(st.st_mode):
        return p
    via = f" (a symbolic link to {os.path.realpath(p)})" if p.is_symlink() else ""
    raise error(f"{what} {p}{via} is {file_kind(st.st_mode)}, not a regular file; refusing to read it")
