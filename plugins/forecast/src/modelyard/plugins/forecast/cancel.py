"""SIGTERM/SIGINT handling for the training child, as the protocol asks (modelyard.frameworks.protocol): during
setup, export and evaluation a signal stops the child at once; during training it stops at the next batch
boundary, so a checkpoint being written is never cut short; a second signal stops it at once."""

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

    def check(self) -> None:
        """Raise if a signal came; called at batch boundaries."""
        if self.signum is not None:
            raise CancelledRun(self.signum)
