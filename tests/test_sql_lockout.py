"""Issue 16, SQL surface front door: a deadline for the whole startup, slots counted only after
authentication with a per-address cap on connections still authenticating, exponential delay and
a logged per-address lock-out after repeated failed logins, failed logins counted against the
rate limit.

Each test starts its own server on port 0 (small limits) over the session's ``Service``; the
attackers are raw sockets speaking the startup protocol, the victims real psycopg clients.
"""

from __future__ import annotations

import logging
import socket
import struct
import time

import psycopg
import pytest

from crosstrack.api.pgwire.client import connect

PASSWORD = "correct horse battery"


@pytest.fixture
def start(start_sql):
    """Start a SQL server with a password and some settings overridden; stopped at the end of the test."""
    return lambda **update: start_sql(**{"pg_password": PASSWORD, **update})


def _startup_packet() -> bytes:
    body = struct.pack("!i", 196608) + b"user\x00slow\x00database\x00crosstrack\x00\x00"
    return struct.pack("!i", len(body) + 4) + body


def _slow_client(host: str, port: int, source: str = "127.0.0.1") -> socket.socket:
    """Sends a startup packet, then (as the issue's probe did) trickles a SASL message that never ends."""
    s = socket.create_connection((host, port), timeout=10, source_address=(source, 0))
    s.sendall(_startup_packet())
    s.sendall(b"p" + struct.pack("!i", 1000))  # a password message announcing 1000 bytes
    return s


def _closed_within(s: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed ``s`` (reading whatever it sent), or None if it stayed open."""
    s.settimeout(0.2)
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        try:
            s.sendall(b"x")  # one byte now and then, like the probe
        except OSError:
            return time.monotonic() - t0
        try:
            if s.recv(4096) == b"":
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - t0
    return None


def test_slow_startups_cannot_hold_the_right_password_out(start):
    """Finding 2: 70 sockets that send a startup packet and then trickle bytes kept a client with
    the right password at 53300 on main (slots taken before SCRAM, timeout per read). Now slots
    count only after authentication and one address may have only a few startups at once."""
    stop = start(pg_max_connections=8, pg_max_startups_per_client=4, pg_startup_timeout_s=30)
    host, port = stop.address
    slow = []
    try:
        for _ in range(70):  # from 127.0.0.2 (loopback too), so the victim's address differs
            try:
                slow.append(_slow_client(host, port, "127.0.0.2"))
            except OSError:
                pass
        time.sleep(0.3)
        assert stop.server.sessions == 0, "no slot is held by a client that has not authenticated"
        t0 = time.monotonic()
        for _ in range(3):
            with connect(host, port, password=PASSWORD, sslmode="disable") as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        took = time.monotonic() - t0
        print(f"\nslow-startup probe: {len(slow)} trickling sockets, {stop.server.sessions} slots held; "
              f"3 logins with the password in {took:.2f} s")
        assert took < 5
    finally:
        for s in slow:
            s.close()


def test_startup_deadline_is_for_the_whole_startup(start):
    """Finding 2: the startup timeout was per read, so one byte every few seconds lasted forever;
    now TLS + startup + authentication share one deadline."""
    stop = start(pg_startup_timeout_s=1.5)
    host, port = stop.address
    s = _slow_client(host, port)
    try:
        closed = _closed_within(s, 8.0)
    finally:
        s.close()
    assert closed is not None, "a trickling client stayed connected past the startup deadline"
    assert closed < 4.0, closed


def test_startups_per_address_are_capped(start):
    """Connections still authenticating are capped per address: past the cap the server closes at once."""
    stop = start(pg_max_startups_per_client=3, pg_startup_timeout_s=30)
    host, port = stop.address
    slow = [_slow_client(host, port) for _ in range(3)]
    try:
        time.sleep(0.3)
        with socket.create_connection((host, port), timeout=5) as extra:
            extra.settimeout(5)
            assert extra.recv(16) == b"", "over the per-address cap the server closes a new connection"
    finally:
        for s in slow:
            s.close()


def test_failed_logins_are_delayed_then_locked_out_and_logged(start, caplog):
    """Finding 3: ~286 guesses per second from one host, no delay, lock-out or log line. Now each
    failure waits longer than the one before, the address is locked out after
    pg_login_lockout_failures failures (even the right password is refused while locked), and
    the lock-out is logged with the address and neither user name nor password."""
    stop = start(pg_login_lockout_failures=4, pg_login_lockout_s=60)
    host, port = stop.address
    caplog.set_level(logging.WARNING, logger="crosstrack.pgwire")
    waits = []
    for i in range(4):
        t0 = time.monotonic()
        with pytest.raises(psycopg.OperationalError) as info:
            connect(host, port, password=f"guess-{i}", user="mallory", sslmode="disable")
        waits.append(time.monotonic() - t0)
        assert "password authentication failed" in str(info.value)
    print(f"\nbrute-force probe: failed-login waits {[round(w, 2) for w in waits]} s, then locked out")
    assert waits[3] > waits[0] * 3 and waits[3] >= 1.5, waits  # 0.25, 0.5, 1, 2 s
    with pytest.raises(psycopg.OperationalError) as info:
        connect(host, port, password=PASSWORD, user="analyst", sslmode="disable")
    assert "too many failed logins" in str(info.value)
    lines = [r.getMessage() for r in caplog.records if "locked out" in r.getMessage()]
    assert lines == ["SQL surface: client 127.0.0.1 locked out for 60 s after 4 failed logins"], lines
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "mallory" not in text and "guess-" not in text and PASSWORD not in text


def test_a_good_login_clears_the_count(start):
    stop = start(pg_login_lockout_failures=2, pg_login_lockout_s=60)
    host, port = stop.address
    with pytest.raises(psycopg.OperationalError):
        connect(host, port, password="wrong", sslmode="disable")
    with connect(host, port, password=PASSWORD, sslmode="disable") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError) as info:
        connect(host, port, password="wrong again", sslmode="disable")
    assert "password authentication failed" in str(info.value), "one failure after a success is not a lock-out"


def test_failed_logins_count_against_the_rate_limit(start):
    """Finding 3: failed logins did not count against the rate limit. Each takes a token; with
    the bucket empty the address is refused with 53400 before authenticating."""
    stop = start(rate_limit_per_minute=3, pg_login_lockout_failures=100)
    host, port = stop.address
    for i in range(3):
        with pytest.raises(psycopg.OperationalError) as info:
            connect(host, port, password=f"guess-{i}", sslmode="disable")
        assert "password authentication failed" in str(info.value)
    with pytest.raises(psycopg.OperationalError) as info:
        connect(host, port, password=PASSWORD, sslmode="disable")
    assert "too many queries and failed logins" in str(info.value)
