"""A caller's turn with the agent's echo taken out again, once the turn is whole.

On a line whose echo is later than AEC3 reaches, the echo passes until the delay finder has
found it, and a new AEC3 put in for it may then take another second to hold it down: a noise
or a caller over the echo keeps it from adapting. In the barge-in bench (the greeting 700 ms
late, 15 dB down) a cough or an "uh-huh" over the greeting's start came with its echo, and the
turn read "All right. Thanks." for "Hi, thanks"; after a second of noise1 or noise5 the echo
came through whole for 1.1 s, read "calling the returns".

Once the turn has ended, all of it is there, and the echo's delay is known. Over the turn, the
echo path is fitted at once: a least-squares filter (16 ms) from the played audio to the line,
at the delay the finder found, refined to the sample; then fitted again over the frames whose
sound it explained (the echo's alone), as a caller talking over the echo skews the first fit.
Subtracting its estimate leaves the caller, except in frames it leaves 6 dB louder than the
live canceller did: there the fit was poor (a caller over the whole echo), and the live output
is kept. Offline (the greeting echoed 700 ms late, 15 dB down): after a cough, the echo 52 dB
down and the cough untouched, where the live canceller left it 2 dB down, and a fresh AEC3
played the turn four times 2 dB (six times: 20 dB; AEC3 adapts as it goes, and a short turn is
not enough for it); after a second of each of the bench's noises, 17-57 dB down (the live
canceller: 0 dB after noise1 and noise5), the noise itself down 0.1-1.1 dB (the live
canceller: 0.2-3.8), but for noise2's 5.0 dB, where the live canceller had held it (4.8).

It is for an echo later than AEC3 reaches: at 200 ms AEC3's own output, the echo suppressed
as well as cancelled, was the better (:meth:`~voice_agent.speech.echo.CallerEchoCanceller.again`).

:class:`LineHistory` keeps the line's last seconds as the canceller saw them: the caller's audio
in, the agent's audio played, and what the canceller let through. The STT's turn audio is found
in the last of these by its samples: the pipeline's queues put it some frames behind the
canceller.
"""

from __future__ import annotations

from collections import deque

import numpy as np

