import base64
import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_agent.telephony import twilio_protocol as tp


def start_message(**over):
    start = {
        "streamSid": "MZ1",
        "accountSid": "AC1",
        "callSid": "CA1",
        "customParameters": {"token": "abc"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    } | over
    return json.dumps({"event": "start", "streamSid": "MZ1", "start": start})


def test_start_is_parsed():
    event = tp.parse_message(start_message())
    assert event == tp.Start(
        stream_sid="MZ1",
        call_sid="CA1",
        account_sid="AC1",
        custom_parameters={"token": "abc"},
    )


def test_media_payload_is_decoded():
    payload = base64.b64encode(b"\x01\x02\xff").decode()
    msg = {"event": "media", "streamSid": "MZ1", "media": {"payload": payload, "timestamp": "40"}}
    event = tp.parse_message(json.dumps(msg))
    assert event == tp.Media(stream_sid="MZ1", payload=b"\x01\x02\xff", timestamp_ms=40)


def test_dtmf_mark_stop_connected():
    assert tp.parse_message('{"event":"dtmf","streamSid":"MZ1","dtmf":{"digit":"7"}}') == tp.Dtmf(
        "MZ1", "7"
    )
    assert tp.parse_message('{"event":"mark","streamSid":"MZ1","mark":{"name":"p1"}}') == tp.Mark(
        "MZ1", "p1"
    )
    stop = tp.parse_message('{"event":"stop","streamSid":"MZ1","stop":{"callSid":"CA1"}}')
    assert stop == tp.Stop("MZ1", "CA1")
    assert tp.parse_message('{"event":"connected","protocol":"Call"}') == tp.Connected("Call")


def test_unknown_event_is_ignored_not_an_error():
    assert tp.parse_message('{"event":"something-new"}') is None


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("not json", "not JSON"),
        ("[1,2]", "not a JSON object"),
        ('{"no":"event"}', "missing 'event'"),
        ('{"event":"media","media":{"payload":"%%%"}}', "base64"),
        ('{"event":"media","media":{}}', "payload"),
        ('{"event":"media","media":"x"}', "object"),
        ('{"event":"dtmf","dtmf":{"digit":"x"}}', "keypad"),
        ('{"event":"start","start":{"streamSid":"MZ"}}', "callSid"),
        ('{"event":"start","start":{"streamSid":"MZ","callSid":"CA",'
         '"mediaFormat":{"sampleRate":"fast"}}}', "non-numeric"),
        ("x" * (tp.MAX_MESSAGE_BYTES + 1), "exceeds"),
    ],
)
def test_malformed_messages_raise_protocol_error(raw, reason):
    with pytest.raises(tp.ProtocolError, match=reason):
        tp.parse_message(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(
    event=st.sampled_from(["start", "media", "mark", "dtmf", "stop", "connected", 3, None]),
    body=st.dictionaries(
        st.sampled_from(["start", "media", "mark", "dtmf", "stop", "streamSid", "x"]),
        json_values,
        max_size=4,
    ),
)
def test_fuzzed_messages_never_raise_anything_but_protocol_error(event, body):
    raw = json.dumps({"event": event} | body)
    with contextlib.suppress(tp.ProtocolError):
        tp.parse_message(raw)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_fuzzed_bytes_never_raise_anything_but_protocol_error(raw):
    with contextlib.suppress(tp.ProtocolError):
        tp.parse_message(raw)


def test_outbound_messages_round_trip_through_the_parser():
    media = json.loads(tp.media_message("MZ9", b"\x00\xff"))
    assert media["event"] == "media" and media["streamSid"] == "MZ9"
    assert base64.b64decode(media["media"]["payload"]) == b"\x00\xff"
    assert tp.parse_message(tp.mark_message("MZ9", "prompt-1")) == tp.Mark("MZ9", "prompt-1")
    assert json.loads(tp.clear_message("MZ9")) == {"event": "clear", "streamSid": "MZ9"}
