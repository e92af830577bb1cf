"""Frames our processors add to pipecat's: what the STT decided about a caller's turn."""

from __future__ import annotations

from dataclasses import dataclass

from pipecat.frames.frames import SystemFrame


@dataclass
class TurnHeldFrame(SystemFrame):
    """A speculative transcript that read as a finished turn but was held for the VAD, because
    the end-of-turn model heard it unfinished (for the call record: what the agent decided).
    """

    text: str


@dataclass
class NothingHeardFrame(SystemFrame):
    """A caller turn decoded to no words, or whose decode failed: noise, or speech the model
    could not read. The dialog asks again at once when the turn was long enough to be speech.
    """

    failed: bool = False


@dataclass
class AnswerDelayedFrame(SystemFrame):
    """The answer to the caller's turn will take noticeably longer than usual (``reason``:
    ``"number_check"``, a second model is reading the order number again), so the dialog can
    tell the caller to hold on instead of leaving them in silence.
    """

    reason: str = "number_check"


@dataclass
class EchoTakenOutAgainFrame(SystemFrame):
    """The caller's turn that follows was decoded from its audio with the agent's echo taken
    out again (:mod:`voice_agent.speech.echo_again`), not as the recording holds it: for the
    call record, so that a replay that reads the turn otherwise is explained.
    """
