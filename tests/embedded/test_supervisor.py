"""`retention up`'s supervisor on its own: restarts with backoff, stops on two signals."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

from retention.embedded.supervisor import Supervisor
from retention.settings import Settings

UNREACHABLE = "127.0.0.1:1"


def test_crashing_worker_is_restarted_with_doubling_delays_until_stopped(
        tmp_path: Path) -> None:
    """A worker that keeps crashing is restarted after 0.05, 0.1, 0.2, 0.4 s..., capped at
    the maximum; a second stop signal ends the drain the first began, and with no broker
    answering it says it cannot count what was left."""
    settings = Settings(data_dir=tmp_path, kafka={"bootstrap_servers": UNREACHABLE},  # type: ignore[arg-type]
                        worker={"restart_initial_s": 0.05, "restart_max_s": 0.8})  # type: ignore[arg-type]
    said: list[str] = []
    supervisor = Supervisor(settings, UNREACHABLE, broker=None, say=said.append,
                            command=[sys.executable, "-c", "import sys; sys.exit(3)"])

    def stop_twice() -> None:
        for _ in range(2):  # apart, as two presses: signals sent at once may merge into one
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.5)
    threading.Timer(3.0, stop_twice).start()
    code = supervisor.run()

    delays = [float(d) for line in said
              for d in re.findall(r"exited with code 3 after .* restarting it in ([\d.]+) s",
                                  line)]
    assert delays[:4] == [0.05, 0.1, 0.2, 0.4], said
    assert max(delays) <= 0.8
    assert code == 1
    assert said[-1].startswith("stopped at once: an unknown number of published events")
    assert supervisor.run_info.draining  # what `retention publish` checks
