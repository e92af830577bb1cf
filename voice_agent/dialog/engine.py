"""The dialog engine: ``step(state, event) -> (state, actions)``, pure and deterministic.

No clock, no I/O, no randomness: the date comes in with :class:`CallStarted`, OMS answers come
in as events. Replaying the same events always gives the same actions.
"""

from __future__ import annotations

import re
from dataclasses import replace

from voice_agent.dialog import upset
from voice_agent.dialog.codes import find_code, read_back, spell
from voice_agent.dialog.dates import parse_date
from voice_agent.dialog.exchange import exchange_wish
from voice_agent.dialog.flows import advance, multi_item_ok
from voice_agent.dialog.lookup import (
    answer_sound_alike,
    keypad_probes,
    look_up_keys,
    on_order_looked_up,
    sound_alike_probes,
)
from voice_agent.dialog.normalize import (
    best_phrase_key,
    find_phrases,
    match_item,
    means_all_items,
    tokens,
    yes_no,
)
from voice_agent.dialog.spec import DialogSpec
from voice_agent.dialog.state import ALL_ITEMS, DialogState
from voice_agent.dialog.turn import ORDER_BOUND, Turn
from voice_agent.dialog.types import (
    Action,
    CallStarted,
    DtmfKey,
    Event,
    NotHeard,
    OrderLookedUp,
    Silence,
    UserSaid,
    WorkOrderOpened,
)

_KEYPAD_ANSWER = {"1": "yes", "2": "no"}  # during yes/no questions
# Intent triggers may have this many other words inside them ("the price of the watch
# dropped"); exact hits still win over gapped ones.
_TRIGGER_GAP = 4
_QUESTION_WORDS = {"what", "why", "how", "can", "could", "do", "does", "is", "are", "will", "who"}
_FILLERS = {"hello", "hi", "hey", "yes", "yeah", "yep", "um", "uh", "er", "erm", "hmm", "ok",
            "okay", "so", "well", "oh", "there", "anyone", "good", "morning", "afternoon",
            "evening", "thanks", "thank", "you", "i", "am", "calling", "is", "this", "the",
            "returns", "line", "right", "hiya", "howdy"}  # fmt: skip


