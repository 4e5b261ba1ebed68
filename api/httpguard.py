"""HTTP limits enforced while a request is read, before anything is buffered past them.

uvicorn's httptools protocol keeps appending the request target, the headers and the body
until the request is complete; an ASGI middleware only sees a request after that. This
subclass counts as the parser hands over each piece and answers at once when a limit is
passed (issue 16: one 300 MB POST added 560 MB of RSS, a 32 MB URL 51 MB):

* request target longer than ``max_url_bytes`` → 414; headers over ``max_header_bytes`` → 431;
* a ``Content-Length`` over ``max_body_bytes`` → 413 before one body byte is read, and a
  chunked body that grows past it → 413 at that moment;
* a client has ``timeout_s`` to send a whole request, counted from the connection (or, on a
  kept-alive connection, from the next request's first byte) — idle and trickling ("slowloris")
  connections are closed with 408. Between requests, a kept-alive connection is closed after
  uvicorn's ``timeout_keep_alive`` (CROSSTRACK_HTTP_KEEP_ALIVE_S).

Every refusal uses the API's error envelope, says ``Connection: close`` and closes the socket
(after a short lingering close that reads and drops whatever the client still sends).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from crosstrack.api.errors import ApiError

_REASONS = {408: b"Request Timeout", 413: b"Content Too Large", 414: b"URI Too Long",
            431: b"Request Header Fields Too Large"}


LINGER_S = 2.0


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; the refusal is already sent."""


def refusal_bytes(status: int, code: str, message: str, parameter: str | None, allowed: str | None) -> bytes:
    body = orjson.dumps(ApiError(status, code, message, parameter=parameter, allowed=allowed).body())
    head = (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"cache-control: no-store\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n"
            % (status, _REASONS.get(status, b"Error"), len(body)))
    return head + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with read-time limits (class attributes set by :func:`guarded_protocol`)."""

    max_url_bytes = 65_536
    max_header_bytes = 16_384
    max_body_bytes = 1_000_000
    timeout_s = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._url_bytes = 0
        self._header_bytes = 0
        self._body_bytes = 0
        self._deadline: asyncio.TimerHandle | None = None
        self._refused = False

    # --- the read deadline ------------------------------------------------------------------
    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete and self.cycle.response_started:
            self.transport.close()  # a response is under way: nothing more can be said
            return
        self._refuse(408, "http.request_timeout",
                     f"The request was not received within {self.timeout_s:g} s; the connection is closed.",
                     None, f"a whole request within {self.timeout_s:g} s")

    def _refuse(self, status: int, code: str, message: str, parameter: str | None, allowed: str | None) -> None:
        self._refused = True
        self._disarm()
        if self.cycle is not None and not self.cycle.response_complete:
            # The application (if started) sees a disconnect and its answer goes nowhere.
            self.cycle.disconnected = True
            self.cycle.response_complete = True
            self.cycle.message_event.set()
        if not self.transport.is_closing():
            self.transport.write(refusal_bytes(status, code, message, parameter, allowed))
            # Lingering close: say we are done, discard what the client still sends for a moment
            # (data_received drops it), then close. Closing at once with unread input makes the
            # kernel send a reset, which can destroy the answer before the client reads it.
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self.loop.call_later(LINGER_S, self.transport.close)

    # --- uvicorn protocol hooks ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._unset_keepalive_if_required()
        if self._deadline is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # a new request on a kept-alive connection
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as err:
            if self._refused or isinstance(err.__context__, _Refused):
                return
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserError:
            if not self._refused:
                self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    def on_message_begin(self) -> None:
        self._url_bytes = self._header_bytes = self._body_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._url_bytes += len(url)
        if self._url_bytes > self.max_url_bytes:
            self._refuse(414, "http.url_too_long",
                         f"The request target is longer than {self.max_url_bytes} bytes.", "url",
                         f"at most {self.max_url_bytes} bytes of path and query")
            raise _Refused
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > self.max_header_bytes:
            self._refuse(431, "http.headers_too_large",
                         f"The request's headers are too large; send at most {self.max_header_bytes} bytes "
                         "of header names and values.", "headers",
                         f"at most {self.max_header_bytes} bytes of headers")
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        for name, value in self.headers:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_body_bytes:
                    self._body_too_large()
                    raise _Refused
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > self.max_body_bytes:
            self._body_too_large()
            raise _Refused
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()  # the whole request is in; the answer may take as long as it needs
        super().on_message_complete()

    def _body_too_large(self) -> None:
        self._refuse(413, "http.body_too_large", f"The request body is larger than {self.max_body_bytes} bytes.",
                     "body", f"at most {self.max_body_bytes} bytes (CROSSTRACK_MAX_BODY_BYTES)")


def guarded_protocol(settings: Any) -> type[GuardedHttpToolsProtocol]:
    """A protocol class carrying ``settings``' limits (uvicorn instantiates it per connection)."""
    return type("CrosstrackHttpProtocol", (GuardedHttpToolsProtocol,), {
        "max_url_bytes": settings.max_url_bytes, "max_header_bytes": settings.max_header_bytes,
        "max_body_bytes": settings.max_body_bytes, "timeout_s": settings.http_timeout_s})
