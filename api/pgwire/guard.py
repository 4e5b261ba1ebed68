"""What keeps the SQL surface's front door open for clients with the right password.

* :class:`Deadlines` — one deadline for TLS, the startup packet and authentication together
  (a per-read timeout lets a client that sends one byte every few seconds stay forever);
  one watchdog thread shuts down the sockets whose time is up.
* :class:`LoginGuard` — per client address: after each failed login the answer is delayed
  exponentially, and after ``lockout_failures`` failures in a row the address is locked out for
  ``lockout_s`` seconds; the lock-out is logged with the address only (never a user name or a
  password). A successful login clears the address's count.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from typing import Callable

log = logging.getLogger("crosstrack.pgwire")

FIRST_DELAY_S = 0.25  # after the first failed login; doubles with each further failure
MAX_DELAY_S = 5.0
MAX_TRACKED = 50_000  # addresses remembered at once (oldest forgotten first)


class Deadlines:
    """Shut a connection's socket down when its deadline passes (unless cancelled first)."""

    def __init__(self, tick_s: float = 0.1, clock: Callable[[], float] = time.monotonic):
        self.tick_s = tick_s
        self.clock = clock
        self._items: dict[int, tuple[float, Callable[[], socket.socket]]] = {}
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def add(self, seconds: float, sock: Callable[[], socket.socket]) -> int:
        """``sock`` returns the connection's current socket (TLS replaces it mid-startup)."""
        token = next(self._seq)
        with self._lock:
            self._items[token] = (self.clock() + seconds, sock)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="crosstrack-sql-deadlines", daemon=True)
                self._thread.start()
        return token

    def cancel(self, token: int) -> None:
        with self._lock:
            self._items.pop(token, None)

    def close(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            now = self.clock()
            with self._lock:
                due = [t for t, (when, _) in self._items.items() if when <= now]
                expired = [self._items.pop(t)[1] for t in due]
            for get in expired:
                try:
                    get().shutdown(socket.SHUT_RDWR)  # the handler's blocked read returns at once
                except OSError:
                    pass


class LoginGuard:
    def __init__(self, lockout_failures: int, lockout_s: float, *, clock: Callable[[], float] = time.monotonic):
        self.lockout_failures = lockout_failures
        self.lockout_s = lockout_s
        self.clock = clock
        self._failures: dict[str, int] = {}
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def locked_for(self, client: str) -> float:
        """Seconds this address stays locked out (0: not locked)."""
        with self._lock:
            until = self._locked_until.get(client)
            if until is None:
                return 0.0
            left = until - self.clock()
            if left <= 0:
                del self._locked_until[client]
                self._failures.pop(client, None)
                return 0.0
            return left

    def failed(self, client: str) -> float:
        """Record a failed login; returns the delay to wait before answering it."""
        with self._lock:
            n = self._failures.pop(client, 0) + 1
            self._failures[client] = n  # re-inserted: the dict's order is least recently failed first
            while len(self._failures) > MAX_TRACKED:
                self._failures.pop(next(iter(self._failures)))
            if n >= self.lockout_failures and client not in self._locked_until:
                self._locked_until[client] = self.clock() + self.lockout_s
                while len(self._locked_until) > MAX_TRACKED:
                    self._locked_until.pop(next(iter(self._locked_until)))
                log.warning("SQL surface: client %s locked out for %.0f s after %d failed logins",
                            client, self.lockout_s, n)
        return min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** (n - 1))

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
