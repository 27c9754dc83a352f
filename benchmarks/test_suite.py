"""Wall time of the whole test suite as `make test` runs it (two pytest-xdist workers) against one process.

`python -m benchmarks.test_suite` runs the suite once each way, back to back in this checkout, and writes
benchmarks/results/test_suite.md; a run that does not pass is reported with its summary line instead of a time,
and the page names its failed tests.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from benchmarks import machine

PAGE = Path(__file__).resolve().parent / "results" / "test_suite.md"
# The first is the Makefile's `test` command; the second the same suite with xdist switched off.
MODES = {"two workers (`make test`)": ["-n", "2", "--dist", "loadfile"], "one process": ["-p", "no:xdist"]}


def failed_tests(stdout: str) -> list[str]:
    """The ids of the tests pytest's short summary (`-rfE`) lists as failed or in error."""
    # A summary line is "FAILED <id> - <message>"; a parametrised id may itself hold spaces.
    return [line.split(" ", 1)[1].split(" - ", 1)[0] for line in stdout.splitlines()
            if line.startswith(("FAILED ", "ERROR "))]


def pytest_command(args: list[str]) -> list[str]:
    """The pytest command line with extra `args`, its short summary listing failures and errors."""
    return [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", *args]


def time_suite(args: list[str]) -> tuple[float, int, str, list[str]]:
    """Run the suite with extra pytest `args`: wall seconds, exit code, pytest's last line and the failed tests."""
    began = time.perf_counter()
    done = subprocess.run(pytest_command(args), capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return time.perf_counter() - began, done.returncode, lines[-1] if lines else "", failed_tests(done.stdout)


def main() -> None:
    """Time every mode and write the page."""
    rows, seconds, failures = [], {}, []
    for name, args in MODES.items():
        wall, code, summary, failed = time_suite(args)
        seconds[name] = wall if code == 0 else None
        shown = f"{wall / 60:.1f} min" if code == 0 else f"failed (exit {code})"
        rows.append(f"| {name} | `pytest -q {' '.join(args)}` | {shown} | {summary.strip('= ')} |")
        failures += [f"- {name}: `{test}`" for test in failed]
    first, second = seconds.values()
    ratio = f"{first / second:.2f}" if first and second else "-"
    PAGE.write_text("\n".join([
        "# The test suite's wall time", "",
        f"Written by `python -m benchmarks.test_suite` on {machine.now()}; {machine.describe()}.", "",
        "Both modes run the whole suite in the same invocation, one after the other.", "",
        "| mode | command | wall | pytest's summary |", "|---|---|---|---|", *rows, "",
        f"Two workers / one process: {ratio}.", "",
        *(["Failed tests:", "", *failures, ""] if failures else [])]))
    print(PAGE.read_text())


if __name__ == "__main__":
    main()
