from voice_agent.dialog.types import CreateWorkOrder, HangUp, LookupOrder, Say


def says(transcript) -> str:
    return " | ".join(a.text for a in transcript.actions if isinstance(a, Say))


def test_skeleton_happy_path(run):
    tr, oms = run(
        "I'd like to return something", "4, 8, 1, 5, 2, 6", "the jacket", "it doesn't fit", "yes"
    )
    first = tr.actions[0]
    assert isinstance(first, Say) and "returns and refunds" in first.text
    assert "help" in first.text
    assert LookupOrder("481526") in tr.actions
    [wo] = oms.work_orders.values()
    assert (wo.type, wo.order_id, wo.item_sku, wo.reason) == (
        "return",
        "481526",
        "JKT-RAIN-M",
        "wrong_size",
    )
    assert isinstance(tr.actions[-1], HangUp)
    assert "W, 1, 0, 0, 0, 1" in says(tr)
    assert tr.state.ended and tr.state.intent == "return"
    assert isinstance(tr.actions[-3], CreateWorkOrder) or any(
        isinstance(a, CreateWorkOrder) for a in tr.actions
    )
