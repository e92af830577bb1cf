"""bench.order_speech's scoring: numbers captured, and whole numbers read wrong."""

from __future__ import annotations

import numpy as np

from bench.asr_runs import RunResult
from bench.order_speech import score_entities
from bench.speech_samples import Sample


def test_a_whole_number_read_wrong_is_counted_apart_from_one_not_read() -> None:
    said = ["481526", "735902", "220417", "598130"]
    heard = ["4 8 1 5 2 6", "7 3 5 9 0 8", "2 2 0 4", "I don't know."]
    samples = [
        Sample(n, n, np.zeros(1, np.float32), 0, {"voice": "joe", "style": "digits", "text": n})
        for n in said
    ]
    scored = score_entities(samples, RunResult(0.0, 4, heard, [], []))
    assert scored["exact"] == 0.25
    assert scored["wrong"] == 1  # 735908; half a number and words are not a number
    assert [m["heard"] for m in scored["misses"]] == heard[1:]
