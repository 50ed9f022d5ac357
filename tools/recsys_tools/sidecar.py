"""One way to run the real recsys-sidecar binary from Python (e2e tests, tools, benchmarks): start it
with arguments, wait until a probe call succeeds, stop it with SIGTERM (it drains and flushes its
logs), and kill it only if it does not exit in time."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Optional, Sequence


class SidecarProcess:
    """`argv`: the binary and its flags. `log`: where its output goes (None: discarded)."""

    def __init__(self, argv: Sequence[str], log: Optional[Path] = None):
        self.log_path = log
        self.log = open(log, "w") if log is not None else None
        self.process = subprocess.Popen(list(argv), stdout=self.log or subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def logs(self) -> str:
        if self.log is None:
            return "(output discarded)"
        self.log.flush()
        return self.log_path.read_text()

    def wait_until(self, ready: Callable[[], bool], timeout: float, poll: float = 0.05) -> None:
        """Calls `ready` until it returns True; any exception counts as not yet. Raises when the
        process exits or `timeout` seconds pass, with its output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sidecar exited with {self.process.returncode}:\n{self.logs()}")
            try:
                if ready():
                    return
            except Exception:  # noqa: BLE001  not listening or not loaded yet
                pass
            time.sleep(poll)
        raise RuntimeError(f"sidecar not ready within {timeout} s:\n{self.logs()}")

    def stop(self, timeout: float = 15) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None:
            self.log.close()
