"""How late a caller's line sends the agent's voice back, for echoes AEC3 can't reach alone.

AEC3 looks for the echo up to ~0.5 s behind the audio it is given as played. A line can be
later than that: the websocket to Twilio, Twilio's own buffers and a mobile leg each add a
few hundred ms. Such an echo is not cancelled at all, and Silero takes the agent's own prompt
for the caller talking over it (offline, 0.6 s late and 15 dB down: the greeting paused and
then stopped for good within 0.9 s of the echo coming back).

:class:`EchoDelayFinder` cross-correlates what was played with what the caller's line sends
(GCC-PHAT on 4 kHz audio: the line's filtering and mu-law leave the delay's peak sharp),
while the agent talks and the line is not silent. A peak that stands well clear of every
other lag is the echo's delay. A delay AEC3 reaches is left to it; a later one is answered
with a bulk delay: the canceller holds the played audio back by that much less a little, so
AEC3 finds the rest within its range. That is acted on at once and kept if a look 0.1 s
later finds the echo again within AEC3's reach
(:class:`~voice_agent.speech.echo.CallerEchoCanceller` holds the line silent meanwhile,
unless it is louder than the echo could be). :class:`EchoLeakWatch` looks the same way for the
echo in what the canceller let out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DECIMATE = 4  # 16 kHz -> 4 kHz: the phone band's lower half carries the delay's peak


@dataclass(frozen=True)
class EchoDelayOptions:
    """What the finder looks for, and how sure it must be.

    Attributes:
        max_delay_s: The latest echo looked for.
        window_s: The caller's audio correlated with the played audio at each look.
        look_every_s: How often it looks while it has not found the echo's delay, for the
            first ``quick_looks_s`` of looking (the agent talking, the line not silent). Until
            it is suspected the echo passes uncancelled: looking every 0.1 s, up to 220 ms
            (median 160) of the greeting's echo 0.7 s late did in the agent's own calls
            (``bench.echo_greetings``), and Silero took it for the caller now and then.
        quick_looks_s: After that long, a line that has not echoed is looked at as seldom as
            a line whose delay is known: each look costs ~0.4 ms.
        recheck_every_s: How often it looks once it has found it (the line's delay can move).
        min_peak_ratio: The peak over the highest lag more than ``peak_width_s`` from it.
            Offline, over a prompt with its echo (0.4-1.3 s late, 10-25 dB down, noise or
            none) the best look reached 9-26; with no echo and a caller talking over it (real
            speech, the tests' callers in the agent's own voice, noise) no look passed 2.1.
            At 2.5 rather than 3.0, of 24 of the agent's own calls with the greeting's echo
            0.7 s late (replayed offline), 12 suspected it 40-200 ms sooner, two of them
            where 3.0 found nothing in the first 1.3 s, and 63 ms of it came through on
            average, not 104; of 240 lines without echo (offline, a caller talking over the
            agent), none had a delay kept.
        peak_width_s: Lags this close to the peak are not counted against it.
        agree_after_s: A delay suspected is looked for again this long after, and kept if
            AEC3 reaches the echo then with the played audio held back for it. A look on
            nearly the same window would find it again, true or not.
        agree_width_s: The peak's width at that look. The played audio is placed within a
            40 ms chunk of where the caller heard it, and after a stall of the event loop
            that place can move by a chunk: the echo then peaks twice. In the agent's own
            calls stopped for 120 ms early in the greeting, 3 of 8 suspected delays were let
            go at 10 ms, two of them found again only ~0.9 s later; a peak this wide at every
            look took the callers' own voices for an echo (offline, 14 of 240 lines without
            one).
        agree_ratio: The peak's ratio at that look (the third of those 8 had 2.39 there).
        aec_reach_s: Echoes up to this late behind the played audio as AEC3 is given it are
            AEC3's own (its reach less a margin); the hold-back changes only for one outside.
        aec_lead_s: A later echo is held back to this delay in front of AEC3.
        min_level: Mean absolute sample (of full scale) under which audio is taken as silent.
    """

    max_delay_s: float = 1.5
    window_s: float = 1.0
    look_every_s: float = 0.04
    quick_looks_s: float = 5.0
    recheck_every_s: float = 1.0
    min_peak_ratio: float = 2.5
    peak_width_s: float = 0.01
    agree_after_s: float = 0.1
    agree_width_s: float = 0.05
    agree_ratio: float = 2.0
    aec_reach_s: float = 0.35
    aec_lead_s: float = 0.15
    min_level: float = 10**-3.5


class EchoDelayFinder:
    """Feed it the played and the caller's audio, 16 kHz frame by frame, in step.

    Attributes:
        hold_back: How many samples the canceller should hold the played audio back.
        suspect: The last look found the echo out of AEC3's reach as the audio is held, and
            the next (``look_every_s`` later) has not yet seen it again; :attr:`hold_back`
            is for that delay meanwhile, and goes back if it is not seen again.
        delay_s: The echo's delay, once seen (twice when it changes the hold-back).
    """

    def __init__(self, rate: int = 16000, options: EchoDelayOptions | None = None) -> None:
        self.options = options or EchoDelayOptions()
        self._rate = rate // DECIMATE
        o = self.options
        self._near = np.zeros(int(o.window_s * self._rate), np.float32)
        self._far = np.zeros(int((o.window_s + o.max_delay_s) * self._rate), np.float32)
        self._since_look = 0
        self._quick_looks = round(o.quick_looks_s / o.look_every_s)
        self.delay_s: float | None = None
        self.hold_back = 0
        self._settled = 0  # the hold-back before a suspected delay
        self.suspect = False
        self._suspected = 0.0

    @property
    def echo_lag_s(self) -> float | None:
        """How late the echo is taken to be: the delay suspected, else the one found."""
        return self._suspected if self.suspect else self.delay_s

    def feed(self, far: np.ndarray, near: np.ndarray) -> None:
        """Add one frame of played (``far``) and caller (``near``) 16-bit audio."""
        n = len(far) // DECIMATE * DECIMATE
        self._far = shift_in(self._far, _decimate(far[:n]))
        self._near = shift_in(self._near, _decimate(near[:n]))
        self._since_look += n // DECIMATE
        o = self.options
        if self.suspect:
            every = o.agree_after_s
        elif self.delay_s is None and self._quick_looks > 0:
            every = o.look_every_s
        else:
            every = o.recheck_every_s
        if self._since_look >= every * self._rate:
            self._since_look = 0
            self._look()

    def _look(self) -> None:
        o = self.options
        found = None
        if _level(self._near) >= o.min_level and _level(self._far) >= o.min_level:
            self._quick_looks -= 1
            strict = (o.min_peak_ratio, o.peak_width_s)
            ratio, width = (o.agree_ratio, o.agree_width_s) if self.suspect else strict
            found = _peak_delay(self._far, self._near, self._rate, ratio, width)
        # else a silent line, or the agent quiet: nothing to find
        if self.suspect:
            self.suspect = False
            if found is not None and self._reached(self.hold_back, found):
                self._settled, self.delay_s = self.hold_back, found
            else:
                self.hold_back = self._settled  # not seen again: not the echo
            return
        if found is None:
            return
        if self._reached(self._settled, found):
            self.delay_s = found
            return
        lead = 0.0 if found <= o.aec_reach_s else found - o.aec_lead_s
        self.hold_back = int(round(lead * self._rate)) * DECIMATE
        self.suspect, self._suspected = True, found

    def _reached(self, hold_back: int, delay_s: float) -> bool:
        """Whether AEC3 reaches an echo ``delay_s`` late with the audio held back so."""
        held_s = hold_back / (self._rate * DECIMATE)
        return held_s <= delay_s <= held_s + self.options.aec_reach_s


class EchoLeakWatch:
    """Whether the canceller's output still holds the echo: its audio correlated with the
    played audio at the echo's delay, where it is loud enough to be heard as speech.

    AEC3 can go on letting an echo through long after its delay was found: live, after a
    second of loud noise over the greeting of a line echoing it 0.7 s late, the echo of what
    the agent said 3-4 s later came out only 15-20 dB down, and was answered ("Refund" for
    the greeting's "refunds", "I can tell." for "I can help"). Looked for as ``finder`` looks
    for the echo in the line, with its played audio, where the output is loud enough
    (``min_dbfs``) to be taken for speech.
    """

    def __init__(
        self, finder: EchoDelayFinder, look_every_s: float = 0.25, min_dbfs: float = -50.0
    ) -> None:
        self._finder = finder
        self._out = np.zeros_like(finder._near)
        self._every = int(look_every_s * finder._rate)
        self._since_look = 0
        self._min_rms = 10 ** (min_dbfs / 20)

    def feed(self, out: np.ndarray) -> bool:
        """Add one frame of let-out 16-bit audio, after the finder was fed the frame's played
        and line audio; True on a look that finds the echo in it at the line's delay (within
        its spread).
        """
        n = len(out) // DECIMATE * DECIMATE
        self._out = shift_in(self._out, _decimate(out[:n]))
        self._since_look += n // DECIMATE
        finder, o = self._finder, self._finder.options
        lag = finder.echo_lag_s
        if self._since_look < self._every or lag is None:
            return False
        self._since_look = 0
        if _level(finder._far) < o.min_level or np.sqrt(np.mean(self._out**2)) < self._min_rms:
            return False
        found = _peak_delay(finder._far, self._out, finder._rate, o.min_peak_ratio, o.peak_width_s)
        return found is not None and abs(found - lag) <= o.agree_width_s


def _peak_delay(
    far: np.ndarray, near: np.ndarray, rate: int, min_ratio: float, width_s: float
) -> float | None:
    """The delay of ``near`` behind ``far``'s end-aligned audio, if one lag stands out
    ``min_ratio`` times over every lag more than ``width_s`` from it.
    """
    near = _level_frames(near, rate // 50)
    size = 1 << (len(far) + len(near) - 1).bit_length()
    cross = np.fft.rfft(far, size) * np.conj(np.fft.rfft(near, size))
    cross /= np.abs(cross) ** 0.8 + 1e-9  # PHAT, not quite whitened: noise bands stay low
    corr = np.abs(np.fft.irfft(cross, size)[: len(far) - len(near) + 1])  # a line may invert
    best = int(np.argmax(corr))
    away = round(width_s * rate)
    others = np.concatenate((corr[: max(0, best - away)], corr[best + away + 1 :]))
    if not len(others) or corr[best] < min_ratio * others.max():
        return None
    return (len(far) - len(near) - best) / rate


def _level_frames(audio: np.ndarray, frame: int) -> np.ndarray:
    """Each ``frame`` of ``audio`` scaled to the same loudness, those under the median only up
    to it: a cough over the echo would otherwise outweigh the echo around it (offline, it put
    off finding it by 0.6-0.8 s, and the prompt's first words came through).
    """
    n = len(audio) // frame * frame
    frames = audio[:n].reshape(-1, frame)
    rms = np.sqrt(np.mean(np.square(frames), axis=1))
    floor = max(float(np.median(rms)), 1e-9)
    levelled = (frames / np.maximum(rms, floor)[:, None]).reshape(-1)
    return np.concatenate((levelled, audio[n:])).astype(np.float32)


def _decimate(pcm: np.ndarray) -> np.ndarray:
    return pcm.astype(np.float32).reshape(-1, DECIMATE).mean(axis=1) / 32768


def shift_in(buffer: np.ndarray, new: np.ndarray) -> np.ndarray:
    """``buffer`` (the latest audio) with ``new`` at its end and as much dropped from its start."""
    return np.concatenate((buffer[len(new) :], new))


def _level(audio: np.ndarray) -> float:
    return float(np.mean(np.abs(audio)))
