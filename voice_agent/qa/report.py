"""The self-contained HTML report of a QA run (inline CSS, no scripts, no external files)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}th,td{padding:4px 8px;border-bottom:1px solid #ddd;
text-align:left;vertical-align:top}.pass{color:#176b2c}.fail{color:#b00020;font-weight:bold}
.xfail,.xpass{color:#8a6d00}code,pre{font:12px ui-monospace,monospace}
pre{background:#f6f6f6;padding:6px;white-space:pre-wrap}details{margin:.3em 0}
.summary span{margin-right:1.5em}
"""


def _turns_text(turns: list[dict[str, Any]]) -> str:
    lines = []
    for turn in turns:
        event = turn.get("input", {})
        heard = event.get("text") or event.get("key") or f"({event.get('type')})"
        lines.append(f"caller: {heard}")
        lines += [f"  agent: {s}" for s in turn.get("said", [])]
        lines += [f"  action: {json.dumps(a, default=str)}" for a in turn.get("actions", [])]
    return "\n".join(lines)


def render_html(report: dict[str, Any]) -> str:
    c = report["counts"]
    rows = []
    for r in report["cases"]:
        actual = r.get("actual") or {}
        wos = ", ".join(f"{w['type']} {w['order_id']} ({w.get('reason')})"
                        for w in actual.get("work_orders", [])) or "none"
        diffs = "".join(
            f"<div><b>{escape(d['field'])}</b>: expected <code>"
            f"{escape(json.dumps(d['expected'], default=str))}</code> got <code>"
            f"{escape(json.dumps(d['actual'], default=str))}</code></div>"
            for d in r["diffs"]
        )
        if r.get("xfail"):
            diffs += f"<div><i>known failure: {escape(str(r['xfail']))}</i></div>"
        rows.append(
            f"<tr id='{escape(r['name'])}'><td class='{r['status']}'>{r['status'].upper()}</td>"
            f"<td>{escape(r['name'])}<br><small>{escape(', '.join(r.get('tags') or []))}</small>"
            f"</td><td>{escape(str(actual.get('intent')))}</td><td>{escape(wos)}</td>"
            f"<td>{escape(str(actual.get('handoff')))}</td>"
            f"<td>{escape(str(actual.get('outcome')))}</td><td>{actual.get('turns', '')}</td>"
            f"<td>{r['seconds']}s / {r['audio_seconds']}s</td>"
            f"<td>{diffs}<details><summary>transcript</summary><pre>"
            f"{escape(_turns_text(r.get('turns') or []))}</pre></details></td></tr>"
        )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>voice_agent QA report</title><style>{CSS}</style></head><body>
<h1>voice_agent QA report</h1>
<p class="summary"><span>{escape(report['created_at'])}</span>
<span>commit {escape(str(report.get('commit')))}</span>
<span>ASR {escape(str(report.get('asr_model')))}</span>
<span class="pass">{c['pass']} passed</span><span class="fail">{c['fail']} failed</span>
<span class="xfail">{c['xfail']} known failures</span><span>{c['xpass']} unexpectedly passed</span>
<span>{report['seconds']} s for {report['audio_seconds']} s of caller audio</span></p>
<table><thead><tr><th>status</th><th>case</th><th>intent</th><th>work orders</th>
<th>handoff</th><th>outcome</th><th>turns</th><th>time / audio</th><th>diffs</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table></body></html>
"""
