"""What a caller hears of the agent's media events: Twilio plays them one after another."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from voice_agent.audio import PHONE_RATE


class Media(Protocol):
    at: float
    payload: bytes


def voiced(payload: bytes) -> bool:
    """Whether mu-law ``payload`` holds more than digital silence."""
    return bool(payload.strip(b"\xff\x7f"))


def longest_silence(media: Sequence[Media]) -> float:
    """The longest silence, in seconds, between the first and the last voiced of ``media`` (in
    arrival order) as the caller hears them: each plays once the one before it has played, or
    when it arrives if that is later. Silence is the playout running dry, or digital silence
    played (what the agent sends while a later sentence is still being made).
    """
    spoken = [i for i, m in enumerate(media) if voiced(m.payload)]
    if not spoken:
        return 0.0
    longest = 0.0
    quiet_since: float | None = None
    played_until = media[spoken[0]].at
    for m in media[spoken[0] : spoken[-1] + 1]:
        starts = max(played_until, m.at)
        if starts > played_until and quiet_since is None:
            quiet_since = played_until
        played_until = starts + len(m.payload) / PHONE_RATE
        if voiced(m.payload):
            if quiet_since is not None:
                longest = max(longest, starts - quiet_since)
            quiet_since = None
        elif quiet_since is None:
            quiet_since = starts
    return longest
