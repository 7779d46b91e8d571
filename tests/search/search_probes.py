"""Executors that tests register to watch or interrupt a search (imported by the search tests)."""

from __future__ import annotations

from diswot.scoring.executors import SerialExecutor


class CrashingExecutor(SerialExecutor):
    """Scores like the serial executor, then dies like a killed process when asked to score its
    ``crash_on``-th batch (subclasses set it)."""

    crash_on = 3

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches = 0

    def map(self, keys):
        self.batches += 1
        if self.batches == self.crash_on:
            raise KeyboardInterrupt
        return super().map(keys)
