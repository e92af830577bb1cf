"""PII masking rules (pure) and the log hooks."""

from __future__ import annotations

import logging
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from loguru import logger

from voice_agent.pii import (
    PiiLogFilter,
    install_log_masking,
    loguru_patcher,
    mask_data,
    mask_phone,
    mask_text,
)


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("my number is +1 555 014 2211 thanks", "my number is +* *** *** **11 thanks"),
        ("call 555-014-2211", "call ***-***-**11"),
        ("(555) 014-2211", "(***) ***-**11"),
        ("+15550142211", "+*********11"),
        ("five five five oh one four two two one one", "* * * * * * * * one one"),
        ("card 4111 1111 1111 1111 exp", "card **** **** **** 1111 exp"),
        ("4111111111111111", "************1111"),
        ("dana.whitfield@example.com wrote", "d***@***.com wrote"),
        ("it is dana dot whitfield at example dot com", "it is d*** at *** dot com"),
    ],
)
def test_masks(raw: str, masked: str) -> None:
    assert mask_text(raw) == masked


@pytest.mark.parametrize(
    "kept",
    [
        "order 481526 please",
        "4, 8, 1, 5, 2, 6",
        "four eight one five two six",
        "on 2026-11-20 02:35:00+00:00 ok",
        "latency 0.123456789 s",
        "work order W10001, reference R100001",
        "tracking 1Z999AA10123456784",
        "price 218.99 for 3 items",
        "call CA1234567890abcdef",
        "one two three",
    ],
)
def test_keeps_what_is_not_pii(kept: str) -> None:
    assert mask_text(kept) == kept


def test_mask_phone_and_data() -> None:
    assert mask_phone("+15550142211") == "+*********11"
    assert mask_phone("sip:4412@pbx") == "sip:**12@pbx"
    assert mask_phone(None) is None
    data = {"email": "a.b@c.org", "n": 3, "nested": [{"p": "555 014 2211"}], "order": "481526"}
    assert mask_data(data) == {
        "email": "a***@***.org",
        "n": 3,
        "nested": [{"p": "*** *** **11"}],
        "order": "481526",
    }


words = st.lists(st.sampled_from(["my", "number", "is", "please", "ok", "and", "the"]), max_size=4)
separators = st.sampled_from(["", " ", "-", " - ", ", "])


@st.composite
def phone_numbers(draw: st.DrawFn) -> tuple[str, str]:
    digits = draw(st.text("0123456789", min_size=10, max_size=11))
    sep = draw(separators)
    groups = [digits[:3], digits[3:6], digits[6:]]
    plus = draw(st.sampled_from(["", "+"]))
    return plus + sep.join(groups), digits


@given(phone_numbers(), words, words)
def test_any_phone_number_is_masked(phone: tuple[str, str], before: list[str], after: list[str]):
    text, digits = phone
    out = mask_text(" ".join([*before, text, *after]))
    assert digits not in re.sub(r"\D", "", out)
    assert len(re.findall(r"\d", out)) <= 2


@given(st.text("0123456789", min_size=6, max_size=6), words, words)
def test_order_numbers_stay_readable(order: str, before: list[str], after: list[str]) -> None:
    text = " ".join([*before, order, *after])
    assert mask_text(text) == text


@given(st.emails(), words)
def test_any_email_is_masked(email: str, before: list[str]) -> None:
    out = mask_text(" ".join([*before, email]))
    local, domain = email.rsplit("@", 1)
    assert out == " ".join([*before, f"{local[0]}***@***.{domain.rsplit('.', 1)[1]}"])


def test_loguru_patcher_masks_messages() -> None:
    lines: list[str] = []
    sink_id = logger.add(lines.append, format="{message} {extra}")
    try:
        logger.patch(loguru_patcher).bind(caller="+15550142211").info(
            "call from {} <{}>", "+1 555 014 2211", "dana@example.com"
        )
    finally:
        logger.remove(sink_id)
    assert lines and "555" not in lines[0] and "dana@" not in lines[0]
    assert "**11" in lines[0]


def test_stdlib_filter_masks_messages(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("voice_agent.test_pii")
    log.addFilter(PiiLogFilter())
    with caplog.at_level(logging.INFO, logger="voice_agent.test_pii"):
        log.info("caller %s email %s order %s", "5550142211", "x.y@example.com", "481526")
    assert caplog.messages == ["caller ********11 email x***@***.com order 481526"]


def test_install_masks_stdlib_records_whatever_the_handlers() -> None:
    previous = logging.getLogRecordFactory()
    stream: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            stream.append(self.format(record))

    log = logging.getLogger("voice_agent.test_pii.install")
    log.propagate = False
    try:
        install_log_masking()
        install_log_masking()  # idempotent
        handler = Collect()  # added after install, like uvicorn's handlers
        log.addHandler(handler)
        log.warning('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/x?p=5550142211", "1.1", 200)
        log.warning("mail %(who)s", {"who": "dana@example.com"})
    finally:
        logging.setLogRecordFactory(previous)
        logger.configure(patcher=lambda _record: None)
        log.handlers.clear()
    assert stream == [
        '127.0.0.1:5 - "GET /x?p=********11 HTTP/1.1" 200',
        "mail d***@***.com",
    ]
