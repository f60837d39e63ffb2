"""The exceptions noaiguard raises.

NoAIGuardError      base of everything below
├── ConfigError     a YAML config or agent data file is invalid; carries every ConfigIssue found
├── StoreError      an event store could not be opened or written (driver errors are wrapped)
└── DeliveryError   a report could not be sent by email (the SMTP or network error is the cause)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class NoAIGuardError(Exception):
    """Base class of all noaiguard errors."""


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in one place of one file, printed the way compilers print them."""

    path: str
    #: 1-based; 0 when the config did not come from a file (an inline mapping).
    line: int
    column: int
    key: str
    message: str

    def __str__(self) -> str:
        if self.line == 0:  # not from a file (an inline mapping): no position to give
            return f"{self.path}: {self.key}: {self.message}"
        return f"{self.path}:{self.line}:{self.column}: {self.key}: {self.message}"


class ConfigError(NoAIGuardError):
    """Every problem found in one load, so that a person can fix them all in one pass."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(map(str, self.issues)))


class StoreError(NoAIGuardError):
    """An event store failed; the original driver exception is the __cause__."""


class DeliveryError(NoAIGuardError):
    """A report could not be handed to the mail server.

    The message names the server as ``host:port`` and what went wrong (the SMTP reply or the
    network error), never the password; the original exception is the __cause__.
    """
