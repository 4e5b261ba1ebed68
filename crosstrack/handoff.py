"""The client side of the operator's line to a running server (``crosstrack/control.py`` is the
server side): find what holds the embedded engine's data directory and hand a request to it.

Imports nothing but the settings, so ``crosstrack load`` handing its load to a running server
costs the serving machine next to nothing.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from crosstrack.config import Settings

SOCKET_NAME = "control.sock"
MAX_REQUEST = 64 * 1024
EXIT_REFUSED = 5


def control_path(settings: Settings) -> Path:
    return settings.data_dir.resolve() / SOCKET_NAME


# --- what holds the data directory ------------------------------------------------------------
def data_dir_holder(settings: Settings) -> str | None:
    """'pid N' when another process holds the embedded engine's directory (chDB's status-file
    lock), else None. Only asked before this process opens the engine."""
    url = settings.engine_url
    if not url.startswith("chdb:///"):
        return None
    status = Path(urlparse(url).path) / "status"
    if not status.exists():
        return None
    try:
        with status.open("rb") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                first = f.read(200).decode("utf-8", "replace").splitlines()
                pid = next((ln.split(":", 1)[1].strip() for ln in first if ln.startswith("PID:")), "")
                return f"pid {pid}" if pid.isdigit() else "another process"
            fcntl.flock(f, fcntl.LOCK_UN)
    except OSError:
        return None
    return None


def held_message(settings: Settings, holder: str, what: str = "load") -> str:
    return (f"the data directory {settings.data_dir.resolve()} is held by a running crosstrack server ({holder}); "
            f"the embedded engine belongs to one process, so this {what} cannot open it. Publish through the "
            f"server: keep it running and run this command again once it listens on "
            f"{control_path(settings)} (`crosstrack serve` and `crosstrack sql` do), or stop the server, "
            f"run the {what}, and start it again.")


# --- the client side ---------------------------------------------------------------------------
def hand_off(settings: Settings, request: dict, out: Any = None) -> int | None:
    """Send ``request`` to the server holding the data directory and relay its output; the exit
    code, or None when no server listens (the caller then works on the engine itself)."""
    path = control_path(settings)
    if not path.exists():
        return None
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    out = out or sys.stderr
    terminal = bool(getattr(out, "isatty", lambda: False)())
    try:
        width = os.get_terminal_size(out.fileno()).columns if terminal else 100
    except (OSError, ValueError, AttributeError):
        width = 100
    with sock, sock.makefile("rwb") as f:
        f.write(json.dumps({**request, "terminal": terminal, "width": width}).encode() + b"\n")
        f.flush()
        for line in f:
            msg = json.loads(line)
            if "o" in msg:
                out.write(msg["o"])
                out.flush()
            elif "exit" in msg:
                return int(msg["exit"])
    out.write("error: the server closed the connection before the request finished; see the server's log\n")
    return 3
