"""The one place a serving process is assembled: settings, engine, model, cache and clock.

Every surface (URL API, Cube endpoint, SQL surface, page) answers through the one
:class:`~crosstrack.api.service.Service` this builds; nothing is patched in afterwards.
Each part may be given (tests share an engine or a clock); the rest comes from ``settings``.
"""

from __future__ import annotations

from crosstrack import cube
from crosstrack.api.cache import ResultCache
from crosstrack.api.service import Service
from crosstrack.api.versions import EngineRef, VersionClock, version_clock
from crosstrack.config import Settings
from crosstrack.engine import Engine


def build_service(settings: Settings, *, engine: Engine | None = None, model: cube.Model | None = None,
                  cache: ResultCache | None = None, clock: VersionClock | None = None) -> Service:
    """A Service from its parts.

    * ``engine``: opened from ``settings`` on first use when not given (the API starts, and
      answers 503, while the engine is down);
    * ``model``: ``models/`` (``CROSSTRACK_MODELS_DIR``) when not given;
    * ``cache``: the process's result cache, ``CROSSTRACK_CACHE_BYTES`` (0: off, still single flight);
    * ``clock``: which data version is published (``api/versions.py``): the engine's write counter
      on the embedded engine, a one-second poll on a server. A given clock is shared as it is
      (same published data, same version).
    """
    ref = EngineRef(settings, engine)
    cache = cache if cache is not None else ResultCache(settings.cache_bytes)
    if clock is None:
        clock = version_clock(settings, ref, on_change=lambda v: cache.observe_version(v.version_id))
    return Service(settings, engine=ref, model=model if model is not None else cube.load_model(settings.models_dir),
                   cache=cache, clock=clock)
