"""The Postgres frontend/backend protocol (version 3.0), server side, on socketserver.

Only what BI tools and drivers need: startup with optional TLS (SSLRequest) and SCRAM-SHA-256
password authentication, the simple query flow (Query) and the extended flow
(Parse/Bind/Describe/Execute/Close/Sync/Flush) with text and binary parameters and results.
What a statement means is the session's business (``api.pgwire.session``); this module only
moves messages. Nothing here logs query text or parameter values.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import os
import socket
import socketserver
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from crosstrack.api.pgwire.guard import Deadlines, LoginGuard

log = logging.getLogger("crosstrack.pgwire")

PROTOCOL_3 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
MAX_MESSAGE = 16 * 1024 * 1024  # a query bigger than this is not a BI query
STARTUP_TIMEOUT_S = 10.0  # default: TLS handshake + startup packet + password must all finish within this

# Type OIDs (pg_type.oid) used by the surface.
BOOL, BYTEA, NAME, INT8, INT2, INT4, TEXT, OID = 16, 17, 19, 20, 21, 23, 25, 26
FLOAT4, FLOAT8, VARCHAR, NUMERIC, UNKNOWN = 700, 701, 1043, 1700, 705
TYPLEN = {BOOL: 1, INT2: 2, INT4: 4, INT8: 8, OID: 4, FLOAT4: 4, FLOAT8: 8, NAME: 64}


class PgError(Exception):
    """An error to send to the client as an ErrorResponse (SQLSTATE + message + hint)."""

    def __init__(self, sqlstate: str, message: str, *, hint: str | None = None, detail: str | None = None,
                 severity: str = "ERROR"):
        super().__init__(message)
        self.sqlstate = sqlstate
        self.message = message
        self.hint = hint
        self.detail = detail
        self.severity = severity


@dataclass(frozen=True)
class Column:
    name: str
    oid: int = TEXT


@dataclass
class Result:
    """One statement's answer: ``columns`` None means no row set (SET, BEGIN...)."""

    tag: str
    columns: list[Column] | None = None
    rows: list[tuple] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    empty: bool = False  # the empty query string
    copy_data: list[bytes] | None = None  # COPY ... TO STDOUT: CopyData lines (api/pgwire/copyout.py)


class Session(Protocol):
    parameters: dict[str, str]

    def run_simple(self, sql: str) -> list[Result]: ...

    def prepare(self, sql: str, param_oids: list[int]) -> Any: ...

    def param_oids(self, prepared: Any) -> list[int]: ...

    def describe(self, prepared: Any) -> list[Column] | None: ...

    def execute(self, prepared: Any, params: list[Any]) -> Result: ...


# --- value encoding --------------------------------------------------------------------------
def encode_text(value: Any, oid: int) -> bytes:
    if isinstance(value, bool):
        return b"t" if value else b"f"
    if isinstance(value, float):
        if value != value:
            return b"NaN"
        if value in (float("inf"), float("-inf")):
            return b"Infinity" if value > 0 else b"-Infinity"
        return repr(value).encode()
    if isinstance(value, bytes):
        return b"\\x" + value.hex().encode()
    return str(value).encode("utf-8")


def encode_binary(value: Any, oid: int) -> bytes:
    if oid == BOOL:
        return b"\x01" if value else b"\x00"
    if oid == INT8:
        return struct.pack("!q", int(value))
    if oid in (INT4,):
        return struct.pack("!i", int(value))
    if oid == OID:
        return struct.pack("!I", int(value))
    if oid == INT2:
        return struct.pack("!h", int(value))
    if oid == FLOAT8:
        return struct.pack("!d", float(value))
    if oid == FLOAT4:
        return struct.pack("!f", float(value))
    if oid in (TEXT, VARCHAR, NAME, UNKNOWN):
        return str(value).encode("utf-8")
    if oid == BYTEA:
        return bytes(value)
    raise PgError("0A000", f"binary output is not supported for type oid {oid}; ask for text results",
                  hint="binary results are available for bool, int2/4/8, float4/8 and text")


