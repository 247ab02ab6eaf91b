"""One exception hierarchy for matchsim.

Every message says what was wrong, what was received, and how to fix it. The command line turns
any :class:`SimError` into a clean message on stderr and a non-zero exit code (``exit_code``);
anything else escaping the library is a bug.
"""

from __future__ import annotations


class SimError(Exception):
    """Base class of every error matchsim raises on purpose."""

    exit_code: int = 1


class ConfigError(SimError):
    """A configuration file or ``--set`` override is invalid.

    ``problems`` holds one line per problem, each with its dotted key path, the value received and
    what is allowed, so all of them can be reported at once.
    """

    exit_code = 2

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{source}: {n} problem{'s' if n != 1 else ''} in the configuration"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


class OutputExistsError(SimError):
    """The output directory exists and the caller did not ask to replace it."""

    exit_code = 2


class OutputError(SimError):
    """The output cannot be written where it was asked for (no permission, a read-only or full
    filesystem)."""

    exit_code = 2


class InputError(SimError):
    """An input file is missing, unreadable or malformed."""

    exit_code = 2


class BlockingTooCoarse(SimError):
    """A path's blocking rules would make more candidate pairs than memory (or the policy's
    ``max_pairs``) allows: a rule on too coarse a key, found before any pair is made."""

    exit_code = 2


class DataError(SimError):
    """Shipped reference data is missing or inconsistent (a packaging bug, or a broken install)."""

    exit_code = 3


class MissingToolError(SimError):
    """A program matchsim drives (Chromium, for report.pdf) is not installed."""

    exit_code = 3


class EngineError(SimError):
    """An execution engine could not be started or reached (a Dask scheduler that does not answer)."""

    exit_code = 4


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM). Raised where Ctrl-C raises KeyboardInterrupt, so
    that the same cleanup runs: temporary outputs and spilled blocks removed, workers stopped. The
    command line exits with 143 (128 + SIGTERM), as a shell reports it; Ctrl-C exits with 130."""