#: The filter fitted: from this many samples before the echo's delay, this many long (16 kHz).
BEFORE, TAPS = 32, 256
#: How far the delay is looked for around the one the finder found (its resolution, and more).
SEARCH = 800
STEP = 160  # 10 ms at 16 kHz: the pipeline's audio frames are whole multiples of it


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
        self._far.append(far.copy())  # a view would keep the reference's whole buffer alive
        self._kept += len(near)
        self._kept_far += len(far)
        while self._kept - len(self._near[0]) >= self._keep:
            self._kept -= len(self._near.popleft())
            self._out.popleft()
        while self._kept_far - len(self._far[0]) >= self._keep_far:
            self._kept_far -= len(self._far.popleft())

    def heard(self, n: int) -> np.ndarray:
        """The caller's last ``n`` samples in, silence before the first."""
        frames: list[np.ndarray] = []
        got = 0
        for frame in reversed(self._near):
            if got >= n:
                break
            frames.append(frame)
            got += len(frame)
        last = np.concatenate((np.zeros(max(0, n - got), np.int16), *reversed(frames)))
        return last[len(last) - n :]

    def snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(the caller's audio in, the played audio, what was let out), to the last frame."""
        return _joined(self._near), _joined(self._far), _joined(self._out)


def cancelled_again(
    pcm: bytes, line: tuple[np.ndarray, np.ndarray, np.ndarray], lag: int, max_behind: int
) -> bytes | None:
    """``pcm`` (audio the canceller let out, as the STT has it) taken again from the line it
    came from (a :meth:`LineHistory.snapshot`), with the echo ``lag`` samples late (about)
    fitted and taken out; None where it does not end within ``max_behind`` samples of the
    line's end. Played audio from before the line's history is silence: the call's start.
    """
    near, far, out = line
    heard = np.frombuffer(pcm, np.int16)
    n = len(heard)
    ago = _ends_at(heard, out, max_behind)
    if not n or ago is None:
        return None
    end = len(near) - ago
    far = far[: len(far) - ago]
    far = np.concatenate((np.zeros(max(0, n + lag + SEARCH + TAPS - len(far)), np.int16), far))
    fitted = _echo_taken_out(near[end - n : end], far, lag)
    # Where the fit leaves a frame 6 dB louder than the live canceller did, the live one: with
    # a caller talking over the whole echo the fit is poor, the live canceller had held the
    # echo's gaps silent, and the fit's leftovers read as words ("My item, thanks for
    # 8 1 5 2 6" for "My order number is ..."). A caller the live canceller turned down a few
    # dB is the fit's.
    louder = _frame_energy(fitted) > 4 * _frame_energy(heard)
    keep_live = np.repeat(louder, 2 * STEP)[:n]
    return np.where(keep_live, heard, fitted).astype(np.int16).tobytes()


def _echo_taken_out(near: np.ndarray, far: np.ndarray, lag: int) -> np.ndarray:
    """``near`` less the echo of ``far`` (played audio ending where ``near`` ends), fitted by
    least squares at the delay found around ``lag``: over the whole turn, then again over
    the frames the first fit found to be the echo's alone (a caller talking over it skews it).
    """
    n, y, x = len(near), near.astype(np.float64), far.astype(np.float64)
    end = len(x)
    around = _xcorr(x[end - n - lag - SEARCH : end - lag + SEARCH], y)
    lag += SEARCH - int(np.argmax(np.abs(around)))
    start = lag - BEFORE
    played = x[end - n - start - TAPS + 1 : end - start]  # tap k reaches back start + k
    taps = _fit(played, y, np.ones(n))
    if taps is None:
        return near  # nothing played then: no echo to take out
    echo = np.convolve(played, taps, mode="valid")
    alone = _frame_energy(y - echo) < 0.25 * _frame_energy(y)  # down 6 dB: the echo's frames
    if alone.any():
        weight = np.repeat(alone, 2 * STEP)[:n].astype(np.float64)
        refit = _fit(played, y, weight)
        echo = echo if refit is None else np.convolve(played, refit, mode="valid")
    return np.clip(y - echo, -32768, 32767).astype(np.int16)


def _fit(played: np.ndarray, y: np.ndarray, weight: np.ndarray) -> np.ndarray | None:
    """The taps that best give ``y`` from ``played`` where ``weight`` is 1 (least squares,
    the played audio's correlations taken as Toeplitz).
    """
    p = _xcorr(played, y * weight)[::-1]
    r = _xcorr(played, played[TAPS - 1 :] * weight)[::-1]
    if r[0] <= 0:
        return None
    gram = r[np.abs(np.subtract.outer(np.arange(TAPS), np.arange(TAPS)))]
    return np.linalg.solve(gram + 1e-3 * r[0] * np.eye(TAPS), p)


def _frame_energy(audio: np.ndarray) -> np.ndarray:
    """Each 20 ms frame's energy (a last, shorter frame too)."""
    frame = STEP * 2
    padded = np.concatenate((audio, np.zeros(-len(audio) % frame)))
    return np.square(padded).reshape(-1, frame).sum(axis=1)


def _xcorr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``c[j] = sum(a[t + j] * b[t])`` for ``j`` from 0 to ``len(a) - len(b)``."""
    size = 1 << (len(a) + len(b)).bit_length()
    c = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    return c[: len(a) - len(b) + 1]


def _ends_at(heard: np.ndarray, out: np.ndarray, max_behind: int) -> int | None:
    """How many samples before the end of ``out`` ``heard`` ends, if it is there."""
    n = len(heard)
    for ago in range(0, min(len(out) - n, max_behind) + 1, STEP):
        if np.array_equal(out[len(out) - ago - n : len(out) - ago], heard):
            return ago
    return None


def _joined(frames: deque[np.ndarray]) -> np.ndarray:
    return np.concatenate(frames) if frames else np.zeros(0, np.int16)
