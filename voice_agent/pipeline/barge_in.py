"""Barge-in: stop the agent's prompt when the caller really talks over it.

The decision is made here, from the caller's audio, by Silero's per-window speech confidence.
Silero tells speech from street, kitchen and line noise, clicks and coughs (bench: no noise window
above 0.5); duration tells an answer from a backchannel, but only late: an "uh-huh" is 0.3-0.35 s
of real speech, so a rule that waits to be sure can't stop the prompt before ~0.4 s.

So the prompt is *paused* early and the decision made afterwards (:class:`BargeInRule`):

- after ``pause_s`` of speech counted from its onset the prompt stops (Twilio ``clear``);
- once the caller has spoken ``min_speech_s`` in all, the barge-in is confirmed: what they say is
  their turn;
- short of that, once the turn VAD has started a turn, the turn's words decide when they come:
  the dialog lets the prompt go on from the sentence the caller was hearing
  (:mod:`voice_agent.pipeline.prompt_playback`) for an "uh-huh", or takes an answer ("No.");
- short of that and with no turn (a cough that Silero took for speech), no words will come: after
  ``resume_after_s`` of silence the prompt goes on;
- if it was confirmed but the turn VAD, which is stricter (confidence, a volume gate), has not
  started a turn by the time they fall silent for ``resume_after_s``, no turn and so no
  transcript will come of it (a noise over an echo): the prompt goes on too.

With ``pause_s >= min_speech_s`` there is no pause stage: the prompt stops once, at
``min_speech_s``. Pipecat's turn VAD is not used for this: its start waits ``start_secs`` *after*
a 0.4 s rolling loudness window has filled (~0.3 s behind the speech), and its verdict arrives
after the audio it was computed on, so a rule keyed to it lagged the caller by ~0.5 s.

:class:`SpeechRun` and :class:`BargeInRule` are the pure rules (per-window confidences in,
decisions out); :class:`BargeInProcessor` is the pipecat shell that feeds them while a prompt
plays.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Protocol

import numpy as np
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voice_agent.audio import level_dbfs
from voice_agent.pipeline.frames import NothingHeardFrame
from voice_agent.speech.silero import ConfidenceTap, SileroConfidence

#: Silero's window: 512 samples at 16 kHz, 256 at 8 kHz (32 ms).
WINDOW_S = 0.032
SPEECH_CONFIDENCE = 0.6
MIN_LEVEL_DBFS = -50.0
#: Silence after which a pause whose turn has started goes on all the same if its words have not
#: come: the turn VAD's stop (0.5 s) and a decode on a busy box.
WORDS_WAIT_S = 2.0


def windows_in(seconds: float, window_s: float = WINDOW_S) -> int:
    """Whole windows that cover ``seconds`` (at least one)."""
    return max(1, math.ceil(seconds / window_s - 1e-6))


class SpeechRun:
    """Seconds of speech since its onset, from one Silero window at a time.

    A window is speech when its confidence reaches ``threshold`` and its level ``min_level_dbfs``
    (far-away talk and line hiss are quieter). A dip of non-speech windows up to ``max_gap_s``
    that speech resumes after counts as speech (a stop consonant, a breath); a longer one ends
    it (the pause after an "uh-huh"). :meth:`feed` returns True on the window that
    brings the speech to ``min_speech_s`` (and on each speech window after it).
    """

    def __init__(
        self,
        min_speech_s: float,
        *,
        window_s: float = WINDOW_S,
        threshold: float = SPEECH_CONFIDENCE,
        min_level_dbfs: float = MIN_LEVEL_DBFS,
        max_gap_s: float = 0.07,
    ) -> None:
        self.min_speech_s = min_speech_s
        self.window_s = window_s
        self.threshold = threshold
        self.min_level_dbfs = min_level_dbfs
        # Counted in windows, so float sums can't shift a decision by a window.
        self._need = windows_in(min_speech_s, window_s)
        self.max_gap = int(max_gap_s / window_s + 1e-6)
        self._speech = 0
        self._gap = 0

    @property
    def speech_windows(self) -> int:
        return self._speech

    @property
    def speech_s(self) -> float:
        return self._speech * self.window_s

    def is_speech(self, confidence: float, level_dbfs: float) -> bool:
        return confidence >= self.threshold and level_dbfs >= self.min_level_dbfs

    def feed(self, confidence: float, level_dbfs: float = 0.0) -> bool:
        if self.is_speech(confidence, level_dbfs):
            self._speech += 1 + self._gap  # a bridged dip is part of the speech
            self._gap = 0
            return self._speech >= self._need
        if self._speech:
            self._gap += 1
            if self._gap > self.max_gap:
                self.reset()
        return False

    def reset(self) -> None:
        self._speech = 0
        self._gap = 0


class Decision(Enum):
    """What :meth:`BargeInRule.feed` asks of the prompt after a window."""

    NONE = "none"
    PAUSE = "pause"  # stop the prompt for now: the caller may be barging in
    CONFIRM = "confirm"  # they are: the prompt stays stopped, their speech is their turn
    RESUME = "resume"  # they were not (a backchannel, a noise): play the rest of the prompt


class BargeInRule:
    """Pause at ``pause_s`` of speech, confirm at ``min_speech_s``, resume after silence.

    Speech is counted as :class:`SpeechRun` counts it (Silero confidence and level per window,
    short dips bridged). While paused, speech keeps adding up across pauses between words
    ("Wait, ... I have a question"); ``resume_after_s`` of non-speech before ``min_speech_s``
    is reached resumes the prompt, unless the turn VAD has started a turn (:meth:`turn_started`):
    then the turn's words settle the pause (the shell calls :meth:`reset` as they pass), and the
    silence resumes the prompt only after :data:`WORDS_WAIT_S`. After a resume the rule starts over;
    after a confirm it decides nothing more until :meth:`reset` (the next prompt), but for a
    resume after ``resume_after_s`` of silence if no turn has started by then.
    """

    def __init__(
        self,
        min_speech_s: float,
        pause_s: float,
        resume_after_s: float,
        *,
        threshold: float = SPEECH_CONFIDENCE,
        min_level_dbfs: float = MIN_LEVEL_DBFS,
    ) -> None:
        self.staged = pause_s < min_speech_s
        first = pause_s if self.staged else min_speech_s
        self._run = SpeechRun(first, threshold=threshold, min_level_dbfs=min_level_dbfs)
        self._need = windows_in(min_speech_s)
        self._resume_after = windows_in(resume_after_s)
        self._words_wait = windows_in(max(WORDS_WAIT_S, resume_after_s))
        self.paused = False
        self._turn_in_pause = False  # the turn VAD started a turn: its words will settle it
        self._confirmed = False
        self._speech = 0
        self._gap = 0
        self._in_turn = False  # the turn VAD hears the caller (its start and stop frames)
        self.awaiting_turn = False  # confirmed, and no turn started since

    def turn_started(self) -> None:
        self._in_turn = True
        self.awaiting_turn = False
        self._turn_in_pause = self.paused

    def turn_stopped(self) -> None:
        self._in_turn = False

    def feed(self, confidence: float, level_dbfs: float = 0.0) -> Decision:
        if self._confirmed:
            return self._no_turn_after(confidence, level_dbfs)
        if not self.paused:
            if not self._run.feed(confidence, level_dbfs):
                return Decision.NONE
            if not self.staged:
                self._confirm()
                return Decision.CONFIRM
            self.paused, self._speech, self._gap = True, self._run.speech_windows, 0
            self._turn_in_pause = self._in_turn
            return Decision.PAUSE
        if self._run.is_speech(confidence, level_dbfs):
            self._speech += 1 + (self._gap if self._gap <= self._run.max_gap else 0)
            self._gap = 0
            if self._speech >= self._need:
                self._confirm()
                return Decision.CONFIRM
            return Decision.NONE
        return self._silent_window()

    def _no_turn_after(self, confidence: float, level_dbfs: float) -> Decision:
        """RESUME once the silence after a confirmed barge-in lasts, if no turn started."""
        if not self.awaiting_turn:
            return Decision.NONE
        if self._run.is_speech(confidence, level_dbfs):
            self._gap = 0
            return Decision.NONE
        return self._silent_window()

    def _silent_window(self) -> Decision:
        """One more window of silence: once it lasts ``resume_after_s`` (:data:`WORDS_WAIT_S` for
        a pause the turn's words will settle), RESUME and start over.
        """
        self._gap += 1
        wait = self._words_wait if self.paused and self._turn_in_pause else self._resume_after
        if self._gap < wait:
            return Decision.NONE
        self.reset()
        return Decision.RESUME

    def _confirm(self) -> None:
        self.reset()
        self._confirmed = True
        self.awaiting_turn = not self._in_turn

    def reset(self) -> None:
        self._run.reset()
        self.paused = False
        self._turn_in_pause = False
        self._confirmed = False
        self.awaiting_turn = False
        self._speech = 0
        self._gap = 0


class BargeInListener(Protocol):
    """Told what became of the caller's speech over a prompt (the dialog processor)."""

    @property
    def interruptible(self) -> bool:
        """Whether the prompt now playing may be cut short."""
        ...

    async def on_barge_in_paused(self) -> None:
        """The prompt was stopped (``InterruptionFrame``) before the caller's intent is known.

        The next transcript (or ``NothingHeardFrame``) settles the pause if no verdict came
        first: no verdict follows it.
        """
        ...

    async def on_barge_in(self) -> None:
        """The caller is barging in: the prompt stays stopped."""
        ...

    async def on_barge_in_resumed(self) -> None:
        """The pause was for a backchannel or a noise, or a barge-in no turn came of: the prompt
        should go on.
        """
        ...


class BargeInProcessor(FrameProcessor):
    """Pushes ``InterruptionFrame`` downstream (TTS stops, Twilio gets ``clear``) when the caller
    speaks over a prompt the listener lets them interrupt, and tells the listener whether it was
    a barge-in or the prompt should go on (:class:`BargeInRule`).

    With a ``tap`` (the Silero turn VAD upstream fills it) the windows it scored are used;
    without one (a WebRTC turn VAD) the caller's audio is scored here.
    """

    def __init__(
        self,
        *,
        listener: BargeInListener,
        min_speech_s: float,
        pause_s: float,
        resume_after_s: float,
        tap: ConfidenceTap | None = None,
        silero_session: object = None,
        threshold: float = SPEECH_CONFIDENCE,
        min_level_dbfs: float = MIN_LEVEL_DBFS,
    ) -> None:
        super().__init__(name="BargeIn")
        if tap is None and silero_session is None:
            raise ValueError("a confidence tap or a Silero session is needed")
        self._listener = listener
        self._tap = tap
        self._rule = BargeInRule(
            min_speech_s,
            pause_s,
            resume_after_s,
            threshold=threshold,
            min_level_dbfs=min_level_dbfs,
        )
        self._silero_session = silero_session
        self._silero: SileroConfidence | None = None
        self._pending = np.zeros(0, dtype=np.int16)
        self._bot_speaking = False
        self._seen = 0  # samples of caller audio passed through
        self._listen_from = 0  # where the prompt now playing began, in those samples

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
            if self._rule.paused:
                # The agent says something else before the verdict: the pause stands. (Every
                # pause gets exactly one verdict; the listener holds transcripts until then.)
                await self._listener.on_barge_in()
            self._rule.reset()
            self._pending = self._pending[:0]
            self._listen_from = self._seen
            if self._silero is not None:
                self._silero.reset()
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._rule.turn_started()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._rule.turn_stopped()
        elif isinstance(frame, (TranscriptionFrame, NothingHeardFrame)) and self._rule.paused:
            self._rule.reset()  # the turn's words settle the pause: the listener takes it on
        elif isinstance(frame, InputAudioRawFrame):
            self._seen += len(frame.audio) // (2 * frame.num_channels)
            if self._bot_speaking or self._rule.paused or self._rule.awaiting_turn:
                # Analysed before it is passed on: the interruption goes out ahead of this audio.
                await self._listen(frame)
            elif self._tap is not None:
                self._tap.take(self._seen)  # not listening: forget them
        await self.push_frame(frame, direction)

    def _windows(self, frame: InputAudioRawFrame) -> list[tuple[float, float]]:
        """(confidence, level) of the Silero windows the audio so far completes."""
        if self._tap is not None:
            # The VAD scores a frame after passing it on: its last window may come next time.
            taken = self._tap.take(self._seen)
            return [(c, level) for end, c, level in taken if end > self._listen_from]
        if frame.sample_rate not in (8000, 16000) or frame.num_channels != 1:
            return []
        if self._silero is None or self._silero.sample_rate != frame.sample_rate:
            self._silero = SileroConfidence(frame.sample_rate, self._silero_session)
        silero = self._silero
        self._pending = np.concatenate((self._pending, np.frombuffer(frame.audio, np.int16)))
        windows = []
        while len(self._pending) >= silero.window:
            window, self._pending = self._pending[: silero.window], self._pending[silero.window :]
            windows.append((silero(window), level_dbfs(window)))
        return windows

    async def _listen(self, frame: InputAudioRawFrame) -> None:
        for confidence, level in self._windows(frame):
            was_paused = self._rule.paused
            decision = self._rule.feed(confidence, level)
            if decision is Decision.NONE:
                continue
            if decision is Decision.RESUME:
                await self._listener.on_barge_in_resumed()
            elif was_paused:  # CONFIRM of a paused prompt
                await self._listener.on_barge_in()
            elif not self._listener.interruptible:
                self._rule.reset()
                continue
            else:
                self._bot_speaking = False
                await self.push_frame(InterruptionFrame())
                if decision is Decision.PAUSE:
                    await self._listener.on_barge_in_paused()
                else:
                    await self._listener.on_barge_in()
            self._pending = self._pending[:0]
            return
