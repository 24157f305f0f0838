"""Errors of dlcore that the command line reports to the user as ``error: <message>``."""

from __future__ import annotations


class DataError(Exception):
    """A data file is missing, corrupt or unverifiable.

    The message is ONE line that says what is wrong and what to do about it, because the CLI
    prints it as is (``error: <message>``, exit status 1) instead of a traceback.
    """

    def __init__(self, message: str) -> None:
        # Messages often embed OS or library errors that may span lines; keep the one-line promise.
        super().__init__(" ".join(str(message).split()))