def decode_param(raw: bytes | None, oid: int, fmt: int) -> Any:
    if raw is None:
        return None
    if fmt == 1:
        if oid == INT8:
            return struct.unpack("!q", raw)[0]
        if oid in (INT4, OID):
            return struct.unpack("!i", raw)[0]
        if oid == INT2:
            return struct.unpack("!h", raw)[0]
        if oid == FLOAT8:
            return struct.unpack("!d", raw)[0]
        if oid == FLOAT4:
            return struct.unpack("!f", raw)[0]
        if oid == BOOL:
            return raw != b"\x00"
        if oid in (TEXT, VARCHAR, NAME, UNKNOWN, 0):
            return raw.decode("utf-8")
        if oid == NUMERIC:
            return _decode_numeric(raw)
        raise PgError("0A000", f"binary parameters of type oid {oid} are not supported",
                      hint="send parameters as text, or as bool, int2/4/8, float4/8, numeric or text")
    text = raw.decode("utf-8")
    if oid in (INT2, INT4, INT8, OID):
        try:
            return int(text)
        except ValueError:
            raise PgError("22P02", f"invalid input syntax for type integer: {text[:40]!r}") from None
    if oid in (FLOAT4, FLOAT8):
        return float(text)
    if oid == NUMERIC:
        d = Decimal(text)
        return int(d) if d == d.to_integral_value() else float(d)
    if oid == BOOL:
        return text.lower() in ("t", "true", "1", "yes", "on", "y")
    return text


def _decode_numeric(raw: bytes) -> int | float:
    ndigits, weight, sign, _dscale = struct.unpack("!hhHH", raw[:8])
    digits = struct.unpack(f"!{ndigits}H", raw[8:8 + 2 * ndigits])
    value = Decimal(0)
    for i, d in enumerate(digits):
        value += Decimal(d) * (Decimal(10000) ** (weight - i))
    if sign == 0x4000:
        value = -value
    return int(value) if value == value.to_integral_value() else float(value)


# --- SCRAM-SHA-256 (RFC 5802/7677), as Postgres does it ---------------------------------------
class ScramVerifier:
    ITERATIONS = 4096

    def __init__(self, password: str):
        self.salt = os.urandom(16)
        salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), self.salt, self.ITERATIONS)
        self.stored_key = hashlib.sha256(_hmac(salted, b"Client Key")).digest()
        self.server_key = _hmac(salted, b"Server Key")


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


# --- the connection handler ------------------------------------------------------------------
class _Reader:
    def __init__(self, f):
        self.f = f

    def exact(self, n: int) -> bytes:
        data = self.f.read(n)
        if data is None or len(data) < n:
            raise ConnectionError("client closed the connection")
        return data


class _Buf:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def cstr(self) -> str:
        end = self.data.index(b"\x00", self.pos)
        s = self.data[self.pos:end].decode("utf-8")
        self.pos = end + 1
        return s

    def int16(self) -> int:
        (v,) = struct.unpack_from("!h", self.data, self.pos)
        self.pos += 2
        return v

    def int32(self) -> int:
        (v,) = struct.unpack_from("!i", self.data, self.pos)
        self.pos += 4
        return v

    def take(self, n: int) -> bytes:
        v = self.data[self.pos:self.pos + n]
        self.pos += n
        return v


def _msg(kind: bytes, payload: bytes = b"") -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def _cstr(s: str) -> bytes:
    return s.encode("utf-8") + b"\x00"


