"""A bare FastAPI app that returns fixed bytes: the ceiling benchmark (b) compares cached answers to.

``BARE_BODY_FILE`` names a file with the body; ``BARE_MEDIA_TYPE`` its media type. Served with
the same uvicorn options as crosstrack (uvloop, httptools, no access log). The endpoint is
``async`` (answered on the event loop), like crosstrack's cached answers.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import Response

BODY = Path(os.environ["BARE_BODY_FILE"]).read_bytes()
MEDIA = os.environ.get("BARE_MEDIA_TYPE", "application/json")

app = FastAPI()


@app.get("/healthz")
def healthz() -> Response:
    return Response(b"ok")


@app.get("/api/v1/{dataset}")
async def bare(dataset: str) -> Response:  # async: no worker-thread hop, the strictest ceiling
    return Response(BODY, media_type=MEDIA)
