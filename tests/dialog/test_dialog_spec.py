from pathlib import Path

import pytest

from voice_agent.dialog.lint import main as lint_main
from voice_agent.dialog.spec import DialogSpecError, load_dialog, parse_dialog

DIALOG = Path(__file__).resolve().parents[2] / "dialogs" / "returns.yaml"
TEXT = DIALOG.read_text()


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def broken(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    assert old in TEXT
    text = TEXT.replace(old, new, 1)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path, text


def errors_for(path: Path) -> list[str]:
    with pytest.raises(DialogSpecError) as info:
        load_dialog(path)
    return info.value.errors


def test_shipped_dialog_is_valid(spec):
    assert spec.name == "returns"
    assert {
        "return",
        "exchange",
        "refund_status",
        "order_status",
        "delivery_problem",
        "price_protection",
        "cancel",
        "policy",
    } <= set(spec.intents)
    # phrases are normalized like callers' words
    assert "did not receive it" in spec.intents["delivery_problem"].triggers


def test_wrong_type_points_at_line(tmp_path):
    path, text = broken(tmp_path, "return_window_days: 30", "return_window_days: thirty")
    [err] = errors_for(path)
    assert err.startswith(f"{path}:{line_of(text, 'return_window_days')}:")
    assert "policy.return_window_days" in err


def test_unknown_handler(tmp_path):
    path, text = broken(tmp_path, "handler: price_protection", "handler: price_protect")
    [err] = errors_for(path)
    assert f":{line_of(text, 'handler: price_protect')}:" in err
    assert "unknown handler 'price_protect'" in err


def test_undefined_slot(tmp_path):
    path, text = broken(
        tmp_path,
        "slots: [order_id, item, exchange_for, reason]",
        "slots: [order_id, item, colour_wanted, reason]",
    )
    [err] = errors_for(path)
    assert f":{line_of(text, 'colour_wanted')}:" in err
    assert "undefined slot 'colour_wanted'" in err


def test_unknown_placeholder(tmp_path):
    path, text = broken(tmp_path, "Which item is it: {options}?", "Which item is it: {choices}?")
    [err] = errors_for(path)
    assert f":{line_of(text, '{choices}')}:" in err and "choices" in err


def test_missing_prompt_and_extra_key(tmp_path):
    path, text = broken(tmp_path, "  anything_else:\n", "  anything_elze:\n")
    errs = errors_for(path)
    assert any("missing required prompt 'anything_else'" in e for e in errs)
    path, text = broken(tmp_path, "limits:\n", "limits:\n  max_atempts: 2\n")
    [err] = errors_for(path)
    assert f":{line_of(text, 'max_atempts')}:" in err and "extra" in err.lower()


def test_bad_regex_and_duplicate_trigger(tmp_path):
    path, text = broken(tmp_path, "pattern: '^[0-9]{6}$'", "pattern: '^[0-9{6}$'")
    [err] = errors_for(path)
    assert "regular expression" in err and f":{line_of(text, 'pattern:')}:" in err
    path, text = broken(tmp_path, "      - swap\n", "      - swap\n      - track\n")
    [err] = errors_for(path)
    assert "trigger 'track' also in" in err


def test_long_digit_strings_in_prompts(tmp_path):
    path, text = broken(tmp_path, "I couldn't find order {heard}.", "Call 18005550199 for help.")
    [err] = errors_for(path)
    assert "long digit string" in err and f":{line_of(text, '18005550199')}:" in err


def test_yaml_syntax_error_has_line(tmp_path):
    path, text = broken(tmp_path, "name: returns", "name: [returns")
    [err] = errors_for(path)
    assert err.startswith(f"{path}:") and "YAML syntax" in err


def test_not_a_mapping_and_missing_file(tmp_path):
    with pytest.raises(DialogSpecError, match="must be a mapping"):
        parse_dialog("- a\n- b\n", "x.yaml")
    with pytest.raises(DialogSpecError, match="cannot read"):
        load_dialog(tmp_path / "nope.yaml")


def test_lint_cli(tmp_path, capsys):
    assert lint_main([str(DIALOG)]) == 0
    assert "ok" in capsys.readouterr().out
    path, text = broken(tmp_path, "max_attempts: 3", "max_attempts: 0")
    assert lint_main([str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:{line_of(text, 'max_attempts')}: limits.max_attempts" in err
