"""Finding how late a line's echo comes back (:mod:`voice_agent.speech.echo_delay`).

The agent's "voice" is the speech-like noise of ``test_echo``; the finder is fed 20 ms frames of
what was played and what the caller's line sent, as the canceller feeds it.
"""

from __future__ import annotations

import numpy as np

from voice_agent.speech.echo_delay import EchoDelayFinder, EchoDelayOptions, EchoLeakWatch

from .test_echo import FRAME, RATE, on_the_line, speechlike


def line(agent: np.ndarray, *, delay_s: float, echo_db: float = 15.0) -> np.ndarray:
    """What a silent caller's line sends back: the agent ``delay_s`` late, ``echo_db`` down."""
    return on_the_line(np.zeros_like(agent), agent, echo_db=echo_db, delay_s=delay_s)


def feed(finder: EchoDelayFinder, agent: np.ndarray, heard: np.ndarray) -> list[float | None]:
    """The delay found after each frame."""
    found = []
    for i in range(0, len(agent), FRAME):
        finder.feed(agent[i : i + FRAME], heard[i : i + FRAME])
        found.append(finder.delay_s)
    return found


def seconds_until_found(found: list[float | None]) -> float | None:
    first = next((i for i, d in enumerate(found) if d is not None), None)
    return None if first is None else (first + 1) * FRAME / RATE


def test_an_echo_beyond_aec3s_reach_is_found_soon_after_it_comes_back_and_held_back_for():
    agent = speechlike(4.0, seed=1)
    finder = EchoDelayFinder(RATE)
    found = feed(finder, agent, line(agent, delay_s=0.8))
    assert finder.delay_s is not None and abs(finder.delay_s - 0.8) < 0.005
    took = seconds_until_found(found)
    assert took is not None and took - 0.8 < 0.5  # before a barge-in is confirmed (~0.85 s)
    lead = finder.options.aec_lead_s
    assert abs(finder.hold_back - (0.8 - lead) * RATE) <= 8  # AEC3 is left the last 0.15 s


def test_an_echo_within_aec3s_reach_is_left_to_it():
    agent = speechlike(3.0, seed=2)
    finder = EchoDelayFinder(RATE)
    feed(finder, agent, line(agent, delay_s=0.2, echo_db=25))
    assert finder.delay_s is not None and abs(finder.delay_s - 0.2) < 0.005
    assert finder.hold_back == 0


def test_no_delay_is_found_on_a_line_without_echo_where_the_caller_talks_over_the_agent():
    agent = speechlike(6.0, seed=3)
    rng = np.random.default_rng(4)
    caller = speechlike(6.0, seed=5) + (rng.standard_normal(len(agent)) * 30).astype(np.int16)
    finder = EchoDelayFinder(RATE)
    assert not any(d is not None for d in feed(finder, agent, caller))
    assert finder.hold_back == 0


