"""Errors a person can act on: each carries the exit code the command line returns and what to do next."""

from __future__ import annotations

# The command line's exit codes (README "Exit codes"); a scheduler tells outcomes apart by them.
EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_HELD = 3
EXIT_NOT_VALIDATED = 4
EXIT_BUSY = 5
EXIT_MODEL_STORE = 6


class LeadgraphError(Exception):
    """An expected failure with a one-line message and a hint; the CLI prints both, never a traceback."""

    exit_code = EXIT_UNEXPECTED

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class UsageError(LeadgraphError):
    """Bad arguments or a home folder that is not a leadgraph home: nothing was started."""

    exit_code = EXIT_USAGE


class RunHeld(LeadgraphError):
    """D was held (validation failed or severe drift under policy hold): nothing published, earlier lists intact."""

    exit_code = EXIT_HELD


class NotValidated(LeadgraphError):
    """A stage was asked to work on a date whose validation did not pass."""

    exit_code = EXIT_NOT_VALIDATED


class HomeBusy(LeadgraphError):
    """Another run holds the home's lock."""

    exit_code = EXIT_BUSY


class ModelStoreError(LeadgraphError):
    """A model version's files are missing or do not match their recorded checksums."""

    exit_code = EXIT_MODEL_STORE
