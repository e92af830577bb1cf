"""How many calls the agent takes at once, over every channel (Twilio, SIP, the browser phone).

Past what the box handles in time, every call's answers slow down together: on a 2-core AMD
EPYC box (before the echo canceller), calls started 1.7 s apart were answered p95 475-501 ms
after the caller stopped with 8 calls, 508-1251 ms with 12 (4 runs), 804-1098 ms with 16
(3 runs) and 5.1-5.7 s with 24 (``python -m bench.latency --staggered N``). So a call beyond
the limit is not taken (Twilio's goes to the transfer target or hears that the lines are busy,
SIP's gets 486 Busy Here) and the calls in progress keep their pace.

What a box holds depends on the box: on an Intel Xeon box of the same size, 12 calls so started
were answered p50 1.2-1.4 s, p95 1.8-2.0 s, and 8 calls 536 / 745 ms. There the event loop was
the bound, not the cores: its thread was 75-100% busy with 12 calls while both cores together
were 65% busy, and the calls' audio waited in it (:data:`BEHIND_S`). One process's loop does not
grow with the cores, so the default limit does not either past :data:`CALLS_PER_PROCESS`.

And the box is watched: while the answers of the last :data:`PACE_WINDOW_S` take more than
``slow_answer_s`` at the median, or the calls' audio is handled more than :data:`BEHIND_S`
behind the line (it shows well before the answers do), no call is taken beyond one per core.
It cannot see what the calls just taken will cost once their callers talk: on that box, of 24
calls offered 1.7 s apart with no limit, it took 12.

Pure and synchronous: the clock is passed in.
"""

from __future__ import annotations

import os
import statistics
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Calls taken at once per CPU core when ``max_calls`` is not set (8 on 2 cores), and at most
#: (the event loop's bound, above; a bigger box runs more processes).
CALLS_PER_CORE = 4
CALLS_PER_PROCESS = 10
#: How long a slot promised to a call about to start (Twilio's webhook, before its media stream
#: connects, which takes a second or two) is held for it: a caller who hangs up while it rings
#: holds a slot no longer.
RESERVE_S = 10.0
#: The answers the pace is taken over: those of the last 20 s, at least 3 of them.
PACE_WINDOW_S = 20.0
MIN_ANSWERS = 3
#: The calls' audio handled this far behind the line, at the median of the calls, is a box that
#: no longer keeps up: on the Intel Xeon box, 16 calls started 1.7 s apart were 0.01 s behind
#: with 11 calls in, 0.15 s with 13, 0.35 s with 15, and seconds later 1-5 s (8 calls: under
#: 0.02 s).
BEHIND_S = 0.2
#: A call's wait counts until this long after it was last measured (an ended call's goes).
BEHIND_WINDOW_S = 1.0


def cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):  # Linux: the cores a container or taskset allows
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # macOS, Windows


def default_limit() -> int:
    """:data:`CALLS_PER_CORE` for each core this process may run on, at most
    :data:`CALLS_PER_PROCESS`.
    """
    return min(CALLS_PER_CORE * cores(), CALLS_PER_PROCESS)


class CallCapacity:
    """At most ``limit`` calls at once; a call holds its slot from :meth:`reserve` or
    :meth:`take` until :meth:`release`.

    Args:
        limit: Calls taken at once, at most.
        on_full: Told of each call turned away (a metric).
        slow_answer_s: While the answers :meth:`answered` was told of in the last
            :data:`PACE_WINDOW_S` (:data:`MIN_ANSWERS` or more) take longer than this at the
            median, or the calls' audio is handled more than :data:`BEHIND_S` behind the line
            (:meth:`behind`), a call is taken only if fewer than ``always`` hold slots; 0:
            never.
        always: See ``slow_answer_s``.
    """

    def __init__(
        self,
        limit: int,
        on_full: Callable[[], None] | None = None,
        *,
        slow_answer_s: float = 0.0,
        always: int = 1,
    ) -> None:
        self.limit = limit
        self.slow_answer_s = slow_answer_s
        self.always = always
        self._on_full = on_full
        # call -> when its reservation lapses, or None once the call runs
        self._held: dict[str, float | None] = {}
        self._answers: deque[tuple[float, float]] = deque()  # (when, seconds)
        # call -> (when, how far behind the line its audio was handled then)
        self._behind: dict[str, tuple[float, float]] = {}

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
        if len(self._held) >= self.limit or (len(self._held) >= self.always and self.slow(now)):
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

    def answered(self, seconds: float, now: float) -> None:
        """A caller was answered ``seconds`` after their last word."""
        self._answers.append((now, seconds))
        self._forget_answers(now)

    def behind(self, call: str, seconds: float, now: float) -> None:
        """The call's audio was handled ``seconds`` behind the line at ``now``."""
        if call not in self._behind:  # a new call: the ended ones go
            self._forget_behind(now)
        self._behind[call] = (now, seconds)

    def behind_median(self, now: float) -> float:
        """How far behind the line the calls' audio is handled, at the median of the calls
        heard in the last :data:`BEHIND_WINDOW_S` (0: none).
        """
        self._forget_behind(now)
        return statistics.median(s for _, s in self._behind.values()) if self._behind else 0.0

    def answer_median(self, now: float) -> float | None:
        """The median of the answers of the last :data:`PACE_WINDOW_S`; None if there were
        fewer than :data:`MIN_ANSWERS`.
        """
        self._forget_answers(now)
        if len(self._answers) < MIN_ANSWERS:
            return None
        return statistics.median(seconds for _, seconds in self._answers)

    def slow(self, now: float) -> bool:
        """Whether the box is not keeping up (see ``slow_answer_s``)."""
        if self.slow_answer_s <= 0:
            return False
        median = self.answer_median(now)
        return (median is not None and median > self.slow_answer_s) or (
            self.behind_median(now) > BEHIND_S
        )

    def why_full(self, now: float) -> str:
        """Why a call was not taken, for the log."""
        held = f"{len(self._held)} calls in progress"
        if len(self._held) >= self.limit:
            return held
        answers, behind = self.answer_median(now) or 0.0, self.behind_median(now)
        return f"answers slow (median {answers:.1f} s, audio {behind:.1f} s behind), {held}"

    def _forget_answers(self, now: float) -> None:
        while self._answers and self._answers[0][0] < now - PACE_WINDOW_S:
            self._answers.popleft()

    def _forget_behind(self, now: float) -> None:
        for call, (when, _) in list(self._behind.items()):
            if when < now - BEHIND_WINDOW_S:
                del self._behind[call]

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
