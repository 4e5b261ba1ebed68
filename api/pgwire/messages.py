"""The protocol's message framing and the shapes a session hands back (columns, results)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Protocol

from crosstrack.api.pgwire.pgtypes import TEXT


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


class Reader:
    def __init__(self, f):
        self.f = f

    def exact(self, n: int) -> bytes:
        data = self.f.read(n)
        if data is None or len(data) < n:
            raise ConnectionError("client closed the connection")
        return data


class Buf:
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


def msg(kind: bytes, payload: bytes = b"") -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def cstr(s: str) -> bytes:
    return s.encode("utf-8") + b"\x00"


