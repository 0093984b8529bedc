"""The report as a PDF, printed by headless Chromium from the HTML file (Debian: `apt-get install chromium`).

Chromium is started with a throw-away profile, without sandbox (it runs as root in containers and
CI, where the sandbox cannot start; the page it prints is our own, has no script and may load nothing),
and without background networking, so printing sends nothing anywhere.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from reports.exceptions import ChromiumNotFound, PdfPrintError

CHROMIUM_COMMANDS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PRINT_TIMEOUT_SECONDS = 120
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
)
_OUTPUT_LINES = 5


def find_chromium() -> str:
    """The path of a Chromium (or Chrome) executable on PATH.

    Raises:
        ChromiumNotFound: none is installed.
    """
    for command in CHROMIUM_COMMANDS:
        path = shutil.which(command)
        if path:
            return path
    raise ChromiumNotFound(
        "the PDF report needs headless Chromium, which is not installed: run `apt-get install chromium` "
        "(Debian/Ubuntu), or render without the PDF"
    )


def print_pdf(html_path: Path, pdf_path: Path, *, timeout_seconds: float = PRINT_TIMEOUT_SECONDS) -> None:
    """Print an HTML file to PDF with headless Chromium (A4, no header or footer lines).

    Args:
        html_path: the HTML file.
        pdf_path: the PDF to write (replaced if it exists).
        timeout_seconds: how long Chromium may take.

    Raises:
        ChromiumNotFound: Chromium is not installed.
        PdfPrintError: Chromium failed, timed out or wrote no PDF.
    """
    chromium = find_chromium()
    pdf_path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="overheard-chromium-") as profile:
        command = [
            chromium, *HEADLESS_FLAGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
            f"--print-to-pdf={pdf_path.resolve()}", html_path.resolve().as_uri(),
        ]
        try:
            finished = subprocess.run(command, capture_output=True, text=True, timeout=timeout_seconds, check=False)
        except subprocess.TimeoutExpired:
            raise PdfPrintError(f"Chromium did not print {html_path.name} within {timeout_seconds:.0f} s") from None
    if finished.returncode != 0 or not pdf_path.exists() or pdf_path.read_bytes()[:5] != b"%PDF-":
        tail = "\n".join(finished.stderr.strip().splitlines()[-_OUTPUT_LINES:])
        raise PdfPrintError(f"Chromium (exit {finished.returncode}) did not print {html_path.name} to PDF:\n{tail}")
