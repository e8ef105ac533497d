"""`var/run.json`: how other shells find the broker and worker that `retention up` started."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunInfo:
    bootstrap_servers: str
    worker_url: str
    # The process that owns the run: `retention up`'s supervisor (or a test's worker).
    pid: int
    # The supervised worker child, when there is one (it changes with every restart).
    worker_pid: int | None = None
    # Ctrl-C was pressed: the pipeline finishes what was published and takes nothing new.
    draining: bool = False

    def is_alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def write_run_file(path: Path, info: RunInfo) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(info)))
    tmp.replace(path)


def read_run_file(path: Path) -> RunInfo | None:
    """The live run recorded at `path`, or None when nothing (alive) is recorded."""
    try:
        info = RunInfo(**json.loads(path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None
    return info if info.is_alive() else None


def remove_run_file(path: Path) -> None:
    path.unlink(missing_ok=True)
