"""A terminal driver that leaves cleanly when the terminal goes away (ssh dropped, window closed).

Writes to a hung-up tty fail with EIO; Textual's writer thread dies of the first one, the next 30 frames
fill its queue and the app then blocks for ever, even on its way out. On a hangup the kernel also sends
SIGCONT, and Textual's handler "resumes" onto the dead tty. `hangup_safe(driver_class)` wraps the POSIX
driver so the first failed write marks the terminal gone, drops later output and asks the app to exit
(also when no SIGHUP comes: the tty was not the controlling terminal), and skips that resume. It leans on
Textual 8's LinuxDriver internals (`_file`, `_app`, `resume_application_mode`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable


class _VanishingTerminal:
    """The driver's output file: the first failed write marks the terminal gone and calls `on_gone`."""

    def __init__(self, file, on_gone: Callable[[], None]) -> None:
        self._file = file
        self._on_gone = on_gone
        self.gone = False

    def _went_away(self) -> None:
        if not self.gone:
            self.gone = True
            self._on_gone()

    def write(self, text: str) -> None:
        if not self.gone:
            try:
                self._file.write(text)
            except (OSError, ValueError):
                self._went_away()

    def flush(self) -> None:
        if not self.gone:
            try:
                self._file.flush()
            except (OSError, ValueError):
                self._went_away()

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return not self.gone


def hangup_safe(driver_class: type) -> type:
    """Textual's terminal driver, made to leave cleanly when the terminal goes away (POSIX terminals only;
    any other driver is returned as it is).

    On a hangup the kernel sends SIGHUP *and* SIGCONT. The app exits on SIGHUP; Textual's SIGCONT handler
    would meanwhile "resume" onto the dead tty (a new writer thread that dies at once): skipped here."""
    try:
        from textual.drivers.linux_driver import LinuxDriver
    except ImportError:  # Windows
        return driver_class
    if driver_class is not LinuxDriver:
        return driver_class

    class HangupSafeDriver(LinuxDriver):
        def start_application_mode(self) -> None:
            if not isinstance(self._file, _VanishingTerminal):
                loop = asyncio.get_running_loop()
                app = self._app

                def gone() -> None:
                    try:
                        loop.call_soon_threadsafe(app.exit)
                    except RuntimeError:  # the loop is already closed: the app is gone too
                        pass

                self._file = _VanishingTerminal(self._file, gone)
            super().start_application_mode()

        def resume_application_mode(self) -> None:
            if isinstance(self._file, _VanishingTerminal) and (self._file.gone or not os.isatty(self.fileno)):
                return
            super().resume_application_mode()

    return HangupSafeDriver