def test_the_hold_back_moves_only_when_the_echo_leaves_aec3s_reach():
    agent = speechlike(9.0, seed=7)
    heard = line(agent, delay_s=0.7)
    heard[int(3 * RATE) :] = line(agent, delay_s=0.74)[int(3 * RATE) :]  # the line's delay drifts
    heard[int(6 * RATE) :] = line(agent, delay_s=0.2)[int(6 * RATE) :]  # and drops
    finder = EchoDelayFinder(RATE, EchoDelayOptions(recheck_every_s=0.5))
    holds = []
    for i in range(0, len(agent), FRAME):
        finder.feed(agent[i : i + FRAME], heard[i : i + FRAME])
        holds.append(finder.hold_back)
    at = {t: holds[int(t * RATE) // FRAME] for t in (2.9, 5.9, 8.9)}
    assert at[2.9] == at[5.9] > 0  # 0.74 s is still within reach of the hold-back for 0.7 s
    assert at[8.9] == 0


def test_a_line_that_starts_echoing_later_is_still_found_if_less_quickly():
    """A speakerphone switched on mid-call: after 5 s of looking at a noisy line in vain, the
    finder looks once a second.
    """
    agent = speechlike(12.0, seed=8)
    heard = (np.random.default_rng(9).standard_normal(len(agent)) * 30).astype(np.int16)
    heard[int(8 * RATE) :] += line(agent, delay_s=0.8)[int(8 * RATE) :]
    found = feed(EchoDelayFinder(RATE), agent, heard)
    took = seconds_until_found(found)
    assert took is not None and 8.0 < took < 8.0 + 2.5


def test_a_delay_seen_once_and_not_again_is_let_go():
    # each look sees new audio
    options = EchoDelayOptions(window_s=0.3, look_every_s=0.5, agree_after_s=0.5)
    agent = speechlike(4.0, seed=10)
    heard = np.zeros_like(agent)
    burst = slice(int(1.75 * RATE), int(2.0 * RATE))  # seen by the look at 2.0 s alone
    heard[burst] = line(agent, delay_s=0.8)[burst]
    finder = EchoDelayFinder(RATE, options)
    holds = []
    for i in range(0, len(agent), FRAME):
        finder.feed(agent[i : i + FRAME], heard[i : i + FRAME])
        holds.append((finder.hold_back, finder.suspect))
    at = {t: holds[int(t * RATE) // FRAME] for t in (1.9, 2.2, 3.0)}
    assert at[1.9] == (0, False)
    assert at[2.2][0] > 0 and at[2.2][1]  # acted on at once
    assert at[3.0] == (0, False) and finder.delay_s is None


def test_a_suspected_delay_is_checked_a_tenth_of_a_second_later_not_at_the_next_look():
    """Looks come every 40 ms until the echo is found; a look 40 ms after the first would see
    nearly the same window and find the same peak, echo or not.
    """
    agent = speechlike(3.0, seed=11)
    heard = line(agent, delay_s=0.8)
    finder = EchoDelayFinder(RATE)
    states = []
    for i in range(0, len(agent), FRAME):
        finder.feed(agent[i : i + FRAME], heard[i : i + FRAME])
        states.append((finder.suspect, finder.delay_s))
    first = next(k for k, (suspect, _) in enumerate(states) if suspect)
    after = round(finder.options.agree_after_s * RATE / FRAME)
    assert all(suspect for suspect, _ in states[first : first + after])
    assert states[first + after] == (False, finder.delay_s) and finder.delay_s is not None


def test_a_suspected_delay_is_kept_where_the_echo_moved_by_a_chunk_after_a_stall():
    """After a stall the played audio's place can move by a 40 ms chunk, so the echo peaks
    twice in the window: the delay is kept, since AEC3 still reaches the echo as held back.
    """
    agent = speechlike(3.0, seed=12)
    heard = line(agent, delay_s=0.74)
    moved = int(0.8 * RATE)  # from here on, as heard after a stall: 40 ms sooner
    heard[moved:] = line(agent, delay_s=0.70)[moved:]
    finder = EchoDelayFinder(RATE)
    found = feed(finder, agent, heard)
    took = seconds_until_found(found)
    assert took is not None and took < 0.9
    strict = EchoDelayFinder(RATE, EchoDelayOptions(agree_width_s=0.01, agree_ratio=2.5))
    took_strict = seconds_until_found(feed(strict, agent, heard))
    assert took_strict is None or took_strict > took + 0.2  # let go, found again later


def test_the_leak_watch_finds_the_echo_in_what_was_let_out_and_nothing_else():
    agent = speechlike(3.0, seed=1)
    leaked = line(agent, delay_s=0.7, echo_db=20)  # what a canceller let through: the echo
    caller = speechlike(3.0, seed=2) // 10  # as loud, but the caller's own

    def looks(out: np.ndarray, line_delay_s: float | None = 0.7) -> list[bool]:
        """The watch's verdicts, frame by frame, on a line whose echo is ``line_delay_s``
        late (None: no echo)."""
        finder = EchoDelayFinder(RATE)
        heard = np.zeros_like(agent) if line_delay_s is None else line(agent, delay_s=line_delay_s)
        watch = EchoLeakWatch(finder)
        seen = []
        for i in range(0, len(agent), FRAME):
            finder.feed(agent[i : i + FRAME], heard[i : i + FRAME])
            seen.append(watch.feed(out[i : i + FRAME]))
        return seen

    assert any(looks(leaked))
    assert not any(looks(caller))
    assert not any(looks(leaked // 30))  # under -50 dBFS: no words to be heard in it
    assert not any(looks(leaked, line_delay_s=0.3))  # not the line's echo
    assert not any(looks(leaked, line_delay_s=None))  # no echo found on the line
