// voice_agent console: plain JS, no build step. Reads /console/api/*.
"use strict";
const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) =>
  ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));

async function getJSON(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

function show(view) {
  for (const id of ["calls-view", "call-view", "totals-view"]) $("#" + id).hidden = id !== view;
}

function fmtTime(iso) { return iso ? new Date(iso).toLocaleString() : ""; }
function fmtClock(s) {
  if (s == null) return "";
  const m = Math.floor(s / 60), r = (s % 60).toFixed(1).padStart(4, "0");
  return `${m}:${r}`;
}

async function loadCalls() {
  show("calls-view");
  const p = new URLSearchParams();
  for (const [id, key] of [["#f-q", "q"], ["#f-outcome", "outcome"], ["#f-channel", "channel"],
                           ["#f-intent", "intent"]]) {
    if ($(id).value) p.set(key, $(id).value);
  }
  if ($("#f-since").value) p.set("since", $("#f-since").value + "T00:00:00");
  if ($("#f-until").value) p.set("until", $("#f-until").value + "T23:59:59");
  const rows = await getJSON("/console/api/calls?" + p);
  const body = $("#calls tbody");
  body.innerHTML = rows.map((r) => `<tr data-sid="${esc(r.call_sid)}">
    <td>${esc(fmtTime(r.started_at))}</td><td>${esc(r.channel)}</td>
    <td>${r.duration_s == null ? "" : esc(r.duration_s) + " s"}</td><td>${esc(r.intent)}</td>
    <td class="${esc(r.outcome)}">${esc(r.outcome)}</td>
    <td>${r.work_orders.map((w) => esc(`${w.type} ${w.order_id} (${w.status})`)).join("<br>")}</td>
    <td>${r.handed_off ? "yes: " + esc(r.handoff_reason) : "no"}</td><td>${r.turns}</td></tr>`).join("");
  $("#calls-empty").hidden = rows.length > 0;
  for (const tr of body.querySelectorAll("tr")) {
    tr.addEventListener("click", () => { location.hash = "#/call/" + encodeURIComponent(tr.dataset.sid); });
  }
}

function latencyChart(rows) {
  const stages = [["vad_end_to_transcript_ms", "#6c8ebf", "ASR"],
                  ["transcript_to_first_audio_ms", "#d79b00", "TTS"],
                  ["end_of_speech_to_first_audio_ms", "#82b366", "end of speech to audio"]];
  if (!rows.length) return "<p>No latency recorded.</p>";
  const max = Math.max(1, ...rows.flatMap((r) => stages.map(([k]) => r[k] || 0)));
  const bw = 12, gap = 14, h = 160, w = rows.length * (stages.length * bw + gap) + 40;
  let bars = "";
  rows.forEach((r, i) => {
    const x0 = 36 + i * (stages.length * bw + gap);
    stages.forEach(([k, color, label], j) => {
      const v = r[k]; if (v == null) return;
      const bh = Math.round((v / max) * (h - 30));
      bars += `<rect class="bar" x="${x0 + j * bw}" y="${h - 15 - bh}" width="${bw - 2}" height="${bh}"
        fill="${color}"><title>turn ${r.turn} ${label}: ${v} ms</title></rect>`;
    });
    bars += `<text x="${x0}" y="${h - 2}">${r.turn}</text>`;
  });
  const legend = stages.map(([, c, l]) => `<span style="color:${c}">&#9632; ${l}</span>`).join(" ");
  return `<svg id="latency-chart" width="${w}" height="${h}" role="img" aria-label="latency per turn">
    <text x="0" y="12">${max} ms</text><line x1="34" x2="${w}" y1="${h - 15}" y2="${h - 15}"
    stroke="#999"/>${bars}</svg><div>${legend}</div>`;
}

async function loadCall(sid) {
  show("call-view");
  const d = await getJSON("/console/api/calls/" + encodeURIComponent(sid));
  const c = d.call;
  $("#call-title").textContent = `Call ${c.call_sid}`;
  $("#call-summary").innerHTML = `${esc(fmtTime(c.started_at))} &middot; ${esc(c.channel)} &middot;
    ${c.duration_s ?? "?"} s &middot; intent <b>${esc(c.intent)}</b> &middot; outcome
    <b class="${esc(c.outcome)}">${esc(c.outcome)}</b>${c.handed_off ? " (" + esc(c.handoff_reason) + ")" : ""}
    &middot; caller ${esc(c.caller)}`;
  const audio = $("#audio");
  audio.hidden = !d.recording; $("#no-recording").hidden = !!d.recording;
  if (d.recording) audio.src = d.recording; else audio.removeAttribute("src");
  $("#chat").innerHTML = d.chat.map((m, i) => `<div class="msg ${esc(m.speaker)}" data-i="${i}"
    data-start="${m.start_s ?? ""}"><small>${esc(m.speaker === "user" ? "caller" : "agent")}
    ${m.start_s != null ? esc(fmtClock(m.start_s)) : esc(fmtTime(m.at))}
    ${m.interrupted ? " (interrupted)" : ""}</small>${esc(m.text)}</div>`).join("");
  for (const el of document.querySelectorAll("#chat .msg")) {
    el.addEventListener("click", () => {
      if (el.dataset.start !== "" && d.recording) { audio.currentTime = +el.dataset.start; audio.play(); }
    });
  }
  $("#work-orders tbody").innerHTML = d.work_orders.map((w) => `<tr><td>${esc(w.reference)}</td>
    <td>${esc(w.type)}</td><td>${esc(w.order_id)}</td><td>${esc(w.reason)}</td>
    <td>${esc(w.status)}${w.attempts > 1 ? " after " + w.attempts + " tries" : ""}</td>
    <td>${esc(w.oms_id)}</td></tr>`).join("") || "<tr><td colspan=6>none</td></tr>";
  $("#latency").innerHTML = latencyChart(d.latency);
  const items = [...d.states.map((s) => ({at: s.at, text: "state " + JSON.stringify(
      {phase: s.data.state?.phase, intent: s.data.state?.intent, slots: s.data.state?.slots})})),
    ...d.actions.map((a) => ({at: a.at, text: a.kind + " " + JSON.stringify(a.data)}))];
  items.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  $("#actions").innerHTML = items.map((x) => `<li>${esc(x.text)}</li>`).join("");
}

function highlight() {
  const t = $("#audio").currentTime;
  let current = null;
  for (const el of document.querySelectorAll("#chat .msg")) {
    el.classList.remove("current");
    if (el.dataset.start !== "" && +el.dataset.start <= t) current = el;
  }
  if (current) current.classList.add("current");
}

function table(title, pairs) {
  return `<h3>${esc(title)}</h3><table><tbody>${pairs.map(([k, v]) =>
    `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join("") || "<tr><td>none</td></tr>"}</tbody></table>`;
}

async function loadTotals() {
  show("totals-view");
  const p = new URLSearchParams();
  if ($("#t-since").value) p.set("since", $("#t-since").value + "T00:00:00");
  if ($("#t-until").value) p.set("until", $("#t-until").value + "T23:59:59");
  const t = await getJSON("/console/api/totals?" + p);
  const rate = t.containment_rate == null ? "n/a" : Math.round(t.containment_rate * 100) + " %";
  $("#totals").innerHTML = `<div class="cards">
    <div class="card" id="total-calls"><b>${t.calls}</b>calls</div>
    <div class="card" id="containment"><b>${rate}</b>contained (resolved without a person)</div>
    <div class="card"><b>${t.handed_off}</b>handed off</div>
    <div class="card"><b>${t.abandoned}</b>abandoned</div></div>
    ${table("Handoff reasons", t.handoff_reasons)}${table("Top return reasons", t.return_reasons)}
    ${table("Intents", t.intents)}${table("Work orders", t.work_order_types)}
    ${table("Top complaint words", t.complaint_words)}`;
}

async function route() {
  const h = location.hash || "#/";
  try {
    if (h.startsWith("#/call/")) await loadCall(decodeURIComponent(h.slice(7)));
    else if (h.startsWith("#/totals")) await loadTotals();
    else await loadCalls();
    document.body.dataset.ready = h;
  } catch (e) {
    document.body.dataset.error = String(e);
    console.error(e);
  }
}

$("#filters").addEventListener("submit", (e) => { e.preventDefault(); loadCalls(); });
$("#totals-filters").addEventListener("submit", (e) => { e.preventDefault(); loadTotals(); });
$("#audio").addEventListener("timeupdate", highlight);
$("#audio").addEventListener("seeked", highlight);
window.addEventListener("hashchange", route);
route();
