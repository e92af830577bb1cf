"""Understanding one caller turn: everything it says put into the dialog's slots.

Part of the pure dialog engine (:mod:`voice_agent.dialog.engine`): no clock, no I/O.
"""

from __future__ import annotations

import re

from voice_agent.dialog.codes import Reading, read_back, read_code
from voice_agent.dialog.dates import parse_date
from voice_agent.dialog.exchange import exchange_wish
from voice_agent.dialog.flows import multi_item_ok
from voice_agent.dialog.lookup import says_not_theirs
from voice_agent.dialog.normalize import (
    best_phrase_key,
    find_phrases,
    match_item,
    means_all_items,
    tokens,
    yes_no,
)
from voice_agent.dialog.on_file import on_file_match
from voice_agent.dialog.spec import DialogSpec
from voice_agent.dialog.state import ALL_ITEMS
from voice_agent.dialog.turn import ORDER_BOUND, Turn

# Intent triggers may have this many other words inside them ("the price of the watch
# dropped"); exact hits still win over gapped ones.
_TRIGGER_GAP = 4
_QUESTION_WORDS = {"what", "why", "how", "can", "could", "do", "does", "is", "are", "will", "who"}


class SlotFiller:
    """Fills the slots of one :class:`DialogSpec` from what callers say."""

    def __init__(self, spec: DialogSpec, order_pattern: str, order_digits: int):
        self.spec = spec
        self._intent_triggers = {name: i.triggers for name, i in spec.intents.items()}
        self._faq_triggers = {name: f.triggers for name, f in spec.faq.items()}
        self._reason_phrases = {name: r.phrases for name, r in spec.reasons.items()}
        self._intent_by_handler = {i.handler: name for name, i in reversed(spec.intents.items())}
        self._order_pattern = order_pattern
        self._order_digits = order_digits

    def fill(self, t: Turn, text: str, words: list[str]) -> bool:
        """Put everything the turn says into the slots; True when anything changed."""
        before = (t.s.intent, dict(t.s.slots))
        answered = self._fill_intent(t, words)
        self._fill_order(t, text)
        intent = self.spec.intents.get(t.s.intent or "")
        wanted = set(intent.slots) if intent else set()
        if t.s.order is None:
            t.set(mentions=(*t.s.mentions, text))
        else:
            self.fill_item(t, text)
        if "reason" in wanted or t.s.pending == "reason":
            self._fill_reason(t, text, words)
        if t.s.pending == "received":
            answer = yes_no(text)
            when = parse_date(text, t.s.today)
            if when is not None and answer is not False:
                t.set_slot("received_on", when.isoformat())  # "it came on Monday" is a yes
                answer = True
            if answer is not None:
                t.set_slot("received", answer)
        if "exchange_for" in wanted:
            self._fill_exchange(t, text)
        return answered or (t.s.intent, t.s.slots) != before

    def _fill_intent(self, t: Turn, words: list[str]) -> bool:
        """Detect the intent (or a policy question); True when a side question was answered."""
        intent = best_phrase_key(words, self._intent_triggers, max_gap=_TRIGGER_GAP)
        faq = best_phrase_key(words, self._faq_triggers)
        faq_hits = find_phrases(words, self._faq_triggers.get(faq or "", []))
        faq_len = max((h.length for h in faq_hits), default=0)
        intent_len = max(
            (
                h.length
                for h in find_phrases(words, self._intent_triggers.get(intent or "", []))
                if not h.gapped
            ),
            default=0,
        )
        current = self.spec.intents.get(t.s.intent or "")
        mid_flow = current is not None and current.handler != "policy" and t.s.phase != "intent"
        if faq is not None and faq_len >= intent_len:
            policy = next((n for n, i in self.spec.intents.items() if i.handler == "policy"), None)
            if mid_flow:
                # a side question mid-flow: answer it, then carry on where we were
                t.say(self.spec.faq[faq].answer.format_map(t.context()))
                return True
            if policy is not None:
                t.set(intent=policy, slots={**t.s.slots, "faq": faq})
            return False
        if mid_flow and intent is not None and self.spec.intents[intent].handler == "policy":
            t.tell("policy_general")  # "what's your return policy?" is a side question too
            return True
        # "they don't fit", "it arrived broken": a reason without the word return is a return
        stated_problem = best_phrase_key(words, self._reason_phrases) is not None
        if intent is None and t.s.intent is None and stated_problem:
            intent = self._intent_by_handler.get("return")
        if intent is not None and intent != t.s.intent:
            t.set(intent=intent, proposal=None, attempts={})
        return False

    def order_heard(self, t: Turn, text: str) -> Reading:
        """The whole order number in the turn, else the digits heard (as
        :func:`~voice_agent.dialog.codes.read_code` reads them); a turn that says the rest
        of a number is read on from the digits so far, as if said in one breath.
        """
        reading = read_code(text, self._order_pattern)
        if reading.match is None and t.s.partial and t.s.pending == "order_id":
            # its "oh"s are digits then ("Eight oh oh." and "oh four six." are 800046), and
            # the "oh"s before the digits so far zeros if the number needs them ("Oh, 4 8 1."
            # and "5 2" are 048152; with "5 2 6" it is 481526)
            so_far = " ".join(["oh"] * t.s.partial_ohs + list(t.s.partial))
            match = read_code(f"{so_far} {text}", self._order_pattern).match
            return reading._replace(match=match)
        return reading

    def _fill_order(self, t: Turn, text: str) -> None:
        match, heard, ohs = self.order_heard(t, text)
        if match is None and heard and t.s.pending == "order_id":
            combined = t.s.partial + heard
            if re.fullmatch(self._order_pattern, combined):
                match = combined
            elif len(combined) < self._order_digits or on_file_match(combined, t.s.on_file):
                # the rest is asked for, or the order on file offered
                t.set(partial=combined, partial_ohs=t.s.partial_ohs if t.s.partial else ohs)
                return
            else:
                t.set(partial="")
                t.tell("order_invalid", heard=read_back(heard))
                return
        if match is None:
            return
        t.set(partial="")
        previous = t.s.slots.get("order_id")
        if match != previous:
            t.set(order=None)
            if previous is not None:  # a different order: its item choices no longer apply
                t.drop_slots(*ORDER_BOUND)
            t.set_slot("order_id", match)

    def fill_item(self, t: Turn, text: str) -> None:
        """Pick the item the caller names among the order's (or all of them)."""
        order = t.s.order
        if order is None or len(order.items) < 2 or not text:
            return
        idx = match_item(text, [i.name for i in order.items])
        if idx is not None and order.items[idx].sku != t.s.slots.get("item"):
            t.set_slot("item", order.items[idx].sku)
        elif idx is None and means_all_items(text) and multi_item_ok(t):
            t.set_slot("item", ALL_ITEMS)

    def _fill_reason(self, t: Turn, text: str, words: list[str]) -> None:
        key = best_phrase_key(words, self._reason_phrases, last=True)
        if key is not None:
            if key != t.s.slots.get("reason"):
                t.drop_slots("reason_text")
                t.set_slot("reason", key)
            return
        content = [w for w in words if len(w) > 2]
        question = text.strip().endswith("?") or words[0] in _QUESTION_WORDS
        if (
            t.s.pending == "reason"
            and len(content) >= 3
            and yes_no(text) is None
            and not question
            and not says_not_theirs(self.spec, words)  # "that's not my order": not a reason
        ):
            t.set_slot("reason", "other")
            t.set_slot("reason_text", text.strip())

    def _fill_exchange(self, t: Turn, text: str) -> None:
        item = t.s.item
        wish = exchange_wish(text, self.spec.colours, item.colour if item is not None else None)
        if wish is not None:
            t.set_slot("exchange_for", wish)
        elif t.s.pending == "exchange_for" and len(tokens(text)) >= 2 and yes_no(text) is None:
            t.set_slot("exchange_for", text.strip())
