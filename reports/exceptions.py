"""What can go wrong making or sending a report, and what to do about it."""

from __future__ import annotations


class ReportError(Exception):
    """A report could not be made or sent; the message says what to do."""


class ChromiumNotFound(ReportError):
    """The PDF needs headless Chromium and none is installed (terminal: install it)."""


class PdfPrintError(ReportError):
    """Chromium ran but did not print the PDF (its last output lines are in the message)."""


class ReportDeliveryError(ReportError):
    """The report email was not sent (transient when the SMTP server is down; the message has no secret)."""
