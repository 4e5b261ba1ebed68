"""The Postgres frontend/backend protocol (version 3.0), server side: one connection's handler.

Only what BI tools and drivers need: startup with optional TLS (SSLRequest) and SCRAM-SHA-256
password authentication (``api.pgwire.scram``), the simple query flow (Query) and the extended
flow (Parse/Bind/Describe/Execute/Close/Sync/Flush) with text and binary parameters and results
(``api.pgwire.pgtypes``). What a statement means is the session's business
(``api.pgwire.session``); this module only moves messages. Every error is a problem sent as an
ErrorResponse (``api.pgwire.errors``). Nothing here logs query text or parameter values.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import socketserver
import ssl
import struct
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crosstrack.api.pgwire.errors import PgError
from crosstrack.api.pgwire.messages import Buf, Column, Reader, Result, cstr, msg
from crosstrack.api.pgwire.pgtypes import TEXT, TYPLEN, decode_param, encode_binary, encode_text
from crosstrack.api.pgwire.scram import ScramExchange

if TYPE_CHECKING:  # the server module imports this one
    from crosstrack.api.pgwire.server import PgServer

log = logging.getLogger("crosstrack.pgwire")

PROTOCOL_3 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
MAX_MESSAGE = 16 * 1024 * 1024  # a query bigger than this is not a BI query
STARTUP_TIMEOUT_S = 10.0  # default: TLS handshake + startup packet + password must all finish within this


@dataclass
class Portal:
    prepared: Any
    params: list[Any]
    result_formats: list[int]
    result: Result | None = None
    sent: int = 0


class PgHandler(socketserver.StreamRequestHandler):
    server: PgServer

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- I/O
    def send(self, data: bytes) -> None:
        self.wfile.write(data)

    def flush(self) -> None:
        self.wfile.flush()

    def read_message(self) -> tuple[bytes, bytes]:
        r = Reader(self.rfile)
        kind = r.exact(1)
        (length,) = struct.unpack("!i", r.exact(4))
        if length < 4 or length > MAX_MESSAGE:
            raise ConnectionError("bad message length")
        return kind, r.exact(length - 4)

    def send_error(self, err: PgError) -> None:
        self.send(err.message_bytes())

    def send_notice(self, text: str) -> None:
        payload = b"S" + cstr("NOTICE") + b"V" + cstr("NOTICE") + b"C" + cstr("00000") + b"M" + cstr(text)
        self.send(msg(b"N", payload + b"\x00"))

    def ready(self) -> None:
        self.send(msg(b"Z", self.tx_status))
        self.flush()

    # -- startup
    def handle(self) -> None:
        self.tx_status = b"I"
        self.has_slot = False
        self.peer = str(self.client_address[0]) if self.client_address else "unknown"
        server = self.server
        # One deadline for the whole of TLS + startup + authentication (api/pgwire/guard.py).
        token = server.deadlines.add(server.startup_timeout_s, lambda: self.request)
        try:
            try:
                self.request.settimeout(server.startup_timeout_s)
                started = self.startup()
            finally:
                server.deadlines.cancel(token)
                server.end_startup(self.peer)
            if not started:
                return
            self.request.settimeout(None)  # BI tools keep idle connections open
            self.loop()
        except (ConnectionError, ssl.SSLError, OSError, struct.error):
            return
        except Exception:
            log.exception("SQL surface connection failed")
        finally:
            if self.has_slot:
                self.server.release_slot()

    def _rebind_tls(self) -> None:
        assert self.server.tls is not None
        self.connection = self.server.tls.wrap_socket(self.request, server_side=True)
        self.request = self.connection
        self.rfile = self.connection.makefile("rb", self.rbufsize)
        self.wfile = socketserver._SocketWriter(self.connection)  # type: ignore[attr-defined]

    def startup(self) -> bool:
        r = Reader(self.rfile)
        tls_done = False
        while True:
            (length,) = struct.unpack("!i", r.exact(4))
            if length < 8 or length > 10_000:
                return False
            body = Buf(r.exact(length - 4))
            code = body.int32()
            if code == SSL_REQUEST and not tls_done:
                if self.server.tls is None:
                    self.send(b"N")
                    self.flush()
                else:
                    self.send(b"S")
                    self.flush()
                    self._rebind_tls()
                    r = Reader(self.rfile)
                    tls_done = True
                continue
            if code == GSSENC_REQUEST:
                self.send(b"N")
                self.flush()
                continue
            if code == CANCEL_REQUEST:
                return False  # queries are short and bounded by engine limits; nothing to cancel
            if code != PROTOCOL_3:
                self.send_error(PgError("sql.protocol_violation", "unsupported frontend protocol; crosstrack speaks protocol 3.0",
                                        severity="FATAL"))
                self.flush()
                return False
            break
        params: dict[str, str] = {}
        while True:
            key = body.cstr()
            if not key:
                break
            params[key] = body.cstr()
        if self.server.require_tls and not tls_done:
            self.send_error(PgError("sql.auth_refused", "TLS is required: this server refuses plain connections; "
                                    "connect with sslmode=require", severity="FATAL"))
            self.flush()
            return False
        locked = self.server.login_guard.locked_for(self.peer) if self.server.verifier is not None else 0.0
        if locked > 0:
            self.send_error(PgError("sql.auth_refused", f"too many failed logins from this address; try again in "
                                    f"{math.ceil(locked)} s", severity="FATAL"))
            self.flush()
            return False
        buckets = self.server.rate_limit
        if buckets is not None and buckets.wait(self.peer) > 0:
            retry = max(1, math.ceil(buckets.wait(self.peer)))
            self.send_error(PgError("sql.rate_limited", f"too many queries and failed logins from this address; try again in "
                                    f"{retry} s", severity="FATAL"))
            self.flush()
            return False
        self.user = params.get("user", "")
        if self.server.verifier is not None and not self.authenticate():
            return False
        # A slot is counted only once authenticated, so clients that never finish cannot hold
        # the ones with the password out (connections still authenticating are capped per address).
        if not self.server.take_slot():
            cap = self.server.max_connections
            self.send_error(PgError("sql.too_many_connections", f"too many connections: the SQL surface allows at most {cap} at once; "
                                    "try again when another client disconnects", severity="FATAL"))
            self.flush()
            return False
        self.has_slot = True
        self.send(msg(b"R", struct.pack("!i", 0)))
        self.session = self.server.session_factory(params)
        for k, v in self.session.parameters.items():
            self.send(msg(b"S", cstr(k) + cstr(v)))
        self.send(msg(b"K", struct.pack("!ii", threading.get_ident() & 0x7FFFFFFF, int.from_bytes(os.urandom(4), "big") >> 1)))
        self.ready()
        return True

    def authenticate(self) -> bool:
        v = self.server.verifier
        assert v is not None
        self.send(msg(b"R", struct.pack("!i", 10) + cstr("SCRAM-SHA-256") + b"\x00"))
        self.flush()
        failed = PgError("sql.auth_failed", f"password authentication failed for user \"{self.user[:63]}\"",
                         loc=("startup", "password"), severity="FATAL")
        exchange = ScramExchange(v)
        try:
            kind, payload = self.read_message()
            if kind != b"p":
                return False
            b = Buf(payload)
            mech = b.cstr()
            n = b.int32()
            server_first = exchange.first(mech, b.take(n).decode("utf-8"))
            self.send(msg(b"R", struct.pack("!i", 11) + server_first.encode()))
            self.flush()
            kind, payload = self.read_message()
            if kind != b"p":
                return False
            server_final = exchange.final(payload.decode("utf-8"))
            self.send(msg(b"R", struct.pack("!i", 12) + server_final.encode()))
            self.server.login_guard.succeeded(self.peer)
            return True
        except (ValueError, KeyError, IndexError, UnicodeDecodeError, struct.error):
            # A failed login costs the address a rate-limit token and an exponentially growing
            # wait, and enough of them lock it out (api/pgwire/guard.py).
            if self.server.rate_limit is not None:
                self.server.rate_limit.take(self.peer)
            time.sleep(self.server.login_guard.failed(self.peer))
            self.send_error(failed)
            self.flush()
            return False

    # -- the message loop
    def loop(self) -> None:
        self.statements: dict[str, Any] = {}
        self.portals: dict[str, Portal] = {}
        skipping = False  # after an error in the extended flow, discard until Sync
        while True:
            kind, payload = self.read_message()
            if kind == b"X":
                return
            if kind == b"S":
                skipping = False
                self.portals.pop("", None)
                self.ready()
                continue
            if kind == b"H":
                self.flush()
                continue
            if skipping and kind in b"PBDEC":
                continue
            try:
                if kind == b"Q":
                    self.simple_query(Buf(payload).cstr())
                elif kind == b"P":
                    self.parse(payload)
                elif kind == b"B":
                    self.bind(payload)
                elif kind == b"D":
                    self.describe(payload)
                elif kind == b"E":
                    self.execute(payload)
                elif kind == b"C":
                    self.close(payload)
                elif kind in (b"d", b"c", b"f"):
                    raise PgError("sql.unsupported_feature", "COPY is not supported; crosstrack is read-only")
                else:
                    raise PgError("sql.protocol_violation", f"unexpected message type {kind!r}")
            except PgError as err:
                self.send_error(err)
                if kind == b"Q":
                    self.ready()
                else:
                    skipping = True
                    if self.tx_status == b"T":
                        self.tx_status = b"E"

    def _track_tx(self, tag: str) -> None:
        word = tag.split(" ", 1)[0]
        if word in ("BEGIN", "START"):
            self.tx_status = b"T"
        elif word in ("COMMIT", "ROLLBACK"):
            self.tx_status = b"I"

    def check_rate(self) -> None:
        """One token per query from this client's address (``api.ratelimit.TokenBuckets``)."""
        buckets = self.server.rate_limit
        if buckets is None:
            return
        wait = buckets.take(str(self.client_address[0]) if self.client_address else "unknown")
        if wait > 0.0:
            retry = max(1, math.ceil(wait))
            per_minute = int(buckets.capacity)
            raise PgError("sql.rate_limited", f"too many queries from this address; try again in {retry} s",
                          hint=f"at most {per_minute} queries per minute per client; the connection stays open")

    def simple_query(self, sql: str) -> None:
        if self.tx_status == b"E" and not sql.strip().rstrip(";").strip().upper().startswith(("ROLLBACK", "COMMIT", "ABORT", "END")):
            self.send_error(PgError("sql.transaction_aborted", "current transaction is aborted, commands ignored until end of transaction block"))
            self.ready()
            return
        try:
            self.check_rate()
            results = self.session.run_simple(sql)
        except PgError:
            if self.tx_status == b"T":
                self.tx_status = b"E"
            raise
        for res in results:
            self._notices(res)
            if res.empty:
                self.send(msg(b"I"))
                continue
            if res.copy_data is not None:  # CopyOutResponse (text format), CopyData..., CopyDone
                ncols = len(res.columns or [])
                self.send(msg(b"H", struct.pack("!bh", 0, ncols) + struct.pack("!h", 0) * ncols))
                for line in res.copy_data:
                    self.send(msg(b"d", line))
                self.send(msg(b"c"))
            elif res.columns is not None:
                self.send(self.row_description(res.columns, []))
                for row in res.rows:
                    self.send(self.data_row(row, res.columns, []))
            self.send(msg(b"C", cstr(res.tag)))
            self._track_tx(res.tag)
        self.ready()

    def _notices(self, res: Result) -> None:
        for n in res.notices:
            self.send_notice(n)
        res.notices = []

    def parse(self, payload: bytes) -> None:
        b = Buf(payload)
        name, sql = b.cstr(), b.cstr()
        n = b.int16()
        oids = [b.int32() for _ in range(n)]
        self.statements[name] = self.session.prepare(sql, oids)
        self.send(msg(b"1"))

    def bind(self, payload: bytes) -> None:
        b = Buf(payload)
        portal, stmt = b.cstr(), b.cstr()
        if stmt not in self.statements:
            raise PgError("sql.unknown_statement", f"prepared statement \"{stmt[:63]}\" does not exist")
        prepared = self.statements[stmt]
        nf = b.int16()
        fmts = [b.int16() for _ in range(nf)]
        np_ = b.int16()
        raws: list[bytes | None] = []
        for _ in range(np_):
            ln = b.int32()
            raws.append(None if ln == -1 else b.take(ln))
        nr = b.int16()
        rfmts = [b.int16() for _ in range(nr)]
        oids = self.session.param_oids(prepared)
        params = []
        for i, raw in enumerate(raws):
            fmt = fmts[i] if len(fmts) > 1 else (fmts[0] if fmts else 0)
            oid = oids[i] if i < len(oids) else 0
            params.append(decode_param(raw, oid, fmt))
        self.portals[portal] = Portal(prepared, params, rfmts)
        self.send(msg(b"2"))

    def describe(self, payload: bytes) -> None:
        b = Buf(payload)
        what, name = b.take(1), b.cstr()
        if what == b"S":
            if name not in self.statements:
                raise PgError("sql.unknown_statement", f"prepared statement \"{name[:63]}\" does not exist")
            prepared = self.statements[name]
            oids = self.session.param_oids(prepared)
            self.send(msg(b"t", struct.pack("!h", len(oids)) + b"".join(struct.pack("!i", o or TEXT) for o in oids)))
            cols = self.session.describe(prepared)
            self.send(self.row_description(cols, []) if cols is not None else msg(b"n"))
            return
        portal = self._portal(name)
        res = self._run_portal(portal)
        self.send(self.row_description(res.columns, portal.result_formats) if res.columns is not None else msg(b"n"))

    def _portal(self, name: str) -> Portal:
        if name not in self.portals:
            raise PgError("sql.unknown_portal", f"portal \"{name[:63]}\" does not exist")
        return self.portals[name]

    def _run_portal(self, portal: Portal) -> Result:
        if portal.result is None:
            if self.tx_status == b"E":
                raise PgError("sql.transaction_aborted", "current transaction is aborted, commands ignored until end of transaction block")
            self.check_rate()
            portal.result = self.session.execute(portal.prepared, portal.params)
        return portal.result

    def execute(self, payload: bytes) -> None:
        b = Buf(payload)
        name = b.cstr()
        max_rows = b.int32()
        portal = self._portal(name)
        res = self._run_portal(portal)
        self._notices(res)
        if res.empty:
            self.send(msg(b"I"))
            return
        if res.columns is not None:
            rows = res.rows[portal.sent:]
            if max_rows > 0 and len(rows) > max_rows:
                for row in rows[:max_rows]:
                    self.send(self.data_row(row, res.columns, portal.result_formats))
                portal.sent += max_rows
                self.send(msg(b"s"))
                return
            for row in rows:
                self.send(self.data_row(row, res.columns, portal.result_formats))
            portal.sent = len(res.rows)
        self.send(msg(b"C", cstr(res.tag)))
        self._track_tx(res.tag)

    def close(self, payload: bytes) -> None:
        b = Buf(payload)
        what, name = b.take(1), b.cstr()
        (self.statements if what == b"S" else self.portals).pop(name, None)
        self.send(msg(b"3"))

    # -- row encoding
    @staticmethod
    def _fmt(formats: list[int], i: int) -> int:
        if not formats:
            return 0
        return formats[i] if len(formats) > 1 else formats[0]

    def row_description(self, cols: list[Column], formats: list[int]) -> bytes:
        out = [struct.pack("!h", len(cols))]
        for i, c in enumerate(cols):
            out.append(cstr(c.name) + struct.pack("!ihihih", 0, 0, c.oid, TYPLEN.get(c.oid, -1), -1, self._fmt(formats, i)))
        return msg(b"T", b"".join(out))

    def data_row(self, row: tuple, cols: list[Column], formats: list[int]) -> bytes:
        out = [struct.pack("!h", len(row))]
        for i, v in enumerate(row):
            if v is None:
                out.append(struct.pack("!i", -1))
                continue
            data = encode_binary(v, cols[i].oid) if self._fmt(formats, i) == 1 else encode_text(v, cols[i].oid)
            out.append(struct.pack("!i", len(data)) + data)
        return msg(b"D", b"".join(out))


