"""Cached answers with the least per-request work: a small ASGI layer in front of the routes.

The URL API's answer to ``GET /api/v1/<dataset>?<query>`` is a function of the path, the raw
query string, the Accept header (``Vary: Accept``) and the published data version. When the
full way (routing, parameter parsing, the canonical URL, the rendered body) has once answered a
spelling with 200 on the current version, this layer keeps the bytes it sent — status, headers
and body, exactly as the routes made them — and serves that spelling again without routing,
without parsing the query string and without building a Response: a dictionary look-up, an
ETag comparison (304 with the same validators) and two ``send`` calls.

It sits inside every other middleware (header-size guard, CORS, rate limits, security
headers), so those apply to a fast answer exactly as to any other. Entries live in the
process's result cache (api/cache.py) under the data version, so they share its byte budget and
are dropped with the old version on a publish; an entry is kept under the version the routes say
they answered from, only while that is still the current one, and used only while the version
is known exactly without asking the engine (else the full way runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send


PREFIX = "/api/v1/"
# Where the routes note what a spelling counts as for warming (api/app.py's URL-question counts).
ASKED_KEY = "crosstrack.asked"
# The validators a 304 repeats (RFC 9110 15.4.5): what the routes put on theirs.
_NOT_MODIFIED_HEADERS = (b"etag", b"cache-control", b"vary", b"link")


@dataclass(frozen=True)
class FastAnswer:
    """A 200 answer as sent: ready-made header lists for 200 and 304, the body, its ETag."""

    headers: list[tuple[bytes, bytes]]
    not_modified_headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: str
    asked: Any  # the key the routes counted this spelling under (None: not counted)


def etag_matches(header: str, etag: str) -> bool:
    """If-None-Match against one strong ETag (weak comparison, ``*`` matches), as the routes do."""
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _key(version_id: str, scope: Scope, accept: bytes | None) -> tuple:
    return (version_id, "fast", scope["path"], scope.get("query_string", b""), accept)


class CachedAnswers:
    """Pure ASGI: serve a cached URL-API answer before routing; learn answers from the routes."""

    def __init__(self, app: ASGIApp, service: Any, count: Callable[[Any], None]) -> None:
        self.app = app
        self.service = service
        self.count = count  # URL-question counts (warming after a publish), fed for fast answers too

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        store = self.service.cache
        if not store.enabled:
            await self.app(scope, receive, send)
            return
        version = self.service.clock.peek()
        accept = inm = None
        for name, value in scope["headers"]:
            if name == b"accept":
                accept = value
            elif name == b"if-none-match":
                inm = value
        if version is not None:
            hit: FastAnswer | None = store.get(_key(version.version_id, scope, accept))
            if hit is not None:
                if hit.asked is not None:
                    self.count(hit.asked)
                if inm is not None and etag_matches(inm.decode("latin-1"), hit.etag):
                    await send({"type": "http.response.start", "status": 304, "headers": list(hit.not_modified_headers)})
                    await send({"type": "http.response.body", "body": b""})
                    return
                await send({"type": "http.response.start", "status": 200, "headers": list(hit.headers)})
                await send({"type": "http.response.body", "body": hit.body})
                return
        await self._learn(scope, receive, send, accept)

    async def _learn(self, scope: Scope, receive: Receive, send: Send, accept: bytes | None) -> None:
        """The full way; keep its answer when it is one whole 200 body on an unchanged version."""
        note: dict[str, Any] = {}
        scope = {**scope, ASKED_KEY: note}
        sent: dict[str, Any] = {"status": None, "headers": [], "bodies": 0, "body": b"", "more": False}

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                # a copy before the outer layers see it: CORS adds its headers to the list in place
                sent["status"] = message["status"]
                sent["headers"] = [(bytes(k).lower(), bytes(v)) for k, v in message.get("headers") or []]
            elif message["type"] == "http.response.body":
                sent["bodies"] += 1
                sent["body"] = message.get("body", b"")
                sent["more"] = bool(message.get("more_body"))
            await send(message)

        await self.app(scope, receive, keep)
        if sent["status"] != 200 or sent["bodies"] != 1 or sent["more"]:
            return  # an error, a redirect, a 304 or a streamed body: not kept
        # kept under the version the routes answered from, and only while that is still the current one
        after = self.service.clock.peek()
        if after is None or note.get("version") != after.version_id:
            return
        headers = sent["headers"]
        etag = next((v.decode("latin-1") for k, v in headers if k == b"etag"), None)
        if etag is None:
            return
        body = sent["body"]
        answer = FastAnswer(headers, [(k, v) for k, v in headers if k in _NOT_MODIFIED_HEADERS], body, etag,
                            note.get("asked"))
        self.service.cache.put(_key(after.version_id, scope, accept), answer,
                               size=len(body) + sum(len(k) + len(v) for k, v in headers) * 2 + 300)


def note_answer(scope: Scope, version_id: str, asked: Any) -> None:
    """Called by the routes on a 200 answer: the data version it was answered from, and the key the
    spelling counts under for warming (both kept with its fast answer)."""
    note = scope.get(ASKED_KEY)
    if isinstance(note, dict):
        note["version"] = version_id
        note["asked"] = asked
