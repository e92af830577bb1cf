"""The caller's orders on file, asked for at the greeting, at the dialog processor on scripted
frames.

The OMS here is a stand-in whose answer to "the orders under this phone number" takes as long,
or fails, as a test needs: timings and failures the demo OMS does not have. The real OMS's
answers are ``tests/dialog/test_on_file.py``'s (over HTTP) and ``tests/e2e/test_twilio_call.py``'s
(a whole call).
"""

from __future__ import annotations

import asyncio
import json

from pipecat.tests.utils import SleepFrame

from voice_agent.oms.client import OmsUnavailable
from voice_agent.oms.models import Order

from .test_dialog_barge_in import SPEC, SeededOms, heard, run_dialog
from .test_dialog_hold_on import ASK_ORDER, NOT_FOUND, number_turn

DANA = "+15550142211"
OFFER = "I heard 4, 8, 1, 5, 2, 7. Did you mean your order 4, 8, 1, 5, 2, 6?"


class PhoneOms(SeededOms):
    """The seeded orders; the orders under a phone number after ``delay_s``, or an error."""

    def __init__(self, delay_s: float = 0.0, fail: bool = False) -> None:
        super().__init__()
        self.delay_s, self.fail = delay_s, fail
        self.phones: list[str] = []
        self.asked: list[str] = []

    async def get_order(self, order_id: str) -> Order | None:
        self.asked.append(order_id)
        return await super().get_order(order_id)

    async def orders_for_phone(self, phone: str) -> list[Order]:
        self.phones.append(phone)
        await asyncio.sleep(self.delay_s)
        if self.fail:
            raise OmsUnavailable("OMS unreachable")
        return [o for o in self.orders.values() if o.phone == phone]


async def test_a_number_misheard_is_offered_as_the_order_on_file():
    oms = PhoneOms()
    script = [*number_turn(heard("4 8 1 5 2 7")), SleepFrame(0.3)]
    _, said, events = await run_dialog(script, orders=oms, caller=DANA)
    assert oms.phones == [DANA]
    assert said[-1] == OFFER and oms.asked == []
    assert ("orders_on_file", {"order_ids": ["481526"]}) in events
    # The call record has the orders, not the caller's number.
    assert "5550142211" not in json.dumps(events)


async def test_the_call_goes_on_while_the_orders_on_file_are_on_their_way():
    """The greeting and the next question are said at once; the orders, 1.2 s late, are there
    for the number said after them."""
    oms = PhoneOms(delay_s=1.2)
    script = [*number_turn(SleepFrame(1.3), heard("4 8 1 5 2 7")), SleepFrame(0.3)]
    _, said, events = await run_dialog(script, orders=oms, caller=DANA)
    assert said[0] == SPEC.prompts["greeting"][0] and said[1] == ASK_ORDER
    kinds = [d.get("type") for k, d in events if k == "event"]
    assert kinds.index("UserSaid") < kinds.index("OrdersOnFile")  # the caller did not wait
    assert said[-1] == OFFER


async def test_without_the_orders_on_file_the_number_is_looked_up_as_heard():
    for oms, caller in ((PhoneOms(fail=True), DANA), (PhoneOms(), None), (PhoneOms(), "alice")):
        script = [*number_turn(heard("4 8 1 5 2 7")), SleepFrame(0.3)]
        _, said, events = await run_dialog(script, orders=oms, caller=caller)
        assert said[-1].startswith(NOT_FOUND) and oms.asked == ["481527"], caller
        assert oms.phones == ([DANA] if caller == DANA else []), caller
        assert not [d for k, d in events if k == "orders_on_file"]
