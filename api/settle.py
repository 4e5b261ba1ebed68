"""The last thing a serving process does before it answers anyone: keep what it built at start
out of the garbage collector's full passes.

Everything built before serving (the model, compiled questions, sqlglot's tables, the imported
modules: about 150,000 tracked objects) lives as long as the process, yet CPython's full
collection walks all of it whenever enough new objects have outlived the younger generations. A
load run in the server (``crosstrack/control.py``) makes that happen every second publish or so,
and the walk holds the GIL: 100-150 ms in which no reader was answered, cached or not (measured
with a ``gc.callbacks`` timer beside the online-publish test). ``gc.freeze()`` moves those
objects to the permanent generation, which full passes skip; what is created later is collected
as before, so cycles the loads leave behind are still freed.
"""

from __future__ import annotations

import gc


def settle_before_serving() -> None:
    gc.collect()  # the start-up garbage goes now, not frozen for the process's lifetime
    gc.freeze()
