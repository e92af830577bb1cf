"""The returns dialog for a retailer whose order numbers hold letters, as tests run it."""

from __future__ import annotations

from pathlib import Path

from voice_agent.settings import PROJECT_ROOT

#: Order numbers of two letters and six digits.
LETTER_PATTERN = "^[A-Z]{2}[0-9]{6}$"
_DIGITS = "pattern: '^[0-9]{6}$', dtmf_digits: 6"


def letter_dialog(folder: Path, *without: str) -> Path:
    """Write ``dialogs/returns.yaml`` with :data:`LETTER_PATTERN` order numbers to
    ``folder/letters.yaml``, the prompts named in ``without`` left out; its path.
    """
    text = (PROJECT_ROOT / "dialogs" / "returns.yaml").read_text()
    assert _DIGITS in text, "the returns dialog's order_id slot changed"
    text = text.replace(_DIGITS, f"pattern: '{LETTER_PATTERN}', dtmf_digits: 8")
    for n, prompt in enumerate(without):
        assert f"  {prompt}:" in text, prompt
        text = text.replace(f"  {prompt}:", f"  unused_prompt_{n}:")
    path = folder / "letters.yaml"
    path.write_text(text)
    return path
