"""Barge-in: stop the agent's prompt when the caller really talks over it.

Two detectors must agree. The turn VAD (Silero) is robust to street and kitchen noise but keeps
"speaking" for its whole stop hangover, so it can't say how long the caller has been talking;
WebRTC's VAD measures that per 20 ms frame but takes most steady noise for speech (bench: 17 of 18
noise clips). So the prompt stops once Silero has heard speech start and WebRTC has counted
``min_speech_s`` of voiced audio in a row (short gaps bridged): a caller who starts answering
stops it, noise, clicks and coughs don't.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import webrtcvad
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

FRAME_S = 0.02


class VoicedRun:
    """Length of the current run of voiced frames; gaps up to ``max_gap_s`` don't break it."""

    def __init__(self, max_gap_s: float = 0.06) -> None:
        self._max_gap = max_gap_s
        self.voiced_s = 0.0
        self._gap_s = 0.0

    def feed(self, is_speech: bool, frame_s: float = FRAME_S) -> float:
        if is_speech:
            self.voiced_s += frame_s
            self._gap_s = 0.0
        else:
            self._gap_s += frame_s
            if self._gap_s > self._max_gap:
                self.voiced_s = 0.0
        return self.voiced_s

    def reset(self) -> None:
        self.voiced_s = 0.0
        self._gap_s = 0.0


class BargeInProcessor(FrameProcessor):
    """Pushes ``InterruptionFrame`` downstream (TTS stops, Twilio gets ``clear``)."""

    def __init__(
        self,
        *,
        min_speech_s: float,
        allowed: Callable[[], bool],
        on_barge_in: Callable[[], Awaitable[None]],
        aggressiveness: int = 3,
    ) -> None:
        super().__init__(name="BargeIn")
        self._min_speech_s = min_speech_s
        self._allowed = allowed
        self._on_barge_in = on_barge_in
        self._vad = webrtcvad.Vad(aggressiveness)
        self._run = VoicedRun()
        self._pending = b""
        self._bot_speaking = False
        self._speech_started = False  # Silero's verdict (VADUserStarted/StoppedSpeakingFrame)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, BotStartedSpeakingFrame) and direction == FrameDirection.UPSTREAM:
            self._bot_speaking = True
            self._run.reset()
        elif isinstance(frame, BotStoppedSpeakingFrame) and direction == FrameDirection.UPSTREAM:
            self._bot_speaking = False
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._speech_started = True
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._speech_started = False
        elif isinstance(frame, InputAudioRawFrame) and self._bot_speaking:
            await self._listen(frame)
        await self.push_frame(frame, direction)

    async def _listen(self, frame: InputAudioRawFrame) -> None:
        if frame.sample_rate not in (8000, 16000, 32000, 48000):
            return
        step = int(frame.sample_rate * FRAME_S) * 2
        self._pending += frame.audio
        while len(self._pending) >= step:
            chunk, self._pending = self._pending[:step], self._pending[step:]
            voiced = self._run.feed(self._vad.is_speech(chunk, frame.sample_rate))
            if voiced >= self._min_speech_s and self._speech_started and self._allowed():
                self._run.reset()
                self._bot_speaking = False
                await self.push_frame(InterruptionFrame())
                await self._on_barge_in()
                return
