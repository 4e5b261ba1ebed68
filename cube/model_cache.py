"""The one cache of what cube/ derives from a model: member trees, rollup groupings and
fingerprints, the /v1/meta index.

A loaded ``Model`` is plain data and stays that way: nothing is hung on it. Whatever is derived
from it lives here, keyed by the model's *fingerprint* (a digest of everything the model says),
so two loads of the same files share entries, an edited model never meets another model's
entries, and one cache may serve several models. ``QueryEngine`` owns one; the rollup builders
take one (or make their own for one build). Entries are built on first use and never change;
trees are handed out as copies by their users (``cube/members.py``), never mutated in place.

Treat a model as frozen once its fingerprint has been read (it is computed once per model
object): an in-place edit after that is not seen. Edit a model before its first use, or load
the files again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import weakref
from typing import Any, Callable

from crosstrack.cube.model import Model
from crosstrack.cube.sqlexpr import Template


def model_fingerprint(model: Model) -> str:
    """A digest of the model's cubes and views: every member, join, rollup, meta and SQL snippet.

    Computed once per model object (a frozen model's digest cannot change): a rollup build asks
    for it about eight times, 15-30 ms of Python each, beside readers in a serving process."""
    with _fingerprints_lock:
        known = _fingerprints.get(id(model))
        if known is not None and known[0]() is model:
            return known[1]
    digest = hashlib.sha256(repr(_canonical((model.cubes, model.views))).encode()).hexdigest()[:24]
    key = id(model)
    with _fingerprints_lock:
        _fingerprints[key] = (weakref.ref(model, lambda _ref: _forget(key, _ref)), digest)
    return digest


# id(model) -> (weak reference to the model, its fingerprint); an entry goes with its model.
_fingerprints: dict[int, tuple[weakref.ref, str]] = {}
_fingerprints_lock = threading.Lock()


def _forget(key: int, ref: weakref.ref) -> None:
    with _fingerprints_lock:
        if key in _fingerprints and _fingerprints[key][0] is ref:
            del _fingerprints[key]


def _canonical(value: Any) -> Any:
    """A value with only builtins in it: SQL snippets as their text and resolved references."""
    if isinstance(value, Template):
        return ("sql", value.text, tuple(value.resolved))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__,) + tuple((f.name, _canonical(getattr(value, f.name)))
                                                for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return tuple((k, _canonical(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(_canonical(v) for v in value)
    return value


class ModelCache:
    """Values derived from models, by (model fingerprint, key); thread-safe, unbounded (a model has a
    fixed number of members and rollups, so the entries of one model are bounded by the model)."""

    def __init__(self) -> None:
        self._entries: dict[tuple, Any] = {}
        self._lock = threading.Lock()

    def get(self, fingerprint: str, key: tuple, build: Callable[[], Any]) -> Any:
        """The entry for ``key`` of the model with ``fingerprint``, built by ``build()`` on first use.

        ``build`` runs outside the lock (it may itself read the cache); two threads racing on a
        new key both build it and the first stored value wins, so every caller sees one value."""
        full = (fingerprint, *key)
        with self._lock:
            if full in self._entries:
                return self._entries[full]
        value = build()
        with self._lock:
            return self._entries.setdefault(full, value)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


@dataclasses.dataclass(frozen=True, eq=False)
class ModelScope:
    """One model with its fingerprint and the cache its derived values live in."""

    model: Model
    cache: ModelCache
    fingerprint: str

    @classmethod
    def of(cls, model: Model, cache: ModelCache | None = None) -> "ModelScope":
        return cls(model, cache if cache is not None else ModelCache(), model_fingerprint(model))

    def get(self, key: tuple, build: Callable[[], Any]) -> Any:
        return self.cache.get(self.fingerprint, key, build)
