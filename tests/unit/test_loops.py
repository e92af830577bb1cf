"""voice_agent.speech.loops: a phrase Whisper repeated until its tokens ran out, kept once."""

from __future__ import annotations

import pytest

from voice_agent.speech.loops import cut_loop


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        # tiny.en on a caller's "Eight oh oh.": the dialog read 802802 in it
        (
            "Eight oh, whoa. Eight oh, two eight oh, two eight oh, two eight oh, two",
            "Eight oh, whoa. Eight oh, two",
        ),
        ("my order my order my order my", "my order"),  # the last time cut short
        ("Yes, my order number is 3 3 3 3 3 3 3 3 3 3 3 3", "Yes, my order number is 3"),
        ("I want to return it. It. It. It.", "I want to return it."),
        ("4 8 1 5 2 6", "4 8 1 5 2 6"),  # no loop: as it was
        ("4 8 1 4 8 1", "4 8 1 4 8 1"),  # said twice is not a loop
        ("I want to return it.", "I want to return it."),
        ("", ""),
    ],
)
def test_a_loop_at_the_end_is_kept_once(text: str, kept: str) -> None:
    assert cut_loop(text) == kept
