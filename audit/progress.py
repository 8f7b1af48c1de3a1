"""Progress of long steps: a bar on a terminal, a line at least every 10 s elsewhere (CI logs).

Off a terminal a small heartbeat thread prints the current step every 10 s even
while one step (an attack, say) runs long; it is stopped and joined on exit.

``progress(enabled)`` returns a factory; ``with factory(total, title) as advance:``
then ``advance(description, step)``. Disabled, everything is a no-op.
"""

from __future__ import annotations

import sys
import threading
import time

__all__ = ["Progress", "progress"]

LINE_EVERY_S = 10.0


class Progress:
    """One progress display over ``total`` steps (see the module docstring)."""

    def __init__(self, enabled: bool, total: int, title: str, stream=None):
        self.enabled, self.total, self.title = enabled, total, title
        self.stream = stream or sys.stderr
        self._bar = None
        self._done = 0
        self._desc = ""
        self._t0 = self._last = 0.0
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __enter__(self):
        if not self.enabled:
            return lambda _desc, _step: None
        self._t0 = self._last = time.monotonic()
        if self.stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as Bar

            self._bar = Bar(TextColumn(f"[bold]{self.title}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("{task.description}"), transient=True,
                            console=Console(file=self.stream))
            self._bar.__enter__()
            task = self._bar.add_task("", total=self.total)
            return lambda desc, step: self._bar.update(task, advance=step, description=desc)
        self._beat = threading.Thread(target=self._heartbeat, name="audit-progress", daemon=True)
        self._beat.start()
        return self._line

    def _print(self) -> None:
        now = time.monotonic()
        self._last = now
        print(f"{self.title}: {self._done}/{self.total} {self._desc} ({now - self._t0:.0f} s)",
              file=self.stream, flush=True)

    def _line(self, desc: str, step: int) -> None:
        self._done += step
        self._desc = desc
        if time.monotonic() - self._last >= LINE_EVERY_S or (step and self._done >= self.total):
            self._print()

    def _heartbeat(self) -> None:
        while not self._stop.wait(1.0):
            if time.monotonic() - self._last >= LINE_EVERY_S:
                self._print()

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
        if self._beat is not None:
            self._stop.set()
            self._beat.join()


def progress(enabled: bool, stream=None):
    """A factory of :class:`Progress` displays, all on or all off."""
    return lambda total, title: Progress(enabled, total, title, stream)
