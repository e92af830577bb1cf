import io
import json
from pathlib import Path

import httpx

from voice_agent.dialog.chat import main
from voice_agent.oms.embedded import create_oms_app
from voice_agent.oms.serve import ServerThread

from .conftest import DIALOG, TODAY


def chat(lines: list[str], *extra: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(
        ["--dialog", str(DIALOG), "--today", TODAY.isoformat(), *extra],
        stdin=io.StringIO("".join(line + "\n" for line in lines)),
        stdout=out,
    )
    return code, out.getvalue()


def test_chat_with_demo_orders():
    code, out = chat(["I want to return the jacket", "#481526#", "/state", "it's torn", "yes"])
    assert code == 0
    assert "agent> Hi, thanks for calling" in out
    assert "LookupOrder(order_id='481526')" in out
    assert '"phase": "slot"' in out  # /state printed JSON
    assert "type='return'" in out and "item_sku='JKT-RAIN-M'" in out
    assert "return number is: W, O, 0, 0, 0, 1" in out
    assert out.rstrip().endswith("[hang up]")


def test_chat_silence_transfer_and_quit():
    code, out = chat(["/silence", "let me talk to a human"])
    assert code == 0 and "Are you still there?" in out
    assert "[transfer: caller asked for a person]" in out
    summary = json.loads(
        out.split("[transfer: caller asked for a person]")[1].strip().splitlines()[0]
    )
    assert summary["last_turns"][-1]["text"] == "let me talk to a human"
    code, out = chat(["/quit", "never read"])
    assert code == 0 and "never read" not in out


def test_chat_bad_dialog_file(tmp_path: Path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 2\n")
    assert main(["--dialog", str(bad)], stdin=io.StringIO(""), stdout=io.StringIO()) == 2
    assert "bad.yaml:1" in capsys.readouterr().err


def test_chat_against_a_real_oms_over_http(tmp_path: Path):
    app = create_oms_app(tmp_path / "oms.sqlite3", today=TODAY)
    try:
        with ServerThread(app) as server:
            code, out = chat(
                ["return 735902, they're broken", "yes"],
                "--oms-url",
                server.url,
                "--call-sid",
                "CA-chat-http",
            )
            assert code == 0, out
            wos = httpx.get(f"{server.url}/work-orders", params={"call_sid": "CA-chat-http"}).json()
            assert [(w["type"], w["order_id"], w["reason"]) for w in wos] == [
                ("return", "735902", "damaged")
            ]
            spoken = "".join(ch for ch in out.split("return number is")[1] if ch.isalnum())
            assert spoken.startswith("".join(ch for ch in wos[0]["id"] if ch.isalnum()))
            # unknown order: 404 maps to "not found", not to an outage
            code, out = chat(["return 111111", "bye"], "--oms-url", server.url)
            assert "couldn't find order 1, 1, 1, 1, 1, 1" in out
    finally:
        app.state.close()
    # the server is gone now: an outage gets the spoken fallback, never a crash
    code, out = chat(["return 735902", "no", "no"], "--oms-url", server.url)
    assert code == 0 and "can't reach our order system" in out
