"""``voice-agent dialog-lint FILE...``: validate dialog files; errors name file:line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from voice_agent.dialog.spec import DialogSpecError, load_dialog


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="voice-agent dialog-lint", description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    failed = 0
    for path in args.files:
        try:
            spec = load_dialog(path)
        except DialogSpecError as exc:
            failed += 1
            for line in exc.errors:
                print(line, file=sys.stderr)
            continue
        print(f"{path}: ok ({len(spec.intents)} intents, {len(spec.prompts)} prompts)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
