"""The server side of the operator's line to a running server: ``crosstrack load``/``versions``/
``rollback`` while ``crosstrack serve`` (or ``crosstrack sql``) holds the embedded engine (the
client side, which the CLI runs before importing anything heavy, is ``crosstrack/handoff.py``).

It sits at the top of the import graph with the CLI (tests/test_layers.py): a load run inside the
server needs the loaders (validate, build, publish), the semantic layer (rollups) and the API
(warm the cache, switch the version clock), so only the composition layer may hold it.

The server listens on ``<data_dir>/control.sock``, a Unix socket created mode 0600 that answers
only a peer of the same user id (``SO_PEERCRED``): who may write the data directory may publish,
nobody else. One request per connection, a JSON line; the answer streams back as JSON lines
``{"o": text}`` (the load's progress and rejects, rendered for the operator's terminal) ending in
``{"exit": code}``. The load runs in the server (``api/live.py``): validate, build beside the
published version, warm the cache, switch.

Nothing here is reachable over the network; there is no token to leak.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from crosstrack.api.live import LivePublisher
from crosstrack.api.service import Service
from crosstrack.config import Settings
from crosstrack.handoff import EXIT_REFUSED, MAX_REQUEST, control_path
from crosstrack.cube.rollups import build_rollups
from crosstrack.loaders.pipeline import run_load
from crosstrack.loaders.publish import RollbackError, rollback, version_states

log = logging.getLogger("crosstrack.control")

# --- shared by the local path and the server ---------------------------------------------------
def print_versions(engine: Any, settings: Settings, console: Console) -> int:
    states = version_states(engine, settings)
    if not states:
        console.print("no data has been published yet")
        return 0
    t = Table(title=f"Data versions of {settings.database} (keeping {settings.keep_versions}: CROSSTRACK_KEEP_VERSIONS)")
    for col in ("version", "loaded at (UTC)", "people-snapshots", "charges", "rejected rows", "state"):
        t.add_column(col)
    for st in states:
        v = st.version
        state = "published" if st.published else ("kept" if st.kept else "removed")
        t.add_row(v.version_id, v.loaded_at.strftime("%Y-%m-%d %H:%M:%S"), f"{v.row_counts.get('custody_facts', 0):,}",
                  f"{v.row_counts.get('charge_facts', 0):,}", f"{v.rejected_rows:,}", state)
    console.print(t)
    return 0


def do_rollback(engine: Any, settings: Settings, console: Console, version: str | None, switch: Any = None) -> int:
    try:
        target = rollback(engine, settings, version)
    except RollbackError as err:
        console.print(f"[red]nothing changed:[/red] {err}")
        return 2
    warmed = switch(target) if switch is not None else None
    console.print(f"published {target.version_id} again (loaded {target.loaded_at:%Y-%m-%d %H:%M:%S} UTC)"
                  + (f"; {warmed} answer(s) warmed before the switch" if warmed is not None else ""))
    return 0


# --- the server side ---------------------------------------------------------------------------
class _Frames:
    """A file for rich's Console: every write goes to the client as one ``{"o": text}`` line."""

    def __init__(self, wfile: Any):
        self.wfile = wfile
        self.lock = threading.Lock()
        self.broken = False

    def write(self, text: str) -> int:
        self.frame({"o": text})
        return len(text)

    def frame(self, obj: dict) -> None:
        if self.broken:
            return
        try:
            with self.lock:
                self.wfile.write(json.dumps(obj).encode() + b"\n")
                self.wfile.flush()
        except OSError:
            self.broken = True  # the operator pressed Ctrl-C; the load goes on, and reports in the log

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class _Handler(socketserver.StreamRequestHandler):
    server: "_ControlServer"

    def handle(self) -> None:
        out = _Frames(self.wfile)
        creds = self.request.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        if uid != os.getuid():
            log.warning("control socket: refused a connection from uid %d", uid)
            out.frame({"o": "refused: only the user running the server may publish\n"})
            out.frame({"exit": EXIT_REFUSED})
            return
        try:
            request = json.loads(self.rfile.readline(MAX_REQUEST) or b"{}")
        except ValueError:
            request = {}
        terminal = bool(request.get("terminal"))
        console = Console(file=out, force_terminal=terminal, width=int(request.get("width") or 100),
                          color_system="standard" if terminal else None, highlight=False, soft_wrap=False)
        try:
            code = self.server.control.run(request, console)
        except Exception as err:  # noqa: BLE001 - reported to the operator, the server keeps serving
            log.exception("control request failed")
            console.print(f"[red]error:[/red] the server could not run the request: {type(err).__name__}")
            code = 3
        out.frame({"exit": int(code)})


