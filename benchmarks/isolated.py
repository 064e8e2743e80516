"""Benchmark steps run each in a fresh process, so that each step's peak memory is its own.

A benchmark module lists its steps (`STEPS`: name → function of the data folder returning what
to report) and ends with `if __name__ == "__main__": report_step(STEPS)`; its `main` calls
`run_step(__name__, name, folder)` for each.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

Step = Callable[[Path], dict[str, object]]


def run_step(module: str, name: str, folder: Path) -> dict[str, object]:
    """Run step `name` of benchmark `module` in a child process; its seconds, peak MB, detail."""
    done = subprocess.run(
        [sys.executable, "-m", module, name, str(folder)],
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        # The child's own words: after half an hour of setup, "exit status 1" alone is no help.
        raise RuntimeError(f"step {name} of {module} failed:\n{done.stderr[-4000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report_step(steps: Mapping[str, Step]) -> None:
    """In the child: run the step named on the command line and print its figures as JSON. A
    step may time itself (a `timed` entry) when its setup is not part of what is measured."""
    name, folder = sys.argv[1], Path(sys.argv[2])
    started = time.perf_counter()
    detail = steps[name](folder)
    seconds = float(detail.pop("timed", time.perf_counter() - started))  # type: ignore[arg-type]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "detail": detail}))
