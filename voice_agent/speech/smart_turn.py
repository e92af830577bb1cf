"""End of turn judged from the sound: pipecat's bundled smart-turn v3 model, as a veto.

The early end of turn (:func:`voice_agent.pipeline.turn_taking.turn_is_complete`) reads the
speculative transcript, and Whisper writes "And so my fellow American ask." with a full stop
while JFK's voice is still up in his pause. smart-turn hears that. In ``bench.end_of_turn``,
the text rule ended 5 of the 7 mid-sentence pauses of the real recordings in
``../shared/speech``; smart-turn scored 3 of them below 0.03 and held them, and it let every
early end of a finished turn through (12 of 12 clean, 10 of 11 at 10 dB SNR). On synthetic
voices, whose prosody it was not trained on, it cost more early ends (Piper 80 -> 75 of 96,
espeak-ng 18 -> 14 of 18). So it only vetoes: a turn it is *sure* is unfinished waits for the
VAD's hangover, as a turn the text rule doubts does.

The model is ~8 MB of ONNX (a Whisper-tiny-sized encoder over the last 8 s of audio) shipped in
the ``pipecat-ai`` wheel; it runs on onnxruntime with pipecat's numpy log-mel features (no
torch). One inference costs ~50 ms of one core on this box. It is asked only when the text
rule would end the turn: asked beside every speculative decode, it slowed 4 calls speaking in
unison by ~200 ms a turn (p95 1.10 s); asked after it, p50 767 / p95 896 ms against 762 / 842
without it, and one call 465 / 498 against 459 / 511 ms (``bench.latency``).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import onnxruntime

from voice_agent.audio import resample

MODEL_RATE = 16000
#: The model hears the last 8 s of the turn (its fixed input length), padded in front if shorter.
WINDOW_S = 8.0


def bundled_model_path() -> Path:
    """The smart-turn ONNX file inside the installed ``pipecat-ai`` package."""
    data = resources.files("pipecat.audio.turn.smart_turn.data")
    return Path(str(data.joinpath("smart-turn-v3.2-cpu.onnx")))


@dataclass(frozen=True)
class SmartTurnOptions:
    """How the smart-turn veto is applied.

    Attributes:
      incomplete_below: A turn whose probability of being complete is below this is held open
        although its transcript reads as finished. Kept low so it only acts when the model is
        sure: on the real recordings over a phone line the mid-sentence pauses the text rule
        ended scored at most 0.023, the lowest finished sentence 0.064 (one LibriVox reading).

    """

    incomplete_below: float = 0.05


class SmartTurnModel:
    """One shared onnxruntime session (``run`` is safe from several threads at once)."""

    def __init__(
        self,
        path: Path | None = None,
        options: SmartTurnOptions | None = None,
        threads: int = 1,
    ) -> None:
        from pipecat.audio.turn.smart_turn._whisper_features import (
            compute_whisper_log_mel_features,
        )

        self._features = compute_whisper_log_mel_features
        self.options = options or SmartTurnOptions()
        session_options = onnxruntime.SessionOptions()
        session_options.intra_op_num_threads = threads
        session_options.inter_op_num_threads = 1
        # Idle threads that spin take cores from the Whisper decodes (see load_piper_voice).
        session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(path or bundled_model_path()),
            sess_options=session_options,
            providers=["CPUExecutionProvider"],
        )

    def probability(self, samples: np.ndarray, rate: int = MODEL_RATE) -> float:
        """The probability that the turn in ``samples`` (float mono in [-1, 1]) is complete.

        ``samples`` is the turn so far including the silence after the last word: the model
        was trained on turns ending in ~0.2 s of silence.
        """
        audio = np.asarray(samples, dtype=np.float32).reshape(-1)
        if rate != MODEL_RATE:
            audio = resample(audio, rate, MODEL_RATE)
        length = int(WINDOW_S * MODEL_RATE)
        audio = audio[-length:]
        if len(audio) < length:
            audio = np.pad(audio, (length - len(audio), 0))
        features = self._features(audio, do_normalize=True)[None].astype(np.float32)
        output = self._session.run(None, {"input_features": features})[0]
        return float(np.asarray(output).reshape(-1)[0])

    def unfinished(self, samples: np.ndarray, rate: int = MODEL_RATE) -> bool:
        """Whether the model is sure the turn is not over (the early end of turn's veto)."""
        return self.probability(samples, rate) < self.options.incomplete_below
