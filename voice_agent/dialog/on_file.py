"""The caller's own orders: a number heard close to one of them is offered back.

When the call comes with the caller's phone number, the OMS is asked once, at the greeting, for
the orders on file under it (:class:`~voice_agent.dialog.types.FindCallerOrders`). A number
heard that is not one of them but differs from exactly one by a digit or two ("8 8 8 7 1 6" for
858716, "8 0 0 4 6" for 800046) is most likely that order misheard, so it is offered as a yes/no
question ("I heard 8 8 8 7 1 6. Did you mean your order 8 5 8 7 1 6?") before the number heard
is looked up. A no looks up the number heard, as without the offer.

Only where the dialog has the ``order_on_file`` prompt; a call without a caller number (a
browser call, a replay) never offers one.
"""

from __future__ import annotations

from rapidfuzz.distance import Levenshtein

from voice_agent.dialog.codes import read_back
from voice_agent.dialog.turn import Turn

#: The prompt that offers one of the caller's orders ({heard}, {alike}).
ON_FILE_PROMPT = "order_on_file"
#: Edits (a digit changed, lost or added) between a number heard and an order on file.
MAX_EDITS = 2


def on_file_match(heard: str, on_file: tuple[str, ...]) -> str | None:
    """The caller's order that ``heard`` most likely is, when it is not one of them.

    None when ``heard`` is on file already, when no order on file is within ``MAX_EDITS`` edits
    of it, when two are equally close, or when ``heard`` is over a digit shorter than the order
    (a caller who paused mid-number is asked for the rest, not offered a guess).
    """
    code = heard.upper()
    if not on_file or code in on_file:
        return None
    close = sorted(
        (Levenshtein.distance(code, order), order)
        for order in on_file
        if len(code) >= len(order) - 1
    )
    close = [c for c in close if c[0] <= MAX_EDITS]
    if not close or (len(close) > 1 and close[0][0] == close[1][0]):
        return None
    return close[0][1]


def offer_on_file(t: Turn, heard: str) -> bool:
    """Ask whether the caller meant the order on file that ``heard`` most likely is (a yes
    takes it, a no looks ``heard`` up: :func:`~voice_agent.dialog.lookup.answer_offer`).
    True when it was offered.
    """
    alike = on_file_match(heard, t.s.on_file) if ON_FILE_PROMPT in t.spec.prompts else None
    if alike is None:
        return False
    t.set(partial="")
    proposal = {"kind": "order", "order_id": alike, "heard": heard}
    t.propose(ON_FILE_PROMPT, proposal, heard=read_back(heard), alike=read_back(alike))
    return True
