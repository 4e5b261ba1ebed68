"""SCRAM-SHA-256 password authentication (RFC 5802/7677), as Postgres does it: the server's
side of the exchange, with no I/O (``api.pgwire.handler`` moves the messages)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os


class ScramVerifier:
    """What the server keeps of the password: a salt and the derived keys, never the password."""

    ITERATIONS = 4096

    def __init__(self, password: str):
        self.salt = os.urandom(16)
        salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), self.salt, self.ITERATIONS)
        self.stored_key = hashlib.sha256(_hmac(salted, b"Client Key")).digest()
        self.server_key = _hmac(salted, b"Server Key")


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


class ScramExchange:
    """One login: ``server_first`` answers the client-first message, ``server_final`` checks the
    client's proof and returns the server's signature. Any malformed or wrong message raises
    ValueError (or KeyError/IndexError/UnicodeDecodeError from parsing it)."""

    def __init__(self, verifier: ScramVerifier):
        self.v = verifier
        self.gs2 = self.client_first_bare = self.server_first = self.nonce = ""

    def first(self, mechanism: str, client_first: str) -> str:
        if mechanism != "SCRAM-SHA-256" or not client_first.startswith(("n,", "y,")):
            raise ValueError
        gs2_end = client_first.index(",", 2) + 1
        self.gs2, self.client_first_bare = client_first[:gs2_end], client_first[gs2_end:]
        attrs = dict(p.split("=", 1) for p in self.client_first_bare.split(","))
        self.nonce = attrs["r"] + base64.b64encode(os.urandom(18)).decode()
        self.server_first = f"r={self.nonce},s={base64.b64encode(self.v.salt).decode()},i={self.v.ITERATIONS}"
        return self.server_first

    def final(self, client_final: str) -> str:
        without_proof, proof_part = client_final.rsplit(",p=", 1)
        fattrs = dict(p.split("=", 1) for p in without_proof.split(","))
        if fattrs.get("r") != self.nonce or base64.b64decode(fattrs.get("c", "")) != self.gs2.encode():
            raise ValueError
        auth_message = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
        signature = _hmac(self.v.stored_key, auth_message)
        proof = base64.b64decode(proof_part)
        client_key = bytes(a ^ b for a, b in zip(proof, signature))
        if len(proof) != 32 or not hmac.compare_digest(hashlib.sha256(client_key).digest(), self.v.stored_key):
            raise ValueError
        return "v=" + base64.b64encode(_hmac(self.v.server_key, auth_message)).decode()
