"""``voice-agent`` command line: serve, replay, chat, dialog-lint."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from voice_agent.app import create_app
    from voice_agent.settings import Settings

    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    settings = Settings(**overrides)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from voice_agent.replay import main as replay_main

    return replay_main(args)


def _qa(args: argparse.Namespace) -> int:
    from voice_agent.qa.runner import main as qa_main

    return qa_main(args)


def _chat(args: argparse.Namespace, rest: list[str]) -> int:
    from voice_agent.dialog.chat import main as chat_main

    return chat_main(rest)


def _lint(args: argparse.Namespace, rest: list[str]) -> int:
    from voice_agent.dialog.lint import main as lint_main

    return lint_main(rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voice-agent", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the agent (Twilio endpoints, embedded OMS)")
    serve.add_argument("--host", default=None, help="bind address (VOICE_AGENT_HOST)")
    serve.add_argument("--port", type=int, default=None, help="port (VOICE_AGENT_PORT)")

    replay = sub.add_parser("replay", help="run a recorded caller track through the pipeline")
    replay.add_argument("wav", type=Path, help="caller audio (any rate; mono or stereo)")
    replay.add_argument("--channel", type=int, default=None, help="channel of a stereo file")
    replay.add_argument("--json", action="store_true", help="print the turns as JSON")
    replay.add_argument("--call-sid", default=None, help="call SID to use (default: derived)")
    replay.add_argument("--today", default=None, help="YYYY-MM-DD treated as today")

    from voice_agent.qa.runner import add_arguments as add_qa_arguments

    qa = sub.add_parser("qa", help="replay the audio fixtures as a regression suite")
    add_qa_arguments(qa)

    sub.add_parser("chat", help="talk to the dialog by typing", add_help=False)
    sub.add_parser("dialog-lint", help="validate a dialog file", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv and argv[0] in ("chat", "dialog-lint"):
        args = argparse.Namespace(command=argv[0])
        return (_chat if argv[0] == "chat" else _lint)(args, argv[1:])
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "replay":
        return _replay(args)
    if args.command == "qa":
        return _qa(args)
    parser.error(f"unknown command {args.command}")
    return 2
