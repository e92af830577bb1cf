"""Speech or not, unit by unit, over one caller's audio stream: what the STT service counts a
pause in (bytes in, decisions out; no I/O).

Each ``feed(pcm)`` takes the next 16-bit mono PCM of the stream and returns ``(speech, samples)``
for every unit of it now decided, in order; ``samples`` is the unit's length, so a caller counts
a pause in samples, whatever the unit. Two kinds:

* :class:`WebRtcSpeech`: WebRTC VAD over 20 ms frames. Cheap, but it hears a noisy line's
  noise as speech (the bench's noise recordings at 10 dB SNR: 46-98% of their frames), so on
  such a line it hardly ever hears a pause.
* :class:`SileroSpeech`: Silero's confidence over its 32 ms windows (16 kHz), against the
  turn VAD's threshold. It hears speech, not energy, so pauses show on noisy lines too. It reads
  the windows the turn VAD already scored from a :class:`~voice_agent.speech.silero.ConfidenceTap`
  or, without one, scores them itself.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import webrtcvad
from pipecat.audio.vad.vad_analyzer import VADParams

from voice_agent.speech.silero import ConfidenceTap, SileroConfidence

Unit = tuple[bool, int]  # (speech, samples)


class SpeechUnits(Protocol):
    def feed(self, pcm: bytes) -> list[Unit]: ...


class WebRtcSpeech:
    """WebRTC VAD (``mode`` 0-3) over 20 ms frames."""

    def __init__(self, sample_rate: int, mode: int = 2) -> None:
        self._vad = webrtcvad.Vad(mode)
        self._rate = sample_rate
        self._frame = sample_rate // 50
        self._pending = b""

    def feed(self, pcm: bytes) -> list[Unit]:
        self._pending += pcm
        step = 2 * self._frame
        units = []
        while len(self._pending) >= step:
            chunk, self._pending = self._pending[:step], self._pending[step:]
            units.append((self._vad.is_speech(chunk, self._rate), self._frame))
        return units


class SileroSpeech:
    """Silero confidence ≥ ``threshold`` per window: from ``tap``, or scored with ``session``.

    With a tap, the windows are those the turn VAD upstream scored of the audio fed here so far
    (it scores a frame after passing it on, so a frame's last window may come with the next).
    With a session, the windows are scored here onto a tap of its own, and read the same way.
    """

    def __init__(
        self,
        threshold: float,
        *,
        tap: ConfidenceTap | None = None,
        session: object = None,
        sample_rate: int = 16000,
    ) -> None:
        if (tap is None) == (session is None):
            raise ValueError("give a confidence tap or a Silero session")
        self._threshold = threshold
        # Its own tap is emptied on every feed; the bound only has to hold one feed's windows.
        self._tap = tap or ConfidenceTap(max_windows=1 << 16)
        self._silero = None if session is None else SileroConfidence(sample_rate, session)
        self._seen = 0  # samples fed
        self._last_end = 0  # end of the last window decided, in samples
        self._pending = np.zeros(0, np.int16)  # samples not yet a whole window (own scoring)

    def feed(self, pcm: bytes) -> list[Unit]:
        samples = np.frombuffer(pcm, np.int16)
        self._seen += len(samples)
        if self._silero is not None:
            size = self._silero.window
            self._pending = np.concatenate((self._pending, samples))
            whole = len(self._pending) // size * size
            for start in range(0, whole, size):
                end = self._seen - len(self._pending) + start + size
                self._tap.put(end, self._silero(self._pending[start : start + size]), 0.0)
            self._pending = self._pending[whole:]
        units = []
        for end, confidence, _ in self._tap.take(self._seen):
            units.append((confidence >= self._threshold, end - self._last_end))
            self._last_end = end
        return units


#: Silero confidence from which a window counts as speech in a pause count: the turn VAD's own
#: (pipecat's ``VADParams.confidence``, 0.7), so that both call the same windows speech. At Silero's
#: default 0.5, a noisy line's moments of 0.5-0.7 broke the pause and threw the speculation
#: away while the VAD went on counting its stop: ``bench.latency --noise-db 10``, 1 call, p95
#: 793 ms at 0.5 and 398 ms at 0.7 (clean 358 and 352 ms, same box). Cut 0.1 s into the pause,
#: the turn reads as decoded whole as often at 0.7 as at 0.5 (80 and 79 of 86 clean turns).
#: Silero finds the pause on a 10 dB noisy line after 14 of 14 real utterances and 95 of 96
#: synthetic ones (WebRTC VAD: 2 and 3).
PAUSE_SPEECH_CONFIDENCE = VADParams().confidence


def make_speech_units(
    kind: str,
    *,
    tap: ConfidenceTap | None = None,
    session: object = None,
    sample_rate: int,
    threshold: float = PAUSE_SPEECH_CONFIDENCE,
) -> SpeechUnits:
    """Units for a pause count: ``"silero"`` (from ``tap``, else scored with ``session``;
    speech from confidence ``threshold``) or ``"webrtc"`` (mode 2).
    """
    if kind == "webrtc":
        return WebRtcSpeech(sample_rate)
    if kind == "silero":
        if tap is not None:
            return SileroSpeech(threshold, tap=tap)
        return SileroSpeech(threshold, session=session, sample_rate=sample_rate)
    raise ValueError(f"unknown pause VAD {kind!r}; expected 'silero' or 'webrtc'")
