"""Online publish on the embedded engine: the serving process owns the published-version pointer.

chDB belongs to one process, so while ``crosstrack serve`` runs no other process can load. The
server therefore takes loads itself (``crosstrack/control.py`` hands them over a same-user local
socket) and, being the only writer, keeps the published version in memory:

1. the load builds and checks ``<database>_v<N>`` beside the published one and inserts its
   ``load_history`` row (durable: a restart would serve it);
2. :meth:`LivePublisher.switch` answers the most asked questions on it (result cache and the URL
   API's rendered bodies, ``CROSSTRACK_WARM_QUESTIONS``) while readers still read the old one;
3. then one assignment under a lock moves every surface to it. Each request reads the version
   once and answers wholly from it, so an answer always matches the version it names.

Readers never query ``load_history`` while this is installed, so a long load statement cannot
hold a request back on the engine.
"""

from __future__ import annotations

import threading
from typing import Any

from crosstrack.api.service import Service
from crosstrack.api.versions import data_version


class LivePublisher:
    """The serving process's publish path: warm, then switch the version clock (``api/versions.py``)."""

    def __init__(self, service: Service):
        self.service = service
        self.settings = service.settings
        self.publishing = threading.Lock()  # one load or rollback at a time
        # From now on the pointer moves only through switch(): a load's own writes through the
        # engine no longer send readers to load_history (a long load statement would hold them).
        service.clock.own()

    def switch(self, version: Any) -> int:
        """Warm the cache with ``version``'s answers (a loaders.publish.PublishedVersion), then make
        it the published one; returns how many questions were answered ahead."""
        dv = data_version(version)
        self.service.cache.prepare(dv.version_id)
        warmed = self.service.warm(dv, self.settings.warm_questions) if self.settings.warm_questions else 0
        # One hand-over to the clock moves every surface at once; each request reads the version
        # once and answers wholly from it, so an answer always matches the version it names.
        self.service.clock.switch(dv)
        return warmed
