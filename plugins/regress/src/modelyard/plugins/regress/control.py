"""Run control of the training child: the progress its end report uses (the cancel switch is the frameworks'
shared one, modelyard.frameworks.cancel)."""

from __future__ import annotations

import os
import signal


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
