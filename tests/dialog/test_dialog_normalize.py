from datetime import date

import pytest
from rapidfuzz import fuzz

from voice_agent.dialog.dates import parse_date
from voice_agent.dialog.normalize import (
    TOKEN_MATCH,
    best_phrase_key,
    clean,
    match_item,
    means_all_items,
    tokens,
    word_match,
    yes_no,
)


@pytest.mark.parametrize(
    "said",
    [
        "yes",
        "Yeah.",
        "yep",
        "yup",
        "sure",
        "correct",
        "that's right",
        "ok",
        "okay",
        "go ahead",
        "yes please",
        "absolutely",
        "uh huh",
        "of course",
        "sounds good",
        "right",
        "exactly",
        "yeah that's it",
        "Yes, no problem.",
    ],
)
def test_yes(said):
    assert yes_no(said) is True


@pytest.mark.parametrize(
    "said",
    [
        "no",
        "No.",
        "nope",
        "nah",
        "not really",
        "that's wrong",
        "incorrect",
        "no thanks",
        "no, that's not right",
        "not yet",
        "I didn't",
        "no it never came",
        "Nope, nothing else.",
    ],
)
def test_no(said):
    assert yes_no(said) is False


@pytest.mark.parametrize("said", ["I'm not sure", "I don't know", "the jacket", "maybe", "", "hmm"])
def test_neither(said):
    assert yes_no(said) is None


def test_clean_expands_contractions():
    assert clean("Where's my refund? I haven't got it!") == "where is my refund i have not got it"
    assert clean("I won't") == "i will not"  # not "won" -> 1
    assert tokens("They're TOO small") == ["they", "are", "too", "small"]


# The token threshold is set from these pairs: plurals and one-letter ASR slips match,
# different words don't.
SAME = [
    ("shoe", "shoes"),
    ("return", "returned"),
    ("refund", "refunded"),
    ("jaket", "jacket"),
    ("headphone", "headphones"),
    ("damage", "damaged"),
    ("brokn", "broken"),
    ("exchange", "exchanged"),
    ("swimsuit", "swimsuits"),
]
DIFFERENT = [
    ("shoes", "shows"),
    ("small", "smell"),
    ("return", "refund"),
    ("late", "large"),
    ("coat", "boat"),
    ("track", "tracking"),
    ("watch", "match"),
    ("bag", "big"),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_token_match_accepts(a, b):
    assert word_match(a, b)


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_token_match_rejects(a, b):
    assert not word_match(a, b)


def test_threshold_separates_the_pairs():
    lowest_same = min(fuzz.ratio(a, b) for a, b in SAME if len(a) >= 4 and len(b) >= 4)
    highest_diff = max(fuzz.ratio(a, b) for a, b in DIFFERENT if len(a) >= 4 and len(b) >= 4)
    assert highest_diff < TOKEN_MATCH <= lowest_same


ITEMS = ["blue running shoes", "rain jacket"]


@pytest.mark.parametrize(
    ("said", "idx"),
    [
        ("the shoes", 0),
        ("the blue ones", 0),
        ("running shoes", 0),
        ("the shoe", 0),
        ("the jacket", 1),
        ("the rain jaket", 1),
        ("my raincoat", None),  # one joined word "raincoat" is not "rain" or "jacket"
        ("the rain coat", 1),
        ("not the shoes, the jacket", 1),
        ("the jacket, not the shoes", 1),
        ("the first one", 0),
        ("the second one", 1),
        ("the last one", 1),
        ("both", None),
        ("the hat", None),
    ],
)
def test_match_item(said, idx):
    assert match_item(said, ITEMS) == idx


def test_match_item_joined_words_and_ties():
    assert match_item("the head phones", ["noise cancelling headphones", "desk lamp"]) == 0
    assert match_item("the black one", ["black tote bag", "black sport band"]) is None
    assert match_item("the black band", ["black tote bag", "black sport band"]) == 1


REASONS = {
    "wrong_size": ["wrong size", "too small", "too big", "does not fit"],
    "damaged": ["damaged", "broken", "defective"],
    "changed_mind": ["changed my mind", "do not need it"],
}


@pytest.mark.parametrize(
    ("said", "key"),
    [
        ("they're too small", "wrong_size"),
        ("it doesn't fit", "wrong_size"),
        ("it broke", "damaged"),
        ("it arrived brokn", "damaged"),
        ("it's not damaged, it's too big", "wrong_size"),
        ("I changed my mind", "changed_mind"),
        ("too small, no wait, it's defective", "damaged"),
        ("I just don't need it anymore", "changed_mind"),
        ("the colour", None),
    ],
)
def test_reason_phrases(said, key):
    assert best_phrase_key(tokens(said), REASONS, last=True) == key


TODAY = date(2026, 11, 22)  # a Sunday


@pytest.mark.parametrize(
    ("said", "day"),
    [
        ("yesterday", date(2026, 11, 21)),
        ("the day before yesterday", date(2026, 11, 20)),
        ("it came today", TODAY),
        ("it came last monday", date(2026, 11, 16)),
        ("on sunday", date(2026, 11, 15)),  # a weekday means the last one before today
        ("three days ago", date(2026, 11, 19)),
        ("a week ago", date(2026, 11, 15)),
        ("2 weeks ago", date(2026, 11, 8)),
        ("on November 16th", date(2026, 11, 16)),
        ("the 16th of November", date(2026, 11, 16)),
        ("on the 20th", date(2026, 11, 20)),
        ("on the 25th", date(2026, 10, 25)),  # the 25th of this month is still ahead
        ("december 1st", date(2025, 12, 1)),
        ("the twenty first", date(2026, 11, 21)),
        ("nov 3", date(2026, 11, 3)),
    ],
)
def test_parse_date(said, day):
    assert parse_date(said, TODAY) == day


@pytest.mark.parametrize("said", ["may I ask something", "the first one", "yes", "february 30th"])
def test_parse_date_none(said):
    assert parse_date(said, TODAY) is None


def test_all_items():
    assert means_all_items("both of them")
    assert means_all_items("the whole order")
    assert not means_all_items("the jacket")


def test_gapped_phrases_rank_below_exact_ones():
    table = {"refund_status": ["my refund"], "return": ["return"]}
    words = tokens("I want to return my shoes for a refund")
    assert best_phrase_key(words, table, max_gap=3) == "return"
    assert best_phrase_key(tokens("where is my uh refund"), table, max_gap=3) == "refund_status"
    assert best_phrase_key(tokens("where is my uh refund"), table) is None
    too_far = tokens("my order from last week and the refund")
    assert best_phrase_key(too_far, {"refund_status": ["my refund"]}, max_gap=3) is None


def test_token_match_rejects_a_different_word_that_only_looks_close():
    assert not word_match("change", "exchange")  # "I change my mind" is not an exchange
    assert word_match("changed", "change")
