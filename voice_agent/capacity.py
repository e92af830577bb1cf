"""How many calls the agent takes at once, over every channel (Twilio, SIP, the browser phone).

Past what the box's cores decode in time, every call's answers slow down together: on the
2-core bench box, calls started 1.7 s apart were answered p95 475-501 ms after the caller
stopped with 8 calls, 508-1251 ms with 12 (4 runs), 804-1098 ms with 16 (3 runs) and 5.1-5.7 s
with 24 (``python -m bench.latency --staggered N``). So a call beyond the limit is not taken
(Twilio's goes to the transfer target or hears that the lines are busy, SIP's gets 486 Busy
Here) and the calls in progress keep their pace.

Pure and synchronous: the clock is passed in.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Calls taken at once per CPU core when ``max_calls`` is not set: 12 on the 2-core bench box,
#: well short of the 24 at which answers took seconds.
CALLS_PER_CORE = 6
#: How long a slot promised to a call about to start (Twilio's webhook, before its media stream
#: connects, which takes a second or two) is held for it: a caller who hangs up while it rings
#: holds a slot no longer.
RESERVE_S = 10.0


def default_limit() -> int:
    """:data:`CALLS_PER_CORE` for each core this process may run on."""
    if hasattr(os, "sched_getaffinity"):  # Linux: the cores a container or taskset allows
        return CALLS_PER_CORE * len(os.sched_getaffinity(0))
    return CALLS_PER_CORE * (os.cpu_count() or 1)  # macOS, Windows


class CallCapacity:
    """At most ``limit`` calls at once; a call holds its slot from :meth:`reserve` or
    :meth:`take` until :meth:`release`.
    """

    def __init__(self, limit: int, on_full: Callable[[], None] | None = None) -> None:
        self.limit = limit
        self._on_full = on_full  # told of each call turned away (a metric)
        # call -> when its reservation lapses, or None once the call runs
        self._held: dict[str, float | None] = {}

    @property
    def in_use(self) -> int:
        """Slots held, reserved or running (lapsed reservations included until the next call)."""
        return len(self._held)

    def reserve(self, call: str, now: float) -> bool:
        """Promise a slot to a call about to start, for :data:`RESERVE_S`; False when none is
        free. A call that holds one already keeps it.
        """
        for other, until in list(self._held.items()):
            if until is not None and until <= now:
                del self._held[other]
        if call in self._held:
            return True
        if len(self._held) >= self.limit:
            if self._on_full is not None:
                self._on_full()
            return False
        self._held[call] = now + RESERVE_S
        return True

    def take(self, call: str, now: float) -> bool:
        """The call starts: it keeps its reserved slot or takes a free one (until
        :meth:`release`); False when none is left.
        """
        if not self.reserve(call, now):
            return False
        self._held[call] = None
        return True

    def release(self, call: str) -> None:
        """The call ended (or will not start): its slot is free."""
        self._held.pop(call, None)

    @contextmanager
    def holding(self, call: str, now: float) -> Iterator[bool]:
        """:meth:`take` a slot for the ``with`` block, released at its end; yields whether one
        was free.
        """
        taken = self.take(call, now)
        try:
            yield taken
        finally:
            if taken:
                self.release(call)
