"""One settings object for the whole agent, read from ``VOICE_AGENT_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Agent configuration. Every field can be set as ``VOICE_AGENT_<FIELD NAME>``."""

    model_config = SettingsConfigDict(env_prefix="VOICE_AGENT_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(
        default=None,
        description="Public base URL (e.g. https://abc.ngrok.app) used in TwiML and signatures.",
    )
    data_dir: Path = Field(default=Path("var"), description="Where SQLite files and recordings go.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL for call records and the outbox (default SQLite)."
    )
    oms_url: str | None = Field(
        default=None, description="Base URL of the OMS REST API (default: the embedded OMS)."
    )
    embedded_oms: bool = Field(default=True, description="Serve the embedded demo OMS at /oms.")
    oms_seed_file: Path | None = None
    oms_timeout_s: float = 3.0

    dialog_file: Path = PROJECT_ROOT / "dialogs" / "returns.yaml"

    asr_model: Literal["tiny.en", "base"] = "tiny.en"
    asr_number_check_model: Literal["tiny.en", "base", "off"] = Field(
        default="base",
        description="Second model asked on the order-number turn when the first model is not "
        "sure of the number (bench: order numbers 85.4 -> 95.8% clean, held-out "
        "85.4 -> 93.8%; costs ~160-230 MB RAM and ~1 s at start-up; 'off' or the asr_model "
        "itself disables it).",
    )
    asr_cpu_threads: int = Field(
        default=1,
        description="Threads per Whisper decode (0: CTranslate2's default, all cores). With 1, "
        "the asr_workers decodes run side by side without OpenMP's hand-offs (bench: 4 "
        "concurrent order-number turns finish 10% sooner, p90 17%; one turn no slower).",
    )
    asr_workers: int = Field(
        default=2, description="Whisper decodes that may run at once (bench: 2 helps 4 calls)."
    )
    asr_beam_size: int = 1
    asr_window_s: float | None = Field(
        default=20.0,
        description="Whisper encoder window in seconds (30 = stock Whisper; bench: 20 s "
        "decodes ~40% faster at the same accuracy).",
    )
    asr_number_check_window_s: float | None = Field(
        default=10.0,
        description="Encoder window of the order-number check in seconds (None: asr_window_s). "
        "Bench: 10 s costs the check ~35% less than 20 s and four unsure number turns at once "
        "finish 21% sooner (bench.number_turns_at_once), at the same capture (720 readings: "
        "654 / 655 numbers clean / 10 dB against 656 / 655).",
    )
    vad: Literal["silero", "webrtc"] = Field(
        default="silero", description="Turn VAD (bench: Silero, no false starts on noise)."
    )
    echo_cancellation: bool = Field(
        default=True,
        description="Take the agent's own voice out of the caller's audio (WebRTC AEC3, "
        "voice_agent.speech.echo) before the VAD: a speakerphone or a leaky line sends the "
        "prompt back, and Silero takes it for the caller barging in.",
    )
    noise_reduction: bool = Field(
        default=False,
        description="Run the caller's audio through a mild stationary noise gate before the "
        "VAD (voice_agent.speech.noise, 32 ms of delay). Off: on callers on noisy lines "
        "(bench.latency --noise-db 10) it made turns slower (1 call p50 363 against 319 ms) "
        "and the agent heard fewer of them word for word (49 of 64 against 55), at 9.7 "
        "against 7.7 CPU-s per call-minute; offline (bench.asr_accuracy) it moves tiny.en's "
        "WER on the 151 words of real speech by a few words either way (telephone band "
        "4.0 -> 2.6%, 10 dB 9.3 -> 9.9%, 5 dB 9.3 -> 6.6%).",
    )
    vad_stop_secs: float = 0.5
    vad_start_secs: float = 0.2
    vad_min_volume: float = Field(
        default=0.4,
        ge=0.0,
        le=1.0,
        description="The turn VAD's volume gate (pipecat's min_volume, loudness over the last "
        "0.4 s, 0-1). Pipecat's 0.6 builds up too late for a one-word answer: the turn VAD "
        "started on 456 of 720 'Yes.', 'No.', ... (bench.short_answers), 0.4 on all 720; "
        "noise alone started none either way. 0.3 heard all 720 too.",
    )
    pause_vad: Literal["silero", "webrtc"] = Field(
        default="silero",
        description="What counts the caller's pauses for speculate_after_s and "
        "early_finish_after_s: the Silero turn VAD's scores, or WebRTC VAD (mode 2), which "
        "hears a noisy line's noise as speech and so no pause on it (bench.latency --noise-db "
        "10, 1 call: p50 574 ms with webrtc, 333 ms with silero).",
    )
    pause_speech_confidence: float = Field(
        default=0.7,
        description="With pause_vad silero: the confidence from which a Silero window is "
        "speech in the pause count; the turn VAD's own (see speech.pauses).",
    )
    speculate_after_s: float = Field(
        default=0.1,
        description="Non-speech (pause_vad) after the caller's words at which their turn so far "
        "is transcribed, before the turn VAD ends it; discarded if they go on.",
    )
    speculate_busy_after_s: float = Field(
        default=0.2,
        description="speculate_after_s while the Whisper model is decoding other turns: a "
        "pause inside a turn that short is mostly a comma the caller goes on after, and a "
        "decode they talk over still runs to its end (bench.latency, AMD EPYC box, 4 calls in "
        "unison, back-to-back pairs of runs: p95 1621 / 1503 ms against 2607 / 2528 at 0.1; "
        "1 call p50 481 against 477 ms; 0.2 while idle too cost one call 77 ms). Equal to "
        "speculate_after_s: the same pause either way.",
    )
    early_finish_after_s: float = Field(
        default=0.4,
        description="Non-speech (pause_vad) after the caller's words before a transcript that "
        "reads as a finished answer may end the turn ahead of the turn VAD (bench.end_of_turn: "
        "at 0.3 s, commas of a slow voice were cut).",
    )
    end_of_turn_model: Literal["off", "smart_turn"] = Field(
        default="smart_turn",
        description="Audio model that may veto ending a turn early on its transcript (pipecat's "
        "bundled smart-turn v3, onnxruntime; ~50 ms of one core per turn that would end early).",
    )
    smart_turn_incomplete_below: float = Field(
        default=0.05,
        description="smart-turn probability of a finished turn under which the turn is held "
        "open for the VAD although its transcript reads as finished.",
    )

    silence_reprompt_s: float = 7.0
    unheard_after_speech_s: float = Field(
        default=1.0,
        description="A caller turn with at least this much speech (by the VAD) in which no "
        "words were recognised is answered at once with 'Sorry, I didn't catch that' and the "
        "question again, instead of the silence reprompt after silence_reprompt_s; shorter "
        "ones (a cough, a knock) are let go. Set it above any turn's length to turn this off.",
    )
    hold_on_after_s: float = Field(
        default=0.8,
        description="An OMS request (order look-up, work order) that has not answered after "
        "this long gets the dialog's 'hold_on' prompt ('One moment.') so the caller "
        "does not sit in silence; a turn whose order number a second model reads again gets "
        "it (or the dialog's shorter 'number_check' prompt, 'Okay.', if it has one) at once. "
        "A dialog without either prompt says nothing.",
    )
    record_calls: bool = Field(
        default=True, description="Record live calls: stereo WAV + events in data_dir/recordings."
    )
    barge_in_min_speech_s: float = Field(
        default=0.35,
        description="Caller speech over a prompt, counted from its onset (Silero), that makes "
        "a barge-in; an 'uh-huh' (bench: up to 0.32 s), a cough or noise does not.",
    )
    barge_in_pause_s: float = Field(
        default=0.15,
        description="Caller speech that pauses the prompt until it is known whether it is a "
        "barge-in (>= barge_in_min_speech_s: no pause, the prompt stops only then). 0.18 before "
        "the echo canceller, which holds back a window of some barge-ins (bench.barge_in, no "
        "echo: p50 / p95 243 / 303 ms at 0.18, 221 / 260 at 0.15; no new false pauses).",
    )
    barge_in_resume_after_s: float = Field(
        default=0.5,
        description="Silence after a paused prompt's caller speech, short of a barge-in and "
        "with no turn the turn VAD started (a noise), after which the prompt goes on from the "
        "word the caller began to talk over. A turn's words settle its pause when they come: an "
        "'uh-huh' lets the prompt go on, an answer ('No.') is the caller's turn.",
    )
    turn_hold_s: float = Field(
        default=1.2,
        description="How long to wait for the rest of an order number a caller paused in.",
    )

    max_calls: int | None = Field(
        default=None,
        ge=1,
        description="Calls taken at once over every channel; more go to transfer_target or hear "
        "that the lines are busy (Twilio), or get 486 Busy Here (SIP). Unset: 4 per CPU core, "
        "10 at most (one process's event loop). On the 2-core Intel Xeon box, calls started "
        "1.7 s apart were answered p50 / p95 536 / 745 ms after the caller stopped with 8 "
        "calls, 1.4 / 1.8 s with 12 (python -m bench.latency --staggered N).",
    )
    slow_answer_s: float = Field(
        default=1.0,
        ge=0,
        description="While the agent's answers of the last 20 s (3 or more) come later than "
        "this after the caller's last word, at the median, or the calls' audio waits 0.2 s or "
        "more in the agent, no call is taken beyond one per CPU core: the box is not keeping "
        "up, whatever max_calls says. 0 turns it off.",
    )

    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_api_base_url: str | None = None
    transfer_target: str | None = Field(
        default=None, description="Phone number or SIP URI a handoff dials."
    )

    sip_enabled: bool = True
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    sip_public_host: str | None = Field(
        default=None, description="Address put in SDP/Contact when behind NAT."
    )
    sip_rtp_port: int = Field(default=40000, description="First RTP port of the range.")
    sip_allow_from: str = Field(
        default="", description="Comma-separated CIDRs of the trunk/PBX; empty: any source."
    )
    sip_auth_user: str | None = None
    sip_auth_password: str | None = None
    sip_realm: str = "voice-agent"
    sip_register_uri: str | None = None
    sip_register_user: str | None = None
    sip_register_password: str | None = None
    sip_register_expires: int = 300
    sip_ring_s: float = 0.0
    sip_max_calls: int = 30

    speech_dir: Path = PROJECT_ROOT.parent / "shared" / "speech"

    @property
    def number_check_window_s(self) -> float | None:
        """The number check's encoder window: its own setting, else the ASR's."""
        return self.asr_number_check_window_s or self.asr_window_s

    def sqlite_path(self, name: str) -> Path:
        """A SQLite file under ``data_dir``, creating the folder if needed."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir / name
