"""Printing a briefing's HTML to PDF with a real browser engine: the system's headless Chromium.

Chromium comes from the operating system (`make system-deps` installs Debian's package); nothing is
downloaded at run time. Set ``SIMLIB_CHROMIUM`` to use another Chromium or Chrome binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HOW_TO_GET_IT = (
    "install Chromium with `make system-deps` (Debian package chromium) or set SIMLIB_CHROMIUM to a "
    "Chromium or Chrome binary, then run `simlib brief` again"
)


class PdfError(RuntimeError):
    """The browser could not print the page."""


def find_chromium() -> str | None:
    """The browser binary to print with, or None if there is none."""
    configured = os.environ.get("SIMLIB_CHROMIUM")
    if configured:
        return configured if shutil.which(configured) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_flags(profile: str) -> list[str]:
    """Headless, offline, no first-run work; the sandbox is off only where Chromium refuses it
    (running as root, as in containers and CI)."""
    flags = [
        "--headless",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        f"--user-data-dir={profile}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--no-sandbox")
    return flags


def print_to_pdf(html: Path, pdf: Path, timeout_seconds: float = 120.0) -> None:
    """Print ``html`` (a local file) to ``pdf`` with headless Chromium (A4, no header or footer).

    Raises
    ------
    FileNotFoundError
        No Chromium is installed (the message says how to get one).
    PdfError
        Chromium ran but wrote no PDF.
    """
    browser = find_chromium()
    if browser is None:
        raise FileNotFoundError(f"PDF not written: no Chromium found; {HOW_TO_GET_IT}")
    with tempfile.TemporaryDirectory(prefix="simlib-chromium-") as profile:
        command = [
            browser,
            *chromium_flags(profile),
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            html.resolve().as_uri(),
        ]
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_seconds, check=False
        )
    if completed.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        last = (completed.stderr.strip().splitlines() or ["no message"])[-1]
        raise PdfError(f"Chromium could not print {html.name} (exit {completed.returncode}): {last}")
