"""In a browser (`falcotui serve`), hand the files falcotui writes to the browser as well: an alerts export,
an incident report, the action log's export are written on the machine that serves, which is not the one
the user sits at. Textual's WebDriver streams a delivered file to textual-serve, which offers it once at
`/download/<key>` (behind serve's guard, with a sandboxing Content-Security-Policy) and the page opens it.
In a terminal this does nothing: the notification's path is where the file is."""

from __future__ import annotations

from pathlib import Path

from textual.app import App

from falcotui.falco.sanitize import sanitize


def hand_to_browser(app: App, path: str | Path) -> bool:
    """Offer `path` to the browser as a download when the app runs in one; True when offered.
    (textual-serve's page fetches it with window.open: a browser may treat that as a pop-up once the key
    press that asked for it is more than a few seconds old.)"""
    if not app.is_web:
        return False
    try:
        app.deliver_binary(Path(path), open_method="download")
    except OSError as exc:
        app.notify(f"could not send it to the browser: {sanitize(str(exc), max_len=200)}", severity="warning",
                   markup=False)  # fmt: skip
        return False
    return True
