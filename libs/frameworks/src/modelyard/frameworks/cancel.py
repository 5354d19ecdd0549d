"""SIGTERM/SIGINT handling for a framework's training child, as the protocol asks (modelyard.frameworks.protocol): while
`immediate` (setup, export) a signal raises CancelledRun at once; while training it only sets a flag that the loop
checks at every batch boundary (`check`), so a checkpoint being written is never cut short. A second signal raises
at once."""

from __future__ import annotations

import signal
from types import FrameType


class CancelledRun(BaseException):
    """Raised to stop the run. A BaseException, like KeyboardInterrupt, so that no `except Exception` swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"cancelled by {signal.Signals(signum).name}")
        self.signum = signum


class CancelSwitch:
    def __init__(self) -> None:
        self.signum: int | None = None
        self.immediate = True
        self.quiet = False  # set while reporting the end: a signal then changes nothing

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        already = self.signum is not None
        self.signum = signum
        if (self.immediate or already) and not self.quiet:
            raise CancelledRun(signum)

    def check(self, *_: object) -> None:
        """Raise if a signal came; called at batch boundaries (also as a framework callback, whatever it passes)."""
        if self.signum is not None:
            raise CancelledRun(self.signum)
