"""Run control of the training child: the cancel switch (SIGTERM/SIGINT) and the progress its end report uses."""

from __future__ import annotations

import os
import signal
from types import FrameType


class CancelledRun(BaseException):
    """Raised inside the run to stop it; a BaseException so that no `except Exception` swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"cancelled by {signal.Signals(signum).name}")
        self.signum = signum


class CancelSwitch:
    """SIGTERM/SIGINT handling. While `immediate` (setup, export) a signal raises CancelledRun at once; while training
    it only sets a flag that `check` raises at the next batch boundary, so a checkpoint being written is never cut
    short. A second signal raises at once whatever is going on."""

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
        if self.signum is not None:
            raise CancelledRun(self.signum)


class Progress:
    """What the end report needs to know about the run so far; and, for tests only, an epoch after which the run
    dies like a crashed machine (SIGKILL to itself, right after that epoch's checkpoints are reported)."""

    def __init__(self, crash_after_epoch: int | None = None) -> None:
        self.last_epoch: int | None = None  # the last epoch that finished, 1-based
        self.crash_after_epoch = crash_after_epoch

    def epoch_done(self, epoch: int) -> None:
        self.last_epoch = epoch
        if self.crash_after_epoch is not None and epoch >= self.crash_after_epoch:
            os.kill(os.getpid(), signal.SIGKILL)
