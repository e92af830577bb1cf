"""The agent's own voice taken out of the caller's audio (line and speakerphone echo).

A caller on a speakerphone, or on a line whose hybrid leaks, sends the agent's prompt back a
few hundred ms later, 10-30 dB down. Silero hears that as speech: without this, the echo
paused every prompt in the barge-in bench (``python -m bench.barge_in --echo-db 30``), and
with the echo 15 dB down the agent took its own words for the caller's ("I can help.") and
handed the call to a person within 6 s.

:class:`EchoReference` keeps the agent's audio where the caller heard it (each chunk placed
by when it was sent), and hands it out 20 ms for 20 ms of caller audio: the echo keeps a
steady offset in it, even where the event loop stalled. :class:`CallerEchoCanceller` runs
WebRTC's AEC3 (``pywebrtc-audio``) on the caller's audio with it. AEC3 finds the echo's delay
itself, up to ~0.5 s behind the reference; a later echo is found by
:mod:`voice_agent.speech.echo_delay`, and the reference held back for it.

A new AEC3 is cautious: for its first ~6 s of the agent talking it turns the caller down by
10-70 dB whenever the agent talks, echo or not, and a caller who spoke over the greeting went
unheard (7 of 8 barge-ins missed on a line with no echo). So each canceller first hears 6 s of
noise played to a silent line (:meth:`CallerEchoCanceller.warm_up`, ~55 ms of CPU): after that
the caller comes through whole (-0.3 dB) and an echo is cancelled (35-50 dB) from about a second
after it first comes back.

What it still costs a line with no echo: AEC3 holds back the first window or two of a caller
who starts talking while the agent does, so some barge-ins come one Silero window later. What
it leaves on a line that echoes: a loud noise over the echo, before the canceller has settled
on it, can still pause a prompt (``bench/README.md``, "Callers whose line echoes").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pywebrtc_audio import EchoCanceller

from voice_agent.audio import LineClock, Upsampler2x, level_dbfs, resample
from voice_agent.speech.echo_again import SEARCH, TAPS, LineHistory, cancelled_again
from voice_agent.speech.echo_delay import EchoDelayFinder, EchoLeakWatch, shift_in

RATE = 16000  # the pipeline's caller audio, and the canceller's rate
#: Played audio not yet matched by caller audio beyond this is dropped (the two clocks drift,
#: or the output got ahead).
MAX_BACKLOG_S = 0.5
WARM_UP_S = 6.0
#: The line's last second, played to an AEC3 before it is put in (at the call's start once
#: warmed up, and for a late echo): one put in once the echo had begun let it through later
#: (offline: a warm-up done 0.1-1.5 s into the greeting, the greeting's echo 200 ms late, made
#: Silero hear it, and a barge-in of it at 0.3 s; a new AEC3 for a late echo, ~0.5-0.8 s on).
#: ~8 ms of CPU, on the caller's audio path, once per AEC3.
HISTORY_S = 1.0
MIN_RETURN_LOSS_DB = 6.0
#: Played audio under this at the echo's delay leaves no echo on the line.
QUIET_DBFS = -50.0
#: How far an echo spreads around the delay found (its tail; the finder's 10 ms).
ECHO_SPREAD_S = 0.04
#: AEC3 turning the line down by more than this where it holds no echo is AEC3 holding it.
HELD_DOWN_DB = 6.0
#: How long after the echo's delay is found some of it may still come through: the AEC3
#: in use lets it through for a second or more, a new one is warmed up meanwhile, and a
#: caller talking over the echo slows its settling. In the barge-in bench (700 ms late,
#: 15 dB down) the echo's words came in turns begun up to 1.3 s after it was found.
SETTLE_S = 2.0
#: The line's last seconds kept to cancel a turn again (:mod:`voice_agent.speech.echo_again`),
#: and how far behind the canceller the STT's audio of it may be.
TURN_HISTORY_S = 8.0
#: A new AEC3 put in for a late echo is trusted once it has taken :data:`PROVEN_S` of echo in a
#: row down by :data:`PROVEN_DB`, or after :data:`UNPROVEN_S`; until then the line is held
#: silent where it is no louder than the echo could be. Played the line's last second, it
#: still let the echo's next words through: 24 of the agent's own calls with the greeting's
#: echo 0.7 s late, replayed offline, let 85 ms of it through in their first 1.3 s on
#: average and 220 at most without this wait, 63 and 120 with it.
UNPROVEN_S = 0.5
PROVEN_S = 0.1
PROVEN_DB = 10.0
MAX_BEHIND_S = 1.0


class EchoReference:
    """The agent's played audio at 16 kHz, taken in step with the caller's audio.

    Each chunk is handed in as the output transport sends it (:meth:`played`, with the time),
    and placed where the caller starts hearing it: after the chunk before, which the caller's
    side plays first, and no earlier than the caller's audio had come by the time it was sent.
    The caller's audio comes at the line's pace, so the earliest any of it came, less its place
    in the stream, is when the stream began (:meth:`take`, with the time); a chunk sent at
    ``t`` is heard from ``t`` less that on the caller's clock, or later. So the audio is never
    placed later than heard, only early by the line's delay: AEC3 takes an echo later than
    the reference, not an earlier one.

    Where the event loop stalls (a busy box), the caller's audio comes in a burst afterwards
    and the chunks at the line's pace: placed by when they were sent, a chunk sent after the
    stall leaves the gap the caller heard in the prompt. Placed by how much caller audio had
    been read when it was passed on, as before, the chunks after a 120 ms stall were taken
    for due already and dropped, and the greeting's echo paused it (the e2e echo test's
    failures under load; ``bench/README.md``, "Played audio placed by when it was sent").

    Without times, a chunk is placed where the caller's audio has been read up to.
    """

    def __init__(self, max_backlog_s: float = MAX_BACKLOG_S) -> None:
        self._pending = np.zeros(0, dtype=np.int16)
        self._max_backlog = int(max_backlog_s * RATE)
        self._upsampler: Upsampler2x | None = None
        self._taken = 0  # samples handed out so far: the caller's audio's clock
        self._end = 0  # where the last chunk ends, on that clock
        # When the caller's audio began: an estimate risen too far (a line clock slower than
        # ours) only places played audio early, which AEC3 takes.
        self._line = LineClock(RATE)

    def played(self, pcm: bytes, sample_rate: int, sent_at: float | None = None) -> None:
        """Add 16-bit mono PCM sent to the caller at ``sent_at`` (``time.monotonic()``)."""
        if sample_rate == RATE:
            samples = np.frombuffer(pcm, dtype=np.int16)
        elif sample_rate == RATE // 2:
            self._upsampler = self._upsampler or Upsampler2x()
            samples = np.frombuffer(self._upsampler.process(pcm), dtype=np.int16)
        else:
            audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768
            samples = (np.clip(resample(audio, sample_rate, RATE), -1, 1) * 32767).astype(np.int16)
        now = sent = self._taken
        if sent_at is not None and self._line.began is not None:
            sent = int((sent_at - self._line.began) * RATE)
        at = max(self._end, sent)
        self._end = at + len(samples)
        if at < now:  # already due (the line's clock ran ahead of ours)
            samples, at = samples[now - at :], now
        gap = np.zeros(max(0, at - now - len(self._pending)), np.int16)
        self._pending = np.concatenate((self._pending, gap, samples))
        # Played ahead of the caller's audio as it was when sent (the output ran ahead, or a
        # line slower than our clock): the oldest of that is dropped. A stall's gap is kept.
        start = max(0, sent - now)
        excess = len(self._pending) - start - self._max_backlog
        if excess > 0:
            self._pending = np.concatenate((self._pending[:start], self._pending[start + excess :]))
            self._end = now + len(self._pending)

    def take(self, n: int, now: float | None = None) -> np.ndarray:
        """The next ``n`` samples played (silence where nothing was), for ``n`` samples of the
        caller's audio that had come by ``now`` (``time.monotonic()``).
        """
        out = self._pending[:n]
        self._pending = self._pending[n:]
        self._taken += n
        self._line.heard(n, now)
        if len(out) < n:
            out = np.concatenate((out, np.zeros(n - len(out), dtype=np.int16)))
        return out


class CallerEchoCanceller:
    """AEC3 over one call's caller audio (16 kHz PCM16 in, the same length out).

    An echo later than AEC3 reaches gets the played audio held back for it
    (:class:`~voice_agent.speech.echo_delay.EchoDelayFinder`), and a new AEC3: warmed up in
    the background, then played the line's last second with the audio so held. The AEC3 in
    use, which spent the echo's first moments unable to cancel it, went on letting it
    through for a second or more once it could; so did a new one not played the line's
    last second, ~0.5 s after it was put in (offline, both made a barge-in of the prompt's
    own echo). Until the new one is in, the caller's audio is held silent where it is no
    louder than the agent's echo could be: it is the agent's.

    Args:
        reference: The agent's audio as played.
        background: Runs a warm-up (a callable, without the GIL) where it does not hold up
            the caller's audio, e.g. in a thread; by default at once.
    """

    def __init__(
        self,
        reference: EchoReference,
        *,
        background: Callable[[Callable[[], None]], None] = lambda work: work(),
    ) -> None:
        self.reference = reference
        self.delay = EchoDelayFinder(RATE)
        self._background = background
        self._aec = Aec3()
        self._held = 0  # samples the played audio is held back for the AEC3 in use
        self._next: tuple[Aec3, int] | None = None  # warmed up for another hold-back
        self._unproven = 0  # samples left until the AEC3 in use is trusted anyway
        self._cancelled = 0  # samples of echo in a row it took down
        self._preparing = 0
        self._reach = int(self.delay.options.max_delay_s * RATE)  # the latest echo looked for
        self._in_use = False  # the AEC3 warmed up at the call's start not yet put in
        self._played = np.zeros(self._reach + int(HISTORY_S * RATE), np.int16)
        self._samples = 0  # of the caller's audio so far
        self._found_at: int | None = None  # where in it the echo's delay was first found
        self._leaks = EchoLeakWatch(self.delay)
        self._leaked_at: int | None = None  # and where the echo was last found let out
        keep = int(TURN_HISTORY_S * RATE)
        behind = int(MAX_BEHIND_S * RATE)
        self._line = LineHistory(keep, keep + behind + self._reach + SEARCH + TAPS)
        self.ready = False

    def warm_up(self, seconds: float = WARM_UP_S) -> None:
        """Take AEC3 past its cautious start (blocking, without the GIL: run it in a thread).

        Until it is done, :meth:`process` passes the caller's audio on as it is while the
        agent is quiet, and holds it silent while the agent's audio plays or may still be
        coming back (up to 1.5 s after): its echo could not be taken out yet (a busy box may
        take a few hundred ms over the warm-up; CI once heard a 0.7 s echo of the greeting
        in its pauses then).
        """
        _warm(self._aec, seconds)
        self.ready = True

    def process(self, pcm: bytes, now: float | None = None) -> bytes:
        """Cancel the echo in ``pcm``, the caller's audio that had come by ``now``
        (``time.monotonic()``; see :class:`EchoReference`).
        """
        near = np.frombuffer(pcm, dtype=np.int16)
        far = self.reference.take(len(near), now)  # taken even while warming: keeps the pace
        if not len(near):
            return pcm
        out = self._cancel(near, far, pcm)
        let_out = np.frombuffer(out, np.int16)
        self._line.add(near, far, let_out)
        if self._leaks.feed(let_out):
            self._leaked_at = self._samples
        return out

    def _cancel(self, near: np.ndarray, far: np.ndarray, pcm: bytes) -> bytes:
        self.delay.feed(far, near)
        self._samples += len(near)
        if self._found_at is None and self.delay.delay_s is not None:
            self._found_at = self._samples
        self._played = shift_in(self._played, far)
        if not self.ready:  # held while the agent's audio may still be coming back
            return bytes(len(pcm)) if self._played[-self._reach :].any() else pcm
        if not self._in_use:
            self._put_in(self._aec, len(near))
        if not self._follow_the_delay(len(near)) and not self._louder_than_an_echo(near):
            return bytes(len(pcm))  # the agent's own echo, not cancelled yet: not the caller
        end = len(self._played) - self._held
        out = self._aec.process(near, self._played[end - len(far) : end])
        if not self._trusted(near, out) and not self._louder_than_an_echo(near):
            return bytes(len(pcm))  # a new AEC3 yet to show it takes the echo out
        if self._no_echo_now(len(near)) and level_dbfs(out) < level_dbfs(near) - HELD_DOWN_DB:
            return pcm  # AEC3 still holding the line down after the agent's last words
        return out.tobytes()

    def leaked_within(self, seconds: float) -> bool:
        """Whether the agent's echo may have reached the caller's last ``seconds`` of audio
        uncancelled: the line's echo was first found in them, or :data:`SETTLE_S` before, or
        found in what the canceller let out (:class:`~voice_agent.speech.echo_delay.
        EchoLeakWatch`). Until it is found, an echo later than AEC3 reaches passes as it is.
        """
        since = (self._samples - at for at in (self._found_at, self._leaked_at) if at is not None)
        return any(ago <= (seconds + SETTLE_S) * RATE for ago in since)

    def again(self, pcm: bytes) -> Callable[[], bytes | None] | None:
        """For audio this canceller let out (a caller's turn, as the STT has it) in which an
        echo later than AEC3 reaches may have leaked (:meth:`leaked_within`): that audio with
        the echo taken out again, fitted over the whole turn
        (:mod:`voice_agent.speech.echo_again`), or None if it is not the canceller's last
        seconds. The line is taken now; the work (~15 ms of CPU a second of the turn: 46 ms
        for 3 s) is done when the result is called, e.g. in the decode's thread.

        None where nothing leaked, and where AEC3 reaches the echo itself: its output, the echo
        suppressed as well as cancelled, was better than the fit's (the barge-in bench, 200 ms
        late and 30 dB down: an "mm-hmm" read "All right, mm-hmm." in 3 of 3 trials).
        """
        delay = self.delay.delay_s
        late = self.delay.hold_back > 0
        if delay is None or not late or not self.leaked_within(len(pcm) / 2 / RATE):
            return None
        line, lag = self._line.snapshot(), int(delay * RATE)
        return lambda: cancelled_again(pcm, line, lag, int(MAX_BEHIND_S * RATE))

    def _trusted(self, near: np.ndarray, out: np.ndarray) -> bool:
        """Whether the AEC3 in use has shown it takes the echo out, or needs not (see
        :data:`UNPROVEN_S`), counting this frame: ``out`` is what it made of ``near``.
        """
        if self._unproven <= 0:
            return True
        self._unproven -= len(near)
        if not self._no_echo_now(len(near)) and level_dbfs(near) >= QUIET_DBFS:
            taken_down = level_dbfs(out) <= level_dbfs(near) - PROVEN_DB
            self._cancelled = self._cancelled + len(near) if taken_down else 0
            if self._cancelled >= PROVEN_S * RATE:
                self._unproven = 0
        return self._unproven <= 0

    def _no_echo_now(self, n: int) -> bool:
        """Whether what was played at the echo's delay, give or take its spread, was silent: the
        line holds none of it now. AEC3 goes on holding the line down for a while after the
        echo has come back, and a caller who spoke then lost their first 20-60 ms: too much
        of a short "Wait," to pause the prompt (offline, over the greeting echoed 15 dB down,
        0.16-0.30 s late: it paused it after 0.7-0.9 s in 17 of 48 cases, against 0.2 s).
        """
        then = self._played_at_the_echo(n, int(ECHO_SPREAD_S * RATE))
        if then is None:
            return False
        tens = np.array_split(then, max(1, len(then) // (RATE // 100)))
        return all(level_dbfs(ten) < QUIET_DBFS for ten in tens)

    def _louder_than_an_echo(self, near: np.ndarray) -> bool:
        """Whether the line is louder than the echo of what was played then could make it: the
        caller is talking (lines return their echo at least 6 dB down, ITU-T G.168).
        """
        then = self._played_at_the_echo(len(near))
        return then is not None and level_dbfs(near) > level_dbfs(then) - MIN_RETURN_LOSS_DB

    def _played_at_the_echo(self, n: int, spread: int = 0) -> np.ndarray | None:
        """The played audio whose echo the line's last ``n`` samples hold, widened by
        ``spread`` on each side; None while the echo's delay is not known.
        """
        lag = self.delay.echo_lag_s
        if lag is None:
            return None
        end = len(self._played) - int(lag * RATE) + spread
        return self._played[end - n - 2 * spread : end]

    def _put_in(self, aec: Aec3, n: int) -> None:
        """Use ``aec`` from the next ``n`` samples on, once it has been played the line's last
        second (:data:`HISTORY_S`) with the played audio held back as now.
        """
        before = int(HISTORY_S * RATE) - n  # the frame now being cancelled is not in it yet
        end = len(self._played) - self._held - n
        aec.process(self._line.heard(before), self._played[end - before : end])
        self._aec, self._in_use = aec, True

    def _follow_the_delay(self, n: int) -> bool:
        """Whether the AEC3 in use has the played audio held back as the line needs; if not,
        one that has is being warmed up.
        """
        wanted = self.delay.hold_back
        ready, self._next = self._next, None
        if ready is not None and ready[1] == wanted:
            self._held = wanted
            self._put_in(ready[0], n)
            self._unproven, self._cancelled = (int(UNPROVEN_S * RATE) if wanted else 0), 0
        if wanted == self._held:
            self._preparing = wanted  # a delay suspected and let go may be wanted again later
            return True
        if wanted != self._preparing:
            self._preparing = wanted

            def prepare() -> None:
                aec = Aec3()
                _warm(aec, WARM_UP_S)
                if self._preparing == wanted:  # not overtaken by another delay meanwhile
                    self._next = (aec, wanted)

            self._background(prepare)
        return False


class Aec3:
    """WebRTC's AEC3 at 16 kHz, never handed exact silence.

    Once a side that had sound goes digitally silent, AEC3's float state decays towards zero
    (denormal numbers, slow on x86): each 20 ms frame took 2.3 ms of CPU instead of 0.13-0.16 ms
    (``python -m bench.echo_cost``), and the agent is silent whenever the caller talks. So each
    exactly silent sample is handed as +-1 (-90 dBFS), drawn anew for each side. The same
    pattern on both sides, as first tried, is an echo at no delay; with it the barge-in bench
    over an echo 15 dB down gave 5 false barge-ins of 34 (0-2 otherwise).
    """

    def __init__(self) -> None:
        self._aec = EchoCanceller(sample_rate=RATE)
        self._noise = np.random.default_rng(0)

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        """The line ``near`` with the echo of the played ``far`` taken out (int16, alike)."""
        out: np.ndarray = self._aec.process(self._floored(near), self._floored(far))
        return out

    def _floored(self, samples: np.ndarray) -> np.ndarray:
        if samples.all():
            return samples
        noise = self._noise.integers(0, 2, len(samples), dtype=np.int16) * 2 - 1
        return np.where(samples == 0, noise, samples)


def _warm(aec: Aec3, seconds: float) -> None:
    if seconds > 0:
        rng = np.random.default_rng(0)
        played = (rng.standard_normal(int(seconds * RATE)) * 3000).astype(np.int16)
        aec.process(np.zeros_like(played), played)
