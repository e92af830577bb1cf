"""What the caller's orders on file make of the order numbers the ASR heard.

A caller phoning from the number their order is under has it on file: the dialog asks the OMS
for those orders at the greeting and offers back the one a number heard is a digit or two away
from (:mod:`voice_agent.dialog.on_file`). Each turn here is played through the dialog engine
itself: the caller asks for a return, says the number as the ASR heard it, and answers the
offer, if one comes, yes when it is their order and no when it is not. The caller has the order
they call about and ``OTHERS`` more on file (drawn at random), so an offer can be of the wrong
one.

``made_up_offered`` is the other side: how often a number heard right but not on file (an
order placed from another phone) is a digit or two from one of the caller's orders, which
costs that caller one "no".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from functools import cache
from typing import Any

import numpy as np

from voice_agent.dialog.engine import DialogEngine
from voice_agent.dialog.on_file import on_file_match
from voice_agent.dialog.script import run_script
from voice_agent.dialog.types import LookupOrder, UserSaid
from voice_agent.oms.models import Order
from voice_agent.oms.seed import load_seed

#: The caller's orders on file besides the one they call about.
OTHERS = 2
CALLER = "+15550100777"
_TODAY = date(2026, 11, 22)
#: Draws ``n`` order numbers of the retailer's pattern.
Draw = Callable[[int, np.random.Generator], list[str]]


@cache
def _template() -> Order:
    return load_seed(_TODAY)[0]


def _orders(numbers: list[str]) -> list[Order]:
    """The caller's orders under ``numbers``: the seed's first order, renumbered."""
    return [_template().model_copy(update={"order_id": n, "phone": CALLER}) for n in numbers]


def six_digits(n: int, rng: np.random.Generator) -> list[str]:
    return ["".join(map(str, rng.integers(0, 10, 6))) for _ in range(n)]


def on_file_answer(engine: DialogEngine, heard: str, number: str, others: list[str]) -> str:
    """What the dialog makes of the number turn ``heard`` for the caller's order ``number``,
    with ``others`` also on file: ``found`` (looked up as heard), ``offered`` (offered back;
    the caller's yes), ``wrong_offer`` (another of theirs offered; the caller's no), ``none``
    (not reached: asked again, or a wrong number looked up).
    """
    script = [UserSaid("I want to return something."), UserSaid(heard)]
    transcript, _ = run_script(engine, _orders([number, *others]), script, _TODAY, caller=CALLER)
    proposal = transcript.state.proposal or {}
    if proposal.get("kind") == "order" and "heard" in proposal:
        return "offered" if proposal["order_id"] == number else "wrong_offer"
    looked_up = [a.order_id for a in transcript.actions if isinstance(a, LookupOrder)]
    return "found" if looked_up == [number] else "none"


def on_file_reach(
    engine: DialogEngine,
    references: list[str],
    heard: list[str],
    seed: int,
    draw: Draw = six_digits,
) -> dict[str, Any]:
    """Each number turn through the dialog with the caller's orders on file (module doc), the
    other orders drawn by ``draw``."""
    rng = np.random.default_rng(seed)
    answers = Counter(
        on_file_answer(engine, h, number, draw(OTHERS, rng))
        for number, h in zip(references, heard, strict=True)
    )
    n = len(references)
    return {
        "n": n,
        "others_on_file": OTHERS,
        **{k: answers[k] for k in ("found", "offered", "wrong_offer", "none")},
        "reached": round((answers["found"] + answers["offered"]) / n, 4),
        "made_up_offered": made_up_offered(rng, 100_000, draw),
    }


def made_up_offered(rng: np.random.Generator, n: int, draw: Draw = six_digits) -> float:
    """The share of ``n`` numbers heard right but not on file that get one of ``OTHERS + 1``
    orders on file offered."""
    offered = sum(
        on_file_match(heard, tuple(draw(OTHERS + 1, rng))) is not None for heard in draw(n, rng)
    )
    return round(offered / n, 5)
