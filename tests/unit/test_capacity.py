"""The agent's call slots over every channel (pure: the clock is passed in), and what Twilio is
told for a call beyond them."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from pydantic import ValidationError

from voice_agent.capacity import CALLS_PER_CORE, RESERVE_S, CallCapacity, default_limit
from voice_agent.settings import Settings
from voice_agent.telephony.twilio import LINES_BUSY, busy_twiml


def test_calls_beyond_the_limit_are_not_taken_until_one_ends() -> None:
    slots = CallCapacity(2)
    assert slots.take("CA1", 0.0) and slots.take("CA2", 0.0)
    assert not slots.take("CA3", 1.0) and not slots.reserve("CA3", 1.0)
    slots.release("CA1")
    assert slots.take("CA3", 2.0) and slots.in_use == 2


def test_each_call_turned_away_is_told() -> None:
    turned_away: list[None] = []
    slots = CallCapacity(1, on_full=lambda: turned_away.append(None))
    assert slots.take("CA1", 0.0) and slots.take("CA1", 0.1)  # its own slot: not turned away
    assert not slots.reserve("CA2", 0.2) and not slots.take("CA3", 0.3)
    assert len(turned_away) == 2


def test_a_reserved_slot_is_the_calls_own_when_it_starts() -> None:
    # Twilio's webhook reserves; the media stream that follows takes the same slot.
    slots = CallCapacity(1)
    assert slots.reserve("CA1", 0.0)
    assert not slots.reserve("CA2", 0.5) and not slots.take("CA2", 0.5)
    assert slots.reserve("CA1", 0.6)  # the webhook retried: still its slot
    assert slots.take("CA1", 1.0) and slots.in_use == 1


def test_a_reservation_no_call_takes_lapses_but_a_running_call_keeps_its_slot() -> None:
    slots = CallCapacity(2)
    assert slots.reserve("CA-never-streamed", 0.0) and slots.take("CA-running", 0.0)
    assert not slots.take("CA3", RESERVE_S - 1)
    assert slots.take("CA3", RESERVE_S)  # the reservation lapsed
    assert not slots.take("CA4", 10 * RESERVE_S)  # the running calls did not


def test_holding_releases_the_slot_when_the_call_ends_even_by_an_error() -> None:
    slots = CallCapacity(1)
    try:
        with slots.holding("CA1", 0.0) as taken:
            assert taken and slots.in_use == 1
            with slots.holding("CA2", 0.0) as second:
                assert not second
            assert slots.in_use == 1  # a call not taken frees nothing
            raise RuntimeError("the pipeline failed")
    except RuntimeError:
        pass
    assert slots.in_use == 0


def test_the_default_limit_is_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_limit() % CALLS_PER_CORE == 0 and default_limit() >= CALLS_PER_CORE
    # Where the process's cores can't be asked for (macOS, Windows): the machine's.
    monkeypatch.delattr("os.sched_getaffinity", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    assert default_limit() == 3 * CALLS_PER_CORE


def test_a_twilio_call_beyond_capacity_goes_to_a_person_or_hears_the_lines_are_busy() -> None:
    dialed = ElementTree.fromstring(busy_twiml("+15550123456"))
    assert dialed.findtext("./Dial/Number") == "+15550123456"
    desk = ElementTree.fromstring(busy_twiml("sip:desk@pbx.example.com"))
    assert desk.findtext("./Dial/Sip") == "sip:desk@pbx.example.com?X-VA-Reason=all+lines+busy"
    told = ElementTree.fromstring(busy_twiml(None))
    assert told.findtext("./Say") == LINES_BUSY and told.find("./Hangup") is not None
    assert told.find("./Connect") is None


def test_a_limit_of_no_calls_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError):
        Settings(max_calls=0)
    assert Settings(max_calls=3).max_calls == 3 and Settings().max_calls is None
