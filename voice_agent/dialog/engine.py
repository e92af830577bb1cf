"""The dialog engine: ``step(state, event) -> (state, actions)``, pure and deterministic.

No clock, no I/O, no randomness: the date comes in with :class:`CallStarted`, OMS answers come
in as events. Replaying the same events always gives the same actions.
"""

from __future__ import annotations

from dataclasses import replace

from voice_agent.dialog import upset
from voice_agent.dialog.codes import read_back, spell
from voice_agent.dialog.fill import SlotFiller
from voice_agent.dialog.flows import advance
from voice_agent.dialog.lookup import (
    HEARD_AGAIN_PROMPT,
    answer_offer,
    heard_again,
    keypad_probes,
    look_up_keys,
    not_their_order,
    on_order_looked_up,
    says_not_theirs,
    sound_alike_probes,
)
from voice_agent.dialog.normalize import find_phrases, tokens, yes_no
from voice_agent.dialog.on_file import ON_FILE_PROMPT, offer_on_file
from voice_agent.dialog.spec import DialogSpec
from voice_agent.dialog.state import DialogState
from voice_agent.dialog.turn import Turn
from voice_agent.dialog.types import (
    Action,
    CallStarted,
    DtmfKey,
    Event,
    FindCallerOrders,
    NotHeard,
    OrderLookedUp,
    OrdersOnFile,
    Silence,
    UserSaid,
    WorkOrderOpened,
)

_KEYPAD_ANSWER = {"1": "yes", "2": "no"}  # during yes/no questions
_FILLERS = {"hello", "hi", "hey", "yes", "yeah", "yep", "um", "uh", "er", "erm", "hmm", "ok",
            "okay", "so", "well", "oh", "there", "anyone", "good", "morning", "afternoon",
            "evening", "thanks", "thank", "you", "i", "am", "calling", "is", "this", "the",
            "returns", "line", "right", "hiya", "howdy"}  # fmt: skip


class DialogEngine:
    """Runs one :class:`DialogSpec` for any number of calls (the state is per call)."""

    def __init__(self, spec: DialogSpec):
        self.spec = spec
        order_slot = spec.slots.get("order_id")
        self._order_pattern = (order_slot.pattern if order_slot else None) or r"\d{6}"
        self._order_digits = (order_slot.dtmf_digits if order_slot else None) or 6
        self._sound_alikes = sound_alike_probes(spec, self._order_pattern)
        self._keypad_codes = keypad_probes(spec, self._order_pattern)
        self._slots = SlotFiller(spec, self._order_pattern, self._order_digits)

    # --- public API -----------------------------------------------------------------------------
    def start(self, event: CallStarted) -> tuple[DialogState, list[Action]]:
        t = Turn(self.spec, DialogState(call_sid=event.call_sid, today=event.today))
        t.ask("greeting", None)
        if event.caller_known and ON_FILE_PROMPT in self.spec.prompts:
            t.actions.append(FindCallerOrders())
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
        elif isinstance(event, OrdersOnFile):
            t.set(on_file=tuple(o.upper() for o in event.order_ids))
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
        if not keypad and self._heard_again(t, text):
            return
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

    def _not_theirs(self, t: Turn, words: list[str]) -> bool:
        """Whether the caller says the order in hand is not theirs; if so it is dropped and the
        number asked for again (:func:`~voice_agent.dialog.lookup.not_their_order`).
        """
        if t.s.order is None or not says_not_theirs(self.spec, words):
            return False
        not_their_order(t)
        return True

    def _heard_again(self, t: Turn, text: str) -> bool:
        """Whether the number said is again one whose order the caller said is not theirs; if
        so the keys are asked for (:func:`~voice_agent.dialog.lookup.heard_again`). Keys typed
        are looked up whatever they are.
        """
        if not t.s.rejected or t.s.pending != "order_id":
            return False  # nothing turned down: the turn is not read twice
        if HEARD_AGAIN_PROMPT not in self.spec.prompts:
            return False
        code = self._slots.order_heard(t, text).match
        if code not in t.s.rejected:
            return False
        heard_again(t, code)
        return True

    def _on_answer(self, t: Turn, text: str, words: list[str]) -> None:
        pending = t.s.pending
        changed = self._slots.fill(t, text, words)
        if not changed:
            if self._not_theirs(t, words):
                return
            if self._ends_call(t, words) or self._wants_repeat(t, words):
                return
            if pending is None and all(w in _FILLERS for w in words):
                # "hello?", "um, yeah" before saying why they call: not a failed attempt
                t.say(t.render("help"))
                return
            key = pending or "intent"
            if key == "order_id" and t.s.partial:
                if not offer_on_file(t, t.s.partial):
                    t.ask("order_incomplete", "order_id", heard=read_back(t.s.partial))
                return
            if t.bump(key) >= self.spec.limits.max_attempts:
                t.transfer(f"no answer understood for {key}", "transfer_stuck")
                return
        advance(t)

    def _on_confirm(self, t: Turn, text: str, words: list[str]) -> None:
        if self._slots.fill(t, text, words):  # a correction: re-check and re-confirm
            t.set(proposal=None)
            advance(t)
            return
        if self._not_theirs(t, words):
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
                answer_offer(t, proposal, True, self._order_pattern)
            return
        if answer is False:
            if proposal.get("kind") == "order":
                answer_offer(t, proposal, False, self._order_pattern)
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
        if self._not_theirs(t, words):  # "Your order shipped on ..." about somebody else's
            return
        previous = t.s.intent
        kept = {k: v for k, v in t.s.slots.items() if k == "order_id"}
        t.set(intent=None, slots=kept, proposal=None, mentions=(), attempts={}, pending=None)
        if self._slots.fill(t, text, words) and t.s.intent is not None:
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
            self._slots.fill_item(t, " ".join(t.s.mentions))
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
