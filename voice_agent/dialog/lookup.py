"""The OMS's answer to an order lookup, and the sound-alikes of a letter code it does not have.

A caller's "Z B 2 3 5 ..." reaches the dialog as "C B 2 3 5 ..." when the phone line blurs the
letter. When the OMS has no order under the code heard, and the dialog's order numbers hold
letters, the codes it may have been (:func:`~voice_agent.dialog.codes.sound_alikes`) are looked
up one after the other, likeliest first; the first the OMS has is offered to the caller as a
yes/no question ("Did you mean Z as in Zulu, ...?"). Each lookup is an action and its answer an
event, so a call record shows every code tried and replay repeats them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from voice_agent.dialog.codes import admits_letters, read_back, sound_alikes
from voice_agent.dialog.flows import advance
from voice_agent.dialog.spec import DialogSpec
from voice_agent.dialog.turn import ORDER_BOUND, Turn
from voice_agent.dialog.types import OrderLookedUp
from voice_agent.oms.models import Order

#: The dialog prompt that offers a sound-alike; a dialog without it does not look them up.
SOUND_ALIKE_PROMPT = "order_sound_alike"
#: Its optional follow-up, asking for the number again after the caller's no.
DECLINED_PROMPT = "order_sound_alike_no"

Probes = Callable[[str], list[str]]


def sound_alike_probes(spec: DialogSpec, pattern: str) -> Probes:
    """The codes to look up after an order number ``pattern`` the OMS does not have: its
    sound-alikes where the pattern holds letters and the dialog can offer them, else none.
    """
    if admits_letters(pattern) and SOUND_ALIKE_PROMPT in spec.prompts:
        return partial(sound_alikes, pattern=pattern)
    return lambda _code: []


def on_order_looked_up(t: Turn, event: OrderLookedUp, probes_for: Probes) -> Order | None:
    """Act on the OMS's answer; the order when it is the one the caller gave, else None."""
    s = t.s
    waited_for = s.probes[0] if s.probes else s.slots.get("order_id")
    if s.phase != "lookup" or event.order_id != waited_for:
        return None  # a stale answer for a number the caller has since corrected
    if event.error is not None:
        t.set(probes=())
        t.drop_slots("order_id")
        t.propose("oms_down", {"kind": "transfer", "reason": "order system unavailable"})
        return None
    if event.order is not None and not s.probes:
        return event.order
    heard = str(s.slots["order_id"])
    if event.order is not None:
        t.set(probes=())
        t.drop_slots("order_id", *ORDER_BOUND)
        proposal = {"kind": "order", "order_id": event.order_id}
        t.propose(
            SOUND_ALIKE_PROMPT, proposal, heard=read_back(heard), alike=read_back(event.order_id)
        )
        return None
    probes = s.probes[1:] if s.probes else tuple(probes_for(heard))
    t.set(probes=probes)
    if probes:
        t.lookup(probes[0])
        return None
    t.drop_slots("order_id", *ORDER_BOUND)
    _ask_again(t, heard)
    return None


def answer_sound_alike(t: Turn, code: str, yes: bool) -> None:
    """The caller's yes or no to "Did you mean ...?": look the offered code up, or ask again."""
    t.set(proposal=None)
    if yes:
        t.set_slot("order_id", code)
        advance(t)
    else:
        _ask_again(t, None)


def _ask_again(t: Turn, not_found: str | None) -> None:
    """Ask for the order number again: after saying which one was not found, or after a no to
    a sound-alike with the dialog's ``order_sound_alike_no`` prompt if it has one ("Please say
    it again, with a word for each letter"). A person takes over after the dialog's attempts.
    """
    if t.bump("order_id") >= t.spec.limits.max_attempts:
        t.transfer("order number not found", "transfer_stuck")
        return
    if not_found is not None:
        t.tell("order_not_found", heard=read_back(not_found))
    elif DECLINED_PROMPT in t.spec.prompts:
        t.ask(DECLINED_PROMPT, "order_id", t.attempt("order_id") - 1)
        return
    advance(t)
