"""Dialog specs: the YAML a designer edits, validated with errors that point at file:line."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from voice_agent.dialog.normalize import clean

# Intent handlers implemented by the engine (voice_agent/dialog/flows.py).
HANDLERS = (
    "return", "exchange", "refund_status", "order_status", "delivery_problem",
    "price_protection", "cancel", "policy", "handoff",
)  # fmt: skip
SLOT_TYPES = ("order_number", "item", "reason", "yes_no", "free_text")
# Placeholders a prompt may use; the engine fills them (missing values render empty).
PLACEHOLDERS = {
    "order_id", "item", "reason", "delivered_on", "shipped_on", "days", "window_days",
    "carrier", "status", "amount", "refund_state", "refund_date", "refund_method", "new_price",
    "old_price", "difference", "reference", "exchange_for", "heard", "help", "answer",
    "protection_days", "refund_days", "shipping_fee_text", "ordered_on", "options", "question",
    "label", "alike",
}  # fmt: skip
REQUIRED_PROMPTS = (
    "greeting", "ask_intent", "help", "ask_order_id", "ask_item", "ask_reason", "ask_received",
    "ask_exchange_for", "order_not_found", "order_incomplete", "oms_down", "confirm_return",
    "confirm_exchange", "confirm_investigation", "confirm_cancel", "confirm_intercept",
    "confirm_price_adjustment", "offer_return", "what_to_change", "work_order_done",
    "work_order_failed", "final_sale", "outside_window", "refund_status", "no_refund",
    "status_processing", "status_shipped", "status_delivered", "status_cancelled",
    "price_unchanged", "price_window_passed", "anything_else", "ask_what_else", "goodbye",
    "silence", "silence_goodbye", "not_heard", "transfer", "transfer_upset", "transfer_stuck",
    "empathy", "decline_ok", "policy_general", "order_invalid", "yes_or_no", "label_free",
    "label_fee",
)  # fmt: skip


class DialogSpecError(ValueError):
    """A dialog file that can't be used; the message names file:line and what is wrong."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Model):
    max_attempts: int = Field(3, ge=1, le=10)
    max_silences: int = Field(3, ge=1, le=10)
    history_turns: int = Field(6, ge=1, le=50)


class Policy(_Model):
    return_window_days: int = Field(ge=0)
    final_sale_categories: list[str] = Field(default_factory=list)
    shipping_fee_text: str
    free_return_reasons: list[str] = Field(default_factory=list)
    price_protection_days: int = Field(ge=0)
    refund_days: str
    refund_method: str


class SlotSpec(_Model):
    type: Literal["order_number", "item", "reason", "yes_no", "free_text"]
    pattern: str | None = None
    dtmf_digits: int | None = Field(default=None, ge=1, le=20)

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return v


class IntentSpec(_Model):
    handler: str
    triggers: list[str] = Field(min_length=1)
    slots: list[str] = Field(default_factory=list)

    @field_validator("handler")
    @classmethod
    def _handler(cls, v: str) -> str:
        if v not in HANDLERS:
            raise ValueError(f"unknown handler {v!r}; expected one of {', '.join(HANDLERS)}")
        return v


class ReasonSpec(_Model):
    say: str
    phrases: list[str] = Field(min_length=1)
    implies_received: bool = True


class FaqSpec(_Model):
    triggers: list[str] = Field(min_length=1)
    answer: str


class UpsetSpec(_Model):
    threshold: float = Field(gt=0)
    decay: float = Field(0.6, ge=0, le=1)
    window: int = Field(3, ge=1, le=10)
    empathy_at: float = Field(1.5, ge=0)
    negative_run: int = Field(3, ge=2)
    negative_weight: float = Field(1.0, ge=0)
    lexicon: dict[str, float] = Field(min_length=1)


class DialogSpec(_Model):
    """A whole dialog: prompts, intents, slots, reasons, policy and limits."""

    version: Literal[1]
    name: str
    limits: Limits = Field(default_factory=Limits)  # type: ignore[arg-type]
    policy: Policy
    prompts: dict[str, list[str]]
    intents: dict[str, IntentSpec]
    slots: dict[str, SlotSpec]
    reasons: dict[str, ReasonSpec]
    faq: dict[str, FaqSpec] = Field(default_factory=dict)
    handoff_phrases: list[str] = Field(min_length=1)
    goodbye_phrases: list[str] = Field(default_factory=list)
    repeat_phrases: list[str] = Field(default_factory=list)
    not_my_order_phrases: list[str] = Field(default_factory=list)
    colours: list[str] = Field(default_factory=list)
    upset: UpsetSpec

    def prompt(self, key: str, attempt: int = 0) -> str:
        """Variant ``attempt`` of a prompt (the last one repeats)."""
        variants = self.prompts[key]
        return variants[min(attempt, len(variants) - 1)]

    def normalized(self) -> DialogSpec:
        """Phrases run through the same :func:`clean` as callers' words, so they compare."""

        def norm(items: list[str]) -> list[str]:
            return [c for c in (clean(p) for p in items) if c]

        return self.model_copy(
            update={
                "intents": {
                    k: v.model_copy(update={"triggers": norm(v.triggers)})
                    for k, v in self.intents.items()
                },
                "reasons": {
                    k: v.model_copy(update={"phrases": norm(v.phrases)})
                    for k, v in self.reasons.items()
                },
                "faq": {
                    k: v.model_copy(update={"triggers": norm(v.triggers)})
                    for k, v in self.faq.items()
                },
                "handoff_phrases": norm(self.handoff_phrases),
                "goodbye_phrases": norm(self.goodbye_phrases),
                "repeat_phrases": norm(self.repeat_phrases),
                "not_my_order_phrases": norm(self.not_my_order_phrases),
                "colours": norm(self.colours),
                "upset": self.upset.model_copy(
                    update={"lexicon": {clean(k): w for k, w in self.upset.lexicon.items()}}
                ),
            }
        )


