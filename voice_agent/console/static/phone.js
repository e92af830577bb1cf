// Browser softphone: microphone -> 16 kHz PCM16 over a websocket; agent PCM16 played back.
"use strict";
const RATE = 16000;
const $ = (s) => document.querySelector(s);
let ws = null, ctx = null, source = null, proc = null, stream = null, playAt = 0;

function setStatus(text) { $("#status").textContent = text; document.body.dataset.status = text; }

function toPcm16(floats) {
  const out = new Int16Array(floats.length);
  for (let i = 0; i < floats.length; i++) {
    const s = Math.max(-1, Math.min(1, floats[i]));
    out[i] = s < 0 ? s * 32768 : s * 32767;
  }
  return out.buffer;
}

function play(buffer) {
  const pcm = new Int16Array(buffer);
  if (!pcm.length) return;
  const audio = ctx.createBuffer(1, pcm.length, RATE);
  const ch = audio.getChannelData(0);
  for (let i = 0; i < pcm.length; i++) ch[i] = pcm[i] / 32768;
  const node = ctx.createBufferSource();
  node.buffer = audio;
  node.connect(ctx.destination);
  playAt = Math.max(playAt, ctx.currentTime + 0.05);
  node.start(playAt);
  playAt += audio.duration;
}

function stopAudio() {
  if (proc) proc.disconnect();
  if (source) source.disconnect();
  if (stream) stream.getTracks().forEach((t) => t.stop());
  proc = source = stream = null;
}

async function call() {
  $("#call").disabled = true;
  setStatus("connecting");
  ctx = new AudioContext({sampleRate: RATE});
  stream = await navigator.mediaDevices.getUserMedia(
    {audio: {echoCancellation: true, noiseSuppression: true, channelCount: 1}});
  source = ctx.createMediaStreamSource(stream);
  proc = ctx.createScriptProcessor(1024, 1, 1);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  ws = new WebSocket(`${scheme}://${location.host}/phone/ws`);
  ws.binaryType = "arraybuffer";
  ws.onmessage = (e) => {
    if (typeof e.data === "string") {
      const msg = JSON.parse(e.data);
      if (msg.event === "start") {
        $("#call-sid").textContent = msg.call_sid;
        document.body.dataset.callSid = msg.call_sid;
        const link = $("#call-link");
        link.href = "/console#/call/" + msg.call_sid; link.hidden = false;
        setStatus("in call");
      }
    } else {
      play(e.data);
    }
  };
  ws.onclose = (e) => {
    stopAudio(); setStatus("ended"); $("#hangup").disabled = true; $("#call").disabled = false;
    if (e.reason) $("#status").textContent = "ended: " + e.reason;  // "all lines busy", ...
  };
  proc.onaudioprocess = (e) => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(toPcm16(e.inputBuffer.getChannelData(0)));
  };
  source.connect(proc);
  proc.connect(ctx.destination);  // a ScriptProcessor only runs while connected; it outputs silence
  $("#hangup").disabled = false;
}

function hangup() {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({event: "hangup"}));
}

for (const key of "123456789*0#") {
  const b = document.createElement("button");
  b.textContent = key;
  b.addEventListener("click", () => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({event: "dtmf", digit: key}));
  });
  $("#keypad").appendChild(b);
}
$("#call").addEventListener("click", () => call().catch((e) => {
  setStatus("error: " + e); document.body.dataset.error = String(e); }));
$("#hangup").addEventListener("click", hangup);