class _ControlServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    control: "Control"


@dataclass
class Control:
    settings: Settings
    service: Service
    publisher: LivePublisher
    path: Path
    server: _ControlServer | None = None
    thread: threading.Thread | None = None

    def run(self, request: dict, console: Console) -> int:
        publisher = self.publisher
        cmd = request.get("cmd")
        engine = self.service.engine
        if cmd == "versions":
            return print_versions(engine, self.settings, console)
        if cmd not in ("load", "rollback"):
            console.print(f"[red]error:[/red] unknown request {str(cmd)[:20]!r}")
            return 2
        if not publisher.publishing.acquire(blocking=False):
            console.print("[red]nothing done:[/red] another load or rollback is running in the server; "
                          "wait for it to finish")
            return 3
        try:
            if cmd == "rollback":
                return do_rollback(engine, self.settings, console, request.get("version"), publisher.switch)
            return self._load(request, console, publisher)
        finally:
            publisher.publishing.release()

    def _load(self, request: dict, console: Console, publisher: LivePublisher) -> int:
        model = self.service.model
        console.print(f"loading through the running server (pid {os.getpid()}); readers keep the published "
                      "version until the new one is built, checked and warmed")

        def rollups(engine: Any, database: str) -> None:
            built = build_rollups(engine, model, database, cluster=self.settings.cluster)
            console.print(f"built {len(built)} rollup(s): {', '.join(built)}")

        def switch(version: Any) -> None:
            warmed = publisher.switch(version)
            console.print(f"switched readers to {version.version_id}; {warmed} answer(s) warmed before the switch")

        report = request.get("rejects_report")
        engine = self.service.engine
        with engine.background():  # readers first: the load's statements run low and narrow
            return run_load(self.settings, Path(request["source"]), max_rejects=int(request.get("max_rejects") or 0),
                            rejects_report=Path(report) if report else None, console=console,
                            before_publish=[rollups], after_publish=[switch], engine=engine,
                            allow_empty=list(request.get("allow_empty") or ()))

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def _import_what_a_load_imports() -> None:
    """Import now, before any reader arrives, the modules a load would otherwise import halfway
    through the first publish. chDB imports pandas from native code on its first Arrow insert:
    0.15-0.3 s of module set-up, much of it in extension initialisers that hold the GIL, which
    stalled every reader (p99 beside the first publish 6-14x the p99 without, against about 1x
    for the next ones; tests/test_online_publish.py)."""
    import pandas  # noqa: F401
    import pyarrow.pandas_compat  # noqa: F401

    import crosstrack.loaders.court  # noqa: F401


def start_control(settings: Settings, service: Service, console: Any = None) -> Control | None:
    """Listen on ``<data_dir>/control.sock`` (same user only) in a daemon thread."""
    _import_what_a_load_imports()
    publisher = LivePublisher(service)  # from now on this process owns the published-version pointer
    path = control_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        probe = socket.socket(socket.AF_UNIX)
        try:
            probe.connect(str(path))
            log.warning("control socket %s is served by another process; loads cannot be handed to this one", path)
            return None
        except OSError:
            path.unlink()  # left by a server that was killed
        finally:
            probe.close()
    old = os.umask(0o177)  # the socket is born 0600: no other user may even connect
    try:
        server = _ControlServer(str(path), _Handler)
    except OSError as err:
        log.warning("control socket %s not available (%s); `crosstrack load` cannot publish through this server",
                    path, err.strerror)
        return None
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    control = Control(settings, service, publisher, path, server)
    server.control = control
    control.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                      name="crosstrack-control", daemon=True)
    control.thread.start()
    return control
