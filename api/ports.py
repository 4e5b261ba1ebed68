"""A port a server must listen on is taken: one clear sentence naming the port and its variable
(shared by the HTTP server, ``api/server.py``, and the SQL surface, ``api/pgwire/server.py``)."""

from __future__ import annotations


class PortTaken(RuntimeError):
    """A port this server must listen on is in use; the message names the port and its variable."""


def port_taken_message(host: str, port: int, variable: str, other: str) -> str:
    return (f"port {port} on {host} is already in use ({variable}={port}): another program, perhaps another "
            f"`crosstrack serve`, listens there. Stop it, or choose a free port with {variable}=<port> {other}.")