class DialogEngine:
    """Runs one :class:`DialogSpec` for any number of calls (the state is per call)."""

    def __init__(self, spec: DialogSpec):
        self.spec = spec
        self._intent_triggers = {name: i.triggers for name, i in spec.intents.items()}
        self._faq_triggers = {name: f.triggers for name, f in spec.faq.items()}
        self._reason_phrases = {name: r.phrases for name, r in spec.reasons.items()}
        self._intent_by_handler = {i.handler: name for name, i in reversed(spec.intents.items())}
        order_slot = spec.slots.get("order_id")
        self._order_pattern = (order_slot.pattern if order_slot else None) or r"\d{6}"
        self._order_digits = (order_slot.dtmf_digits if order_slot else None) or 6
        self._sound_alikes = sound_alike_probes(spec, self._order_pattern)
        self._keypad_codes = keypad_probes(spec, self._order_pattern)

    # --- public API -----------------------------------------------------------------------------
    def start(self, event: CallStarted) -> tuple[DialogState, list[Action]]:
        t = Turn(self.spec, DialogState(call_sid=event.call_sid, today=event.today))
        t.ask("greeting", None)
        return t.finish()

    def step(self, state: DialogState, event: Event) -> tuple[DialogState, list[Action]]:
        if state.ended:
            return state, []
        t = Turn(self.spec, state)
        if isinstance(event, UserSaid):
            self._on_said(t, event.text)
        elif isinstance(event, DtmfKey):
            self._on_key(t, event.key)
        elif isinstance(event, Silence):
            self._on_silence(t)
        elif isinstance(event, NotHeard):
            self._on_not_heard(t)
        elif isinstance(event, OrderLookedUp):
            self._on_lookup(t, event)
        elif isinstance(event, WorkOrderOpened):
            self._on_work_order(t, event)
        elif isinstance(event, CallStarted):
            return self.start(event)
        return t.finish()

    # --- events ---------------------------------------------------------------------------------
    def _on_said(self, t: Turn, text: str, keypad: bool = False) -> None:
        words = tokens(text)
        score = self._heard(t, text, keypad)
        if t.s.phase in ("lookup", "creating"):
            return  # the caller talked while we wait for the OMS; the answer will come
        if upset.level(t.s.upset, self.spec.upset) >= self.spec.upset.threshold:
            t.transfer("caller upset", "transfer_upset")
            return
        if any(not h.negated for h in find_phrases(words, self.spec.handoff_phrases)):
            t.transfer("caller asked for a person")
            return
        if not words:
            t.say(t.s.question)
            return
        if score >= self.spec.upset.empathy_at:
            t.tell("empathy")
        if t.s.phase == "confirm":
            self._on_confirm(t, text, words)
        elif t.s.phase == "anything_else":
            self._on_anything_else(t, text, words)
        else:
            self._on_answer(t, text, words)

    def _heard(self, t: Turn, text: str, keypad: bool) -> float:
        """Add the caller's turn to the state; its upset score."""
        earlier = [said for who, said in t.s.turns if who == "caller"]
        score = 0.0 if keypad else upset.turn_score(text, self.spec.upset, earlier)
        t.set(
            turns=(*t.s.turns, ("caller", f"[keypad] {text}" if keypad else text)),
            upset=(*t.s.upset, score)[-self.spec.upset.window :],
            silences=0,
            unheard=0,
        )
        return score

    def _ends_call(self, t: Turn, words: list[str]) -> bool:
        hits = find_phrases(words, self.spec.goodbye_phrases, negation=False)
        if hits:
            t.goodbye()
            return True
        return False

    def _wants_repeat(self, t: Turn, words: list[str]) -> bool:
        if find_phrases(words, self.spec.repeat_phrases, negation=False):
            t.say(t.s.question)
            return True
        return False

    def _on_answer(self, t: Turn, text: str, words: list[str]) -> None:
        pending = t.s.pending
        changed = self._fill(t, text, words)
        if not changed:
            if self._ends_call(t, words) or self._wants_repeat(t, words):
                return
            if pending is None and all(w in _FILLERS for w in words):
                # "hello?", "um, yeah" before saying why they call: not a failed attempt
                t.say(t.render("help"))
                return
            key = pending or "intent"
            if key == "order_id" and t.s.partial:
                t.ask("order_incomplete", "order_id", heard=read_back(t.s.partial))
                return
            if t.bump(key) >= self.spec.limits.max_attempts:
                t.transfer(f"no answer understood for {key}", "transfer_stuck")
                return
        advance(t)

    def _on_confirm(self, t: Turn, text: str, words: list[str]) -> None:
        if self._fill(t, text, words):  # a correction: re-check and re-confirm
            t.set(proposal=None)
            advance(t)
            return
        answer = yes_no(text)
        proposal = t.s.proposal or {}
        if answer is True:
            kind = proposal.get("kind")
            if kind == "work_order":
                t.create_work_order()
            elif kind == "transfer":
                t.transfer(str(proposal.get("reason", "caller accepted a transfer")))
            elif kind == "intent":
                t.set(intent=str(proposal["intent"]), proposal=None)
                advance(t)
            elif kind == "order":
                answer_sound_alike(t, str(proposal["order_id"]), yes=True)
            return
        if answer is False:
            if proposal.get("kind") == "order":
                answer_sound_alike(t, str(proposal["order_id"]), yes=False)
                return
            if proposal.get("type") in ("return", "exchange"):
                t.ask("what_to_change", "correction")
            else:
                t.tell("decline_ok")
                t.anything_else()
            return
        if self._ends_call(t, words) or self._wants_repeat(t, words):
            return
        if t.bump("confirm") >= self.spec.limits.max_attempts:
            t.transfer("no clear yes or no", "transfer_stuck")
            return
        t.say(t.render("yes_or_no") + " " + t.s.question)

    def _on_anything_else(self, t: Turn, text: str, words: list[str]) -> None:
        previous = t.s.intent
        kept = {k: v for k, v in t.s.slots.items() if k == "order_id"}
        t.set(intent=None, slots=kept, proposal=None, mentions=(), attempts={}, pending=None)
        if self._fill(t, text, words) and t.s.intent is not None:
            advance(t)
            return
        answer = yes_no(text)
        if answer is False or self._ends_call(t, words):
            t.set(intent=previous)  # the call ended on this intent (for the call record)
            if not t.s.ended:
                t.goodbye()
            return
        if answer is True:
            t.ask("ask_what_else", None)
            return
        t.bump("intent")
        advance(t)

    def _on_key(self, t: Turn, key: str) -> None:
        t.set(silences=0, unheard=0)
        if t.s.phase in ("confirm", "anything_else") and key in _KEYPAD_ANSWER:
            self._on_said(t, _KEYPAD_ANSWER[key], keypad=True)
            return
        if key == "*":
            t.set(dtmf="")
            return
        if key == "#":
            if t.s.dtmf:
                digits, t.s = t.s.dtmf, replace(t.s, dtmf="")
                self._on_keys(t, digits)
            return
        if not key.isdigit():
            return
        digits = t.s.dtmf + key
        if len(digits) >= self._order_digits:
            t.set(dtmf="")
            self._on_keys(t, digits)
        else:
            t.set(dtmf=digits)

    def _on_keys(self, t: Turn, keys: str) -> None:
        """Keys typed, ended by ``#`` or by the order number's length: read as digits said, or
        looked up as the codes their letters make when the order number holds letters.
        """
        codes = self._keypad_codes(keys) if t.s.phase in ("intent", "slot") else []
        if not codes:
            self._on_said(t, " ".join(keys), keypad=True)
            return
        self._heard(t, " ".join(keys), keypad=True)
        look_up_keys(t, keys, codes)

    def _on_silence(self, t: Turn) -> None:
        if t.s.phase in ("lookup", "creating"):
            return
        count = t.s.silences + 1
        t.set(silences=count)
        if count >= self.spec.limits.max_silences:
            t.goodbye("silence_goodbye")
        else:
            t.tell("silence", count - 1)

    def _on_not_heard(self, t: Turn) -> None:
        """Speech without words: say so and ask again; a person takes over when it goes on."""
        if t.s.phase in ("lookup", "creating"):
            return
        count = t.s.unheard + 1
        t.set(unheard=count, silences=0)
        if count >= self.spec.limits.max_attempts:
            t.transfer("caller could not be understood", "transfer_stuck")
        else:
            t.tell("not_heard", count - 1)

    def _on_lookup(self, t: Turn, event: OrderLookedUp) -> None:
        order = on_order_looked_up(t, event, self._sound_alikes)
        if order is not None:
            t.set(order=order, phase="slot")
            self._fill_item(t, " ".join(t.s.mentions))
            advance(t)

    def _on_work_order(self, t: Turn, event: WorkOrderOpened) -> None:
        proposal = t.s.proposal or {}
        if t.s.phase != "creating" or event.request_id != proposal.get("request_id"):
            return
        if event.error is not None or not event.reference:
            t.transfer("work order could not be opened", "work_order_failed")
            return
        wo_type = str(proposal.get("type"))
        reason = str(t.s.slots.get("reason", ""))
        label = "label_free" if reason in self.spec.policy.free_return_reasons else "label_fee"
        t.set(references=(*t.s.references, event.reference))
        key = f"done_{wo_type}" if f"done_{wo_type}" in self.spec.prompts else "work_order_done"
        t.tell(key, reference=spell(event.reference), label=t.render(label))
        t.goodbye()

    # --- understanding one caller turn ----------------------------------------------------------
    def _fill(self, t: Turn, text: str, words: list[str]) -> bool:
        """Put everything the turn says into the slots; True when anything changed."""
        before = (t.s.intent, dict(t.s.slots))
        answered = self._fill_intent(t, words)
        self._fill_order(t, text)
        intent = self.spec.intents.get(t.s.intent or "")
        wanted = set(intent.slots) if intent else set()
        if t.s.order is None:
            t.set(mentions=(*t.s.mentions, text))
        else:
            self._fill_item(t, text)
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

    def _fill_order(self, t: Turn, text: str) -> None:
        match, heard = find_code(text, self._order_pattern)
        if match is None and heard and t.s.pending == "order_id":
            combined = t.s.partial + heard
            if re.fullmatch(self._order_pattern, combined):
                match = combined
            elif len(combined) < self._order_digits:
                t.set(partial=combined)
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

    def _fill_item(self, t: Turn, text: str) -> None:
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
        if t.s.pending == "reason" and len(content) >= 3 and yes_no(text) is None and not question:
            t.set_slot("reason", "other")
            t.set_slot("reason_text", text.strip())

    def _fill_exchange(self, t: Turn, text: str) -> None:
        item = t.s.item
        wish = exchange_wish(text, self.spec.colours, item.colour if item is not None else None)
        if wish is not None:
            t.set_slot("exchange_for", wish)
        elif t.s.pending == "exchange_for" and len(tokens(text)) >= 2 and yes_no(text) is None:
            t.set_slot("exchange_for", text.strip())
