"""``voice-agent qa``: replay every fixture case, compare, report, exit non-zero on regressions.

Models are loaded once; each case runs in its own scratch data folder (embedded OMS seeded as of
the case's ``today``, fresh agent database), so cases are independent and dates deterministic.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voice_agent.qa.report import render_html
from voice_agent.qa.spec import FixtureCase, SpecError, check, discover, summarize

DEFAULT_OUT = Path("var") / "qa"


async def run_case(case: FixtureCase, models: Any, base_settings: Any) -> dict[str, Any]:
    """Replay one case in a scratch OMS/database; never raises (errors become the result)."""
    from voice_agent.audio import read_audio
    from voice_agent.replay import replay_audio
    from voice_agent.services import build_backends, build_services

    started = time.perf_counter()
    audio, rate = read_audio(case.audio, channel=0)  # a call recording: the caller's channel
    spans = None
    if case.events is not None:  # a recorded call: turns exactly where the agent heard them
        from voice_agent.pipeline.recording import turns_from_events

        spans = turns_from_events(
            [json.loads(line) for line in case.events.read_text().splitlines() if line.strip()]
        )
    result: dict[str, Any] = {
        "name": case.name,
        "tags": case.meta.get("tags", []),
        "audio_seconds": round(len(audio) / rate, 2),
        "xfail": case.xfail,
    }
    try:
        with tempfile.TemporaryDirectory(prefix=f"qa-{case.name}-") as scratch:
            settings = base_settings.model_copy(update={"data_dir": Path(scratch)})
            backends = build_backends(settings, today=case.today)
            try:
                services = build_services(settings, models, backends, warm_all_prompts=False)
                run = await replay_audio(
                    audio, rate, services, call_sid=f"QA-{case.name}", today=case.today,
                    turn_spans=spans,
                )
            finally:
                await backends.aclose()
        actual = summarize(run.turns, run.state, run.outcome, run.transferred)
        actual["caller_turns_in_audio"] = run.caller_turns
        actual["latencies_ms"] = [round(x) for x in run.latencies_ms]
        diffs = check(case.expect, actual)
        result |= {"actual": actual, "diffs": diffs, "turns": run.turns}
        passed = not diffs
    except Exception as exc:  # one broken case must not stop the suite
        result |= {"actual": None, "diffs": [{"field": "error", "expected": None,
                                              "actual": repr(exc)}], "turns": []}
        passed = False
    if case.xfail:
        result["status"] = "xpass" if passed else "xfail"
    else:
        result["status"] = "pass" if passed else "fail"
    result["expect"] = case.expect
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except OSError:
        return None
    return done.stdout.strip() or None


async def run_suite(cases: list[FixtureCase], settings: Any, models: Any,
                    progress: Any = None, jobs: int = 1) -> dict[str, Any]:
    """Run every case, ``jobs`` at a time; results keep the cases' order.

    On 2 cores ``jobs=2`` measured slower than 1 (118 s vs 81 s for 33 cases): ASR and TTS
    already use both cores. More jobs only help on bigger machines.
    """
    started = time.perf_counter()
    gate = asyncio.Semaphore(max(1, jobs))

    async def one(case: FixtureCase) -> dict[str, Any]:
        async with gate:
            result = await run_case(case, models, settings)
        if progress is not None:
            progress(result)
        return result

    results = list(await asyncio.gather(*(one(c) for c in cases)))
    counts = {s: sum(1 for r in results if r["status"] == s)
              for s in ("pass", "fail", "xfail", "xpass")}
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "asr_model": settings.asr_model,
        "dialog_file": str(settings.dialog_file),
        "cases": results,
        "counts": counts,
        "regressions": counts["fail"],
        "seconds": round(time.perf_counter() - started, 1),
        "audio_seconds": round(sum(r["audio_seconds"] for r in results), 1),
    }


def format_row(result: dict[str, Any]) -> str:
    mark = {"pass": "PASS", "fail": "FAIL", "xfail": "xfail", "xpass": "XPASS"}[result["status"]]
    actual = result.get("actual") or {}
    wos = ",".join(f"{w['type']}:{w['order_id']}" for w in actual.get("work_orders", [])) or "-"
    return (f"{mark:5s}  {result['name']:34s} {result['seconds']:6.1f}s  "
            f"intent={actual.get('intent')}  wo={wos}  outcome={actual.get('outcome')}")


def format_diffs(result: dict[str, Any]) -> list[str]:
    lines = []
    for d in result["diffs"]:
        lines.append(f"         {d['field']}: expected {json.dumps(d['expected'], default=str)}"
                     f"  got {json.dumps(d['actual'], default=str)}")
    heard = (result.get("actual") or {}).get("heard")
    if result["diffs"] and heard:
        lines.append(f"         heard: {json.dumps(heard)}")
    return lines


def main(args: argparse.Namespace) -> int:
    from voice_agent.registry import ModelRegistry
    from voice_agent.settings import Settings

    try:
        cases = discover(args.fixtures, only=args.case or None)
    except SpecError as exc:
        print(f"qa: {exc}")
        return 2
    if not cases:
        print(f"qa: no cases under {args.fixtures}")
        return 2
    settings = Settings(sip_enabled=False)
    load_started = time.perf_counter()
    models = ModelRegistry.load(settings)
    load_seconds = time.perf_counter() - load_started

    def progress(result: dict[str, Any]) -> None:
        print(format_row(result), flush=True)
        if result["status"] in ("fail", "xfail", "xpass"):
            for line in format_diffs(result):
                print(line, flush=True)

    print(f"qa: {len(cases)} cases from {args.fixtures} (models loaded in {load_seconds:.1f}s)")
    report = asyncio.run(run_suite(cases, settings, models, progress, jobs=args.jobs))
    report["jobs"] = args.jobs
    report["model_load_seconds"] = round(load_seconds, 1)
    # Free the models while the interpreter is whole: onnxruntime/CTranslate2 torn down at exit
    # abort the process ("terminate called without an active exception").
    del models
    gc.collect()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "qa_report.json").write_text(json.dumps(report, indent=2, default=str))
    (out / "qa_report.html").write_text(render_html(report))
    c = report["counts"]
    print(f"qa: {c['pass']} passed, {c['fail']} failed, {c['xfail']} known failures, "
          f"{c['xpass']} unexpectedly passed in {report['seconds']}s "
          f"({report['audio_seconds']}s of caller audio); report: {out / 'qa_report.html'}")
    code = 1 if report["regressions"] else 0
    # Exit at once: a pipeline thread torn down at interpreter exit can abort the process
    # ("terminate called without an active exception", exit 134), which would hide the result.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("fixtures", type=Path, nargs="?", default=Path("audio_fixtures"),
                        help="folder of case folders (caller.wav + expected.yaml)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="where qa_report.json and qa_report.html go (default var/qa)")
    parser.add_argument("--case", action="append", default=[], help="run only this case (repeat)")
    parser.add_argument("--jobs", type=int, default=1, help="cases replayed at the same time")