@dataclass
class _Portal:
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
        r = _Reader(self.rfile)
        kind = r.exact(1)
        (length,) = struct.unpack("!i", r.exact(4))
        if length < 4 or length > MAX_MESSAGE:
            raise ConnectionError("bad message length")
        return kind, r.exact(length - 4)

    def send_error(self, err: PgError) -> None:
        payload = b"S" + _cstr(err.severity) + b"V" + _cstr(err.severity) + b"C" + _cstr(err.sqlstate) + b"M" + _cstr(err.message)
        if err.detail:
            payload += b"D" + _cstr(err.detail)
        if err.hint:
            payload += b"H" + _cstr(err.hint)
        self.send(_msg(b"E", payload + b"\x00"))

    def send_notice(self, text: str) -> None:
        payload = b"S" + _cstr("NOTICE") + b"V" + _cstr("NOTICE") + b"C" + _cstr("00000") + b"M" + _cstr(text)
        self.send(_msg(b"N", payload + b"\x00"))

    def ready(self) -> None:
        self.send(_msg(b"Z", self.tx_status))
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
        r = _Reader(self.rfile)
        tls_done = False
        while True:
            (length,) = struct.unpack("!i", r.exact(4))
            if length < 8 or length > 10_000:
                return False
            body = _Buf(r.exact(length - 4))
            code = body.int32()
            if code == SSL_REQUEST and not tls_done:
                if self.server.tls is None:
                    self.send(b"N")
                    self.flush()
                else:
                    self.send(b"S")
                    self.flush()
                    self._rebind_tls()
                    r = _Reader(self.rfile)
                    tls_done = True
                continue
            if code == GSSENC_REQUEST:
                self.send(b"N")
                self.flush()
                continue
            if code == CANCEL_REQUEST:
                return False  # queries are short and bounded by engine limits; nothing to cancel
            if code != PROTOCOL_3:
                self.send_error(PgError("08P01", "unsupported frontend protocol; crosstrack speaks protocol 3.0",
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
            self.send_error(PgError("28000", "TLS is required: this server refuses plain connections; "
                                    "connect with sslmode=require", severity="FATAL"))
            self.flush()
            return False
        locked = self.server.login_guard.locked_for(self.peer) if self.server.verifier is not None else 0.0
        if locked > 0:
            self.send_error(PgError("28000", f"too many failed logins from this address; try again in "
                                    f"{math.ceil(locked)} s", severity="FATAL"))
            self.flush()
            return False
        buckets = self.server.rate_limit
        if buckets is not None and buckets.wait(self.peer) > 0:
            retry = max(1, math.ceil(buckets.wait(self.peer)))
            self.send_error(PgError("53400", f"too many queries and failed logins from this address; try again in "
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
            self.send_error(PgError("53300", f"too many connections: the SQL surface allows at most {cap} at once; "
                                    "try again when another client disconnects", severity="FATAL"))
            self.flush()
            return False
        self.has_slot = True
        self.send(_msg(b"R", struct.pack("!i", 0)))
        self.session = self.server.session_factory(params)
        for k, v in self.session.parameters.items():
            self.send(_msg(b"S", _cstr(k) + _cstr(v)))
        self.send(_msg(b"K", struct.pack("!ii", threading.get_ident() & 0x7FFFFFFF, int.from_bytes(os.urandom(4), "big") >> 1)))
        self.ready()
        return True

    def authenticate(self) -> bool:
        v = self.server.verifier
        assert v is not None
        self.send(_msg(b"R", struct.pack("!i", 10) + _cstr("SCRAM-SHA-256") + b"\x00"))
        self.flush()
        failed = PgError("28P01", f"password authentication failed for user \"{self.user[:63]}\"", severity="FATAL")
        try:
            kind, payload = self.read_message()
            if kind != b"p":
                return False
            b = _Buf(payload)
            mech = b.cstr()
            n = b.int32()
            client_first = b.take(n).decode("utf-8")
            if mech != "SCRAM-SHA-256" or not client_first.startswith(("n,", "y,")):
                raise ValueError
            gs2_end = client_first.index(",", 2) + 1
            gs2, client_first_bare = client_first[:gs2_end], client_first[gs2_end:]
            attrs = dict(p.split("=", 1) for p in client_first_bare.split(","))
            nonce = attrs["r"] + base64.b64encode(os.urandom(18)).decode()
            server_first = f"r={nonce},s={base64.b64encode(v.salt).decode()},i={v.ITERATIONS}"
            self.send(_msg(b"R", struct.pack("!i", 11) + server_first.encode()))
            self.flush()
            kind, payload = self.read_message()
            if kind != b"p":
                return False
            client_final = payload.decode("utf-8")
            without_proof, proof_part = client_final.rsplit(",p=", 1)
            fattrs = dict(p.split("=", 1) for p in without_proof.split(","))
            if fattrs.get("r") != nonce or base64.b64decode(fattrs.get("c", "")) != gs2.encode():
                raise ValueError
            auth_message = f"{client_first_bare},{server_first},{without_proof}".encode()
            signature = _hmac(v.stored_key, auth_message)
            proof = base64.b64decode(proof_part)
            client_key = bytes(a ^ b for a, b in zip(proof, signature))
            if len(proof) != 32 or not hmac.compare_digest(hashlib.sha256(client_key).digest(), v.stored_key):
                raise ValueError
            server_sig = base64.b64encode(_hmac(v.server_key, auth_message)).decode()
            self.send(_msg(b"R", struct.pack("!i", 12) + f"v={server_sig}".encode()))
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
        self.portals: dict[str, _Portal] = {}
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
                    self.simple_query(_Buf(payload).cstr())
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
                    raise PgError("0A000", "COPY is not supported; crosstrack is read-only")
                else:
                    raise PgError("08P01", f"unexpected message type {kind!r}")
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
            raise PgError("53400", f"too many queries from this address; try again in {retry} s",
                          hint=f"at most {per_minute} queries per minute per client; the connection stays open")

    def simple_query(self, sql: str) -> None:
        if self.tx_status == b"E" and not sql.strip().rstrip(";").strip().upper().startswith(("ROLLBACK", "COMMIT", "ABORT", "END")):
            self.send_error(PgError("25P02", "current transaction is aborted, commands ignored until end of transaction block"))
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
                self.send(_msg(b"I"))
                continue
            if res.copy_data is not None:  # CopyOutResponse (text format), CopyData..., CopyDone
                ncols = len(res.columns or [])
                self.send(_msg(b"H", struct.pack("!bh", 0, ncols) + struct.pack("!h", 0) * ncols))
                for line in res.copy_data:
                    self.send(_msg(b"d", line))
                self.send(_msg(b"c"))
            elif res.columns is not None:
                self.send(self.row_description(res.columns, []))
                for row in res.rows:
                    self.send(self.data_row(row, res.columns, []))
            self.send(_msg(b"C", _cstr(res.tag)))
            self._track_tx(res.tag)
        self.ready()

    def _notices(self, res: Result) -> None:
        for n in res.notices:
            self.send_notice(n)
        res.notices = []

    def parse(self, payload: bytes) -> None:
        b = _Buf(payload)
        name, sql = b.cstr(), b.cstr()
        n = b.int16()
        oids = [b.int32() for _ in range(n)]
        self.statements[name] = self.session.prepare(sql, oids)
        self.send(_msg(b"1"))

    def bind(self, payload: bytes) -> None:
        b = _Buf(payload)
        portal, stmt = b.cstr(), b.cstr()
        if stmt not in self.statements:
            raise PgError("26000", f"prepared statement \"{stmt[:63]}\" does not exist")
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
        self.portals[portal] = _Portal(prepared, params, rfmts)
        self.send(_msg(b"2"))

    def describe(self, payload: bytes) -> None:
        b = _Buf(payload)
        what, name = b.take(1), b.cstr()
        if what == b"S":
            if name not in self.statements:
                raise PgError("26000", f"prepared statement \"{name[:63]}\" does not exist")
            prepared = self.statements[name]
            oids = self.session.param_oids(prepared)
            self.send(_msg(b"t", struct.pack("!h", len(oids)) + b"".join(struct.pack("!i", o or TEXT) for o in oids)))
            cols = self.session.describe(prepared)
            self.send(self.row_description(cols, []) if cols is not None else _msg(b"n"))
            return
        portal = self._portal(name)
        res = self._run_portal(portal)
        self.send(self.row_description(res.columns, portal.result_formats) if res.columns is not None else _msg(b"n"))

    def _portal(self, name: str) -> _Portal:
        if name not in self.portals:
            raise PgError("34000", f"portal \"{name[:63]}\" does not exist")
        return self.portals[name]

    def _run_portal(self, portal: _Portal) -> Result:
        if portal.result is None:
            if self.tx_status == b"E":
                raise PgError("25P02", "current transaction is aborted, commands ignored until end of transaction block")
            self.check_rate()
            portal.result = self.session.execute(portal.prepared, portal.params)
        return portal.result

    def execute(self, payload: bytes) -> None:
        b = _Buf(payload)
        name = b.cstr()
        max_rows = b.int32()
        portal = self._portal(name)
        res = self._run_portal(portal)
        self._notices(res)
        if res.empty:
            self.send(_msg(b"I"))
            return
        if res.columns is not None:
            rows = res.rows[portal.sent:]
            if max_rows > 0 and len(rows) > max_rows:
                for row in rows[:max_rows]:
                    self.send(self.data_row(row, res.columns, portal.result_formats))
                portal.sent += max_rows
                self.send(_msg(b"s"))
                return
            for row in rows:
                self.send(self.data_row(row, res.columns, portal.result_formats))
            portal.sent = len(res.rows)
        self.send(_msg(b"C", _cstr(res.tag)))
        self._track_tx(res.tag)

    def close(self, payload: bytes) -> None:
        b = _Buf(payload)
        what, name = b.take(1), b.cstr()
        (self.statements if what == b"S" else self.portals).pop(name, None)
        self.send(_msg(b"3"))

    # -- row encoding
    @staticmethod
    def _fmt(formats: list[int], i: int) -> int:
        if not formats:
            return 0
        return formats[i] if len(formats) > 1 else formats[0]

    def row_description(self, cols: list[Column], formats: list[int]) -> bytes:
        out = [struct.pack("!h", len(cols))]
        for i, c in enumerate(cols):
            out.append(_cstr(c.name) + struct.pack("!ihihih", 0, 0, c.oid, TYPLEN.get(c.oid, -1), -1, self._fmt(formats, i)))
        return _msg(b"T", b"".join(out))

    def data_row(self, row: tuple, cols: list[Column], formats: list[int]) -> bytes:
        out = [struct.pack("!h", len(row))]
        for i, v in enumerate(row):
            if v is None:
                out.append(struct.pack("!i", -1))
                continue
            data = encode_binary(v, cols[i].oid) if self._fmt(formats, i) == 1 else encode_text(v, cols[i].oid)
            out.append(struct.pack("!i", len(data)) + data)
        return _msg(b"D", b"".join(out))


class PgServer(socketserver.ThreadingTCPServer):
    """One thread per connection, bounded.

    ``max_connections`` sessions at once (a slot is taken once the client has authenticated, so
    the refusal is a proper 53300 ErrorResponse the driver can show, and clients that never
    authenticate hold no slot). Connections still in startup hold a thread; each has
    ``startup_timeout_s`` for all of TLS, startup and authentication, one address may have at
    most ``max_startups_per_client`` of them (more are closed at once), and beyond
    ``2 * max_connections + 16`` live handler threads a new connection is closed at once without
    a thread. ``rate_limit`` (a ``TokenBuckets`` or None) charges one token per query and per
    failed login to the client's address; ``login_guard`` delays and locks out repeated failures.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], session_factory, *, password: str = "",
                 tls: ssl.SSLContext | None = None, require_tls: bool = False,
                 max_connections: int = 64, rate_limit: Any = None,
                 startup_timeout_s: float = STARTUP_TIMEOUT_S, max_startups_per_client: int = 4,
                 login_guard: Any = None):
        if max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        self.startup_timeout_s = startup_timeout_s
        self.max_startups_per_client = max_startups_per_client
        self.login_guard = login_guard or LoginGuard(10, 300.0)
        self.deadlines = Deadlines()
        self._starting: dict[str, int] = {}  # address -> connections still in startup
        self.session_factory = session_factory
        self.verifier = ScramVerifier(password) if password else None
        self.tls = tls
        self.require_tls = require_tls
        self.max_connections = max_connections
        self.max_threads = 2 * max_connections + 16
        self.rate_limit = rate_limit
        self._sessions = 0
        self._live_threads = 0
        self._count_lock = threading.Lock()
        super().__init__(address, PgHandler)

    @property
    def sessions(self) -> int:
        """Connections currently holding a slot (past startup, not yet closed)."""
        return self._sessions

    @property
    def live_threads(self) -> int:
        """Handler threads running (in startup or in a session)."""
        return self._live_threads

    def take_slot(self) -> bool:
        with self._count_lock:
            if self._sessions >= self.max_connections:
                return False
            self._sessions += 1
            return True

    def release_slot(self) -> None:
        with self._count_lock:
            self._sessions -= 1

    def end_startup(self, peer: str) -> None:
        with self._count_lock:
            n = self._starting.get(peer, 0) - 1
            if n > 0:
                self._starting[peer] = n
            else:
                self._starting.pop(peer, None)

    def process_request(self, request, client_address) -> None:
        peer = str(client_address[0]) if client_address else "unknown"
        with self._count_lock:
            crowded = self._starting.get(peer, 0) >= self.max_startups_per_client
            if crowded or self._live_threads >= self.max_threads:
                full = True
            else:
                full = False
                self._live_threads += 1
                self._starting[peer] = self._starting.get(peer, 0) + 1
        if full:
            if crowded:
                log.warning("SQL surface: %s already has %d connections authenticating; closing a new one",
                            peer, self.max_startups_per_client)
            else:
                log.warning("SQL surface: %d connection threads live; closing a new connection", self.max_threads)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            with self._count_lock:
                self._live_threads -= 1
            self.end_startup(peer)
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._count_lock:
                self._live_threads -= 1


    def server_close(self) -> None:
        self.deadlines.close()
        super().server_close()


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx
