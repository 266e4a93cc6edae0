"""Progress reporting and cancellation shared by every long-running step.

A step receives a :class:`Progress` and calls ``progress.update(fraction, text)``;
the owner (command line, Slicer logic, a script) decides how to show it and
whether to cancel. Nothing here imports a GUI toolkit.
"""

from __future__ import annotations

from typing import Callable, Optional

from .errors import Cancelled

ProgressCallback = Callable[[float, str], None]
CancelHook = Callable[[], bool]


class Progress:
    """Forwards fractions in [0, 1] to a callback and checks a cancel hook.

    ``sub(start, stop)`` maps a child step onto a slice of the parent's range, so
    nested steps report one monotone fraction to the owner.

    >>> seen = []
    >>> p = Progress(lambda f, t: seen.append((round(f, 2), t)))
    >>> p.sub(0.5, 1.0).update(0.5, "half of the second half")
    >>> seen
    [(0.75, 'half of the second half')]
    """

    def __init__(
        self,
        callback: Optional[ProgressCallback] = None,
        cancel: Optional[CancelHook] = None,
        start: float = 0.0,
        stop: float = 1.0,
    ):
        self._callback = callback
        self._cancel = cancel
        self._start = start
        self._stop = stop

    def update(self, fraction: float, text: str = "") -> None:
        self.check_cancel()
        if self._callback is not None:
            fraction = min(max(fraction, 0.0), 1.0)
            self._callback(self._start + fraction * (self._stop - self._start), text)

    def cancelled(self) -> bool:
        return self._cancel is not None and bool(self._cancel())

    def check_cancel(self) -> None:
        if self.cancelled():
            raise Cancelled("cancelled by the user")

    def sub(self, start: float, stop: float) -> "Progress":
        span = self._stop - self._start
        return Progress(self._callback, self._cancel, self._start + start * span, self._start + stop * span)


SILENT = Progress()
