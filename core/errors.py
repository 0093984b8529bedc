"""The base exceptions every stage raises or catches.

    OverheardError
    ├── CollectorError              a source could not be collected (`transport.exceptions` has the rest)
    │   ├── TransientError          worth retrying later: the network, a 5xx, a rate limit past the budget
    │   └── TerminalError           retrying will not help until something is fixed
    │       └── CredentialsRejected a platform refused the configured credentials (any platform)
    └── (each package's own errors derive from these or from OverheardError)

Messages say what happened and what to do about it; they never hold a secret.
"""


class OverheardError(Exception):
    """Something Overheard reports to its user; the message says what to do."""


class CollectorError(OverheardError):
    """A source could not be collected; the message says what to do about it."""

    transient = False


class TransientError(CollectorError):
    """Worth retrying later: the network, a 5xx, a rate limit that outlasts our wait budget."""

    transient = True


class TerminalError(CollectorError):
    """Retrying will not help until something is fixed: a 404, a page that is not a feed, bad credentials."""


class CredentialsRejected(TerminalError):
    """A platform refused the configured credentials (or they are missing or malformed); the
    message names the Airflow connection and how to fix it."""
