"""A caller's turn cancelled again, by an AEC3 that has heard the turn once already.

On a line whose echo is later than AEC3 reaches, the echo passes until its delay is found, and
the new AEC3 put in for it may then take another second to hold it down: a noise or a caller
over the echo as it goes in keeps it from adapting (offline, the greeting 700 ms late and 15 dB
down, after a second of the bench's noise1 or noise5: the echo came through whole for 1.1 s
after the noise ended, and the barge-in bench took those words, "calling the returns", for the
caller's). Once the turn has ended, all of its audio is there: a fresh AEC3 played the turn
twice adapts on the first pass wherever the echo is alone, and cancels the whole turn on the
second (offline, the same lines: the echo 31-56 dB down from 0.1 s after the noise).

:class:`LineHistory` keeps the line's last seconds as the canceller saw them: the caller's audio
in, the agent's audio played, and what the canceller let through. The STT's turn audio is found
in the last of these by its samples: the pipeline's queues put it some frames behind the
canceller.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from pywebrtc_audio import EchoCanceller


class LineHistory:
    """The line's last ``keep`` samples (the played audio's last ``keep_far``), frame by frame."""

    def __init__(self, keep: int, keep_far: int) -> None:
        self._near: deque[np.ndarray] = deque()
        self._out: deque[np.ndarray] = deque()
        self._far: deque[np.ndarray] = deque()
        self._keep, self._keep_far = keep, keep_far
        self._kept, self._kept_far = 0, 0

    def add(self, near: np.ndarray, far: np.ndarray, out: np.ndarray) -> None:
        """One frame: the caller's audio, the played audio taken with it, what was let out."""
        self._near.append(near)
        self._out.append(out)
        self._far.append(far)
        self._kept += len(near)
        self._kept_far += len(far)
        while self._kept - len(self._near[0]) >= self._keep:
            self._kept -= len(self._near.popleft())
            self._out.popleft()
        while self._kept_far - len(self._far[0]) >= self._keep_far:
            self._kept_far -= len(self._far.popleft())

    def snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(the caller's audio in, the played audio, what was let out), to the last frame."""
        return _joined(self._near), _joined(self._far), _joined(self._out)


def cancelled_again(
    pcm: bytes,
    line: tuple[np.ndarray, np.ndarray, np.ndarray],
    hold_back: int,
    aec: EchoCanceller,
    max_behind: int,
) -> bytes:
    """``pcm`` (audio the canceller let out, as the STT has it) cancelled again by ``aec`` (a
    fresh AEC3, warmed up) from the line it came from (a :meth:`LineHistory.snapshot`), the
    played audio held back by ``hold_back`` samples. ``pcm`` as it is where it does not end
    within ``max_behind`` samples of the line's end. Blocking: AEC3 runs without the GIL, so
    run it in a thread.
    """
    near, far, out = line
    heard = np.frombuffer(pcm, np.int16)
    n = len(heard)
    ago = _ends_at(heard, out, max_behind)
    if not n or ago is None or n + ago + hold_back > len(far):
        return pcm
    end, far_end = len(near) - ago, len(far) - ago - hold_back
    near, far = near[end - n : end], far[far_end - n : far_end]
    for _ in range(2):  # the first pass adapts; the second's output is kept
        again = aec.process(near, far)
    return np.asarray(again, np.int16).tobytes()


def _ends_at(heard: np.ndarray, out: np.ndarray, max_behind: int) -> int | None:
    """How many samples before the end of ``out`` ``heard`` ends, if it is there (searched in
    steps of 10 ms: the pipeline's frames are whole multiples of that).
    """
    n, step = len(heard), 160
    for ago in range(0, min(len(out) - n, max_behind) + 1, step):
        if np.array_equal(out[len(out) - ago - n : len(out) - ago], heard):
            return ago
    return None


def _joined(frames: deque[np.ndarray]) -> np.ndarray:
    return np.concatenate(frames) if frames else np.zeros(0, np.int16)