# --- loading with line numbers ------------------------------------------------------------------
Path_ = tuple[str | int, ...]


def _marks(node: yaml.Node, path: Path_, out: dict[Path_, int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, str(key.value))
            out[sub] = key.start_mark.line + 1
            _marks(value, sub, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*path, i)] = item.start_mark.line + 1
            _marks(item, (*path, i), out)


def _line(marks: dict[Path_, int], path: Path_) -> int:
    for n in range(len(path), -1, -1):
        if path[:n] in marks:
            return marks[path[:n]]
    return 1


def _where(path: Path_) -> str:
    return ".".join(str(p) for p in path) or "(top)"


def _placeholders(text: str) -> set[str]:
    try:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}
    except ValueError:
        return {"<unbalanced braces>"}


def _check(spec: DialogSpec) -> list[tuple[Path_, str]]:
    """Cross-references pydantic can't see."""
    problems: list[tuple[Path_, str]] = []
    for key in REQUIRED_PROMPTS:
        if key not in spec.prompts:
            problems.append((("prompts",), f"missing required prompt {key!r}"))
    for key, variants in spec.prompts.items():
        if not variants:
            problems.append((("prompts", key), "needs at least one variant"))
        for i, text in enumerate(variants):
            bad = _placeholders(text) - PLACEHOLDERS
            if bad:
                problems.append((("prompts", key, i), f"unknown placeholder(s) {sorted(bad)}"))
            if len(text) > 240:
                problems.append((("prompts", key, i), "too long to speak (over 240 characters)"))
            if re.search(r"\d{4,}", re.sub(r"\{[^}]*\}", "", text)):
                problems.append(
                    (("prompts", key, i), "long digit string: TTS reads it as one big number")
                )
    for name, intent in spec.intents.items():
        for i, slot in enumerate(intent.slots):
            if slot not in spec.slots:
                problems.append((("intents", name, "slots", i), f"undefined slot {slot!r}"))
        if intent.handler not in ("policy", "handoff") and "order_id" not in intent.slots:
            problems.append((("intents", name, "slots"), "this handler needs slot 'order_id'"))
    handlers = {i.handler for i in spec.intents.values()}
    for needs, needed in (("cancel", "return"), ("order_status", "delivery_problem")):
        if needs in handlers and needed not in handlers:
            problems.append((("intents",), f"handler {needs!r} needs an intent with {needed!r}"))
    if "order_id" in spec.slots and spec.slots["order_id"].pattern is None:
        problems.append((("slots", "order_id"), "order_number slots need a 'pattern'"))
    for i, key in enumerate(spec.policy.free_return_reasons):
        if key not in spec.reasons:
            problems.append((("policy", "free_return_reasons", i), f"unknown reason {key!r}"))
    for key, faq in spec.faq.items():
        bad = _placeholders(faq.answer) - PLACEHOLDERS
        if bad:
            problems.append((("faq", key, "answer"), f"unknown placeholder(s) {sorted(bad)}"))
    seen: dict[str, str] = {}
    for name, intent in spec.intents.items():
        for i, trig in enumerate(intent.triggers):
            norm = clean(trig)
            if norm in seen and seen[norm] != name:
                problems.append(
                    (("intents", name, "triggers", i), f"trigger {trig!r} also in {seen[norm]!r}")
                )
            seen[norm] = name
    return problems


def parse_dialog(text: str, source: str = "<string>") -> DialogSpec:
    """Validate dialog YAML text; raise :class:`DialogSpecError` naming ``source:line``."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise DialogSpecError([f"{source}:{line}: YAML syntax: {exc.problem}"]) from exc
    if node is None or not isinstance(data, dict):
        raise DialogSpecError([f"{source}:1: a dialog file must be a mapping"])
    marks: dict[Path_, int] = {}
    _marks(node, (), marks)
    try:
        spec = DialogSpec.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            errors.append(f"{source}:{_line(marks, loc)}: {_where(loc)}: {err['msg']}")
        raise DialogSpecError(errors) from exc
    problems = _check(spec)
    if problems:
        raise DialogSpecError(
            [f"{source}:{_line(marks, p)}: {_where(p)}: {m}" for p, m in problems]
        )
    return spec.normalized()


def load_dialog(path: Path) -> DialogSpec:
    """Load and validate a dialog file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DialogSpecError([f"{path}:0: cannot read: {exc.strerror}"]) from exc
    return parse_dialog(text, str(path))
