"""Postgres type OIDs and how values travel: text and binary encodings of results and parameters."""

from __future__ import annotations

import struct
from decimal import Decimal
from typing import Any

from crosstrack.api.pgwire.errors import PgError

# Type OIDs (pg_type.oid) used by the surface.
BOOL, BYTEA, NAME, INT8, INT2, INT4, TEXT, OID = 16, 17, 19, 20, 21, 23, 25, 26
FLOAT4, FLOAT8, VARCHAR, NUMERIC, UNKNOWN = 700, 701, 1043, 1700, 705
TYPLEN = {BOOL: 1, INT2: 2, INT4: 4, INT8: 8, OID: 4, FLOAT4: 4, FLOAT8: 8, NAME: 64}



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
    raise PgError("sql.unsupported_feature", f"binary output is not supported for type oid {oid}; ask for text results",
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
        raise PgError("sql.unsupported_feature", f"binary parameters of type oid {oid} are not supported",
                      hint="send parameters as text, or as bool, int2/4/8, float4/8, numeric or text")
    text = raw.decode("utf-8")
    if oid in (INT2, INT4, INT8, OID):
        try:
            return int(text)
        except ValueError:
            raise PgError("sql.invalid_text", f"invalid input syntax for type integer: {text[:40]!r}") from None
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


