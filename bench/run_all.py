"""``make bench``: every benchmark in turn, each writing ``bench/results/<name>.json``.

Run one alone with ``python -m bench.<name>`` (asr_accuracy, number_ceiling, letter_codes,
short_answers, latency, barge_in, end_of_turn, number_turns_at_once);
each has ``--help``. Benchmarks run on this machine's 2 cores: quote medians and ratios, not
single runs.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = [
    ["asr_accuracy"],
    # After asr_accuracy, whose order-number renderings it reads from the cache.
    ["number_ceiling"],
    ["letter_codes"],
    ["short_answers"],
    ["latency"],
    # The script's order number is read surely by the first decode alone; this one is not, so
    # its order-number turn shows the cost of the second decode under load.
    ["latency", "--order-reading", "hard", "--loads", "4 concurrent", "--name", "latency_hard"],
    # In unison, each call with its own return reason: its answers are not in the sentence
    # cache from another call's, as on a hotline.
    ["latency", "--loads", "4 concurrent", "--own-reasons", "--name", "latency_own_reasons"],
    # Callers on noisy lines (recorded noise under the whole call, 10 dB below their words).
    [
        "latency",
        *("--noise-db", "10", "--loads", "1 call", "--loads", "4 concurrent"),
        *("--name", "latency_noisy_10db"),
    ],
    # How many calls the box holds: 8 to 24 calls started 1.7 s apart (the default max_calls).
    [
        "latency",
        *("--staggered", "8", "--staggered", "12", "--staggered", "16", "--staggered", "24"),
        *("--name", "capacity"),
    ],
    # 24 calls offered to an agent with its defaults (8 calls on 2 cores, and none taken while
    # the box is behind): the rest hear it is busy.
    ["latency", "--staggered", "24", "--agent-limits", "--name", "capacity_default"],
    ["barge_in"],
    # Callers whose line sends the agent's voice back, 200 ms late: a leaky handset or hybrid
    # (30 dB down) and a speakerphone (15 dB down).
    ["barge_in", "--echo-db", "30", "--name", "barge_in_echo_30db"],
    ["barge_in", "--echo-db", "15", "--name", "barge_in_echo_15db"],
    # ... and a line 700 ms late, beyond AEC3's own reach (voice_agent/speech/echo_delay.py).
    [
        "barge_in",
        *("--echo-db", "15", "--echo-delay-ms", "700", "--name", "barge_in_echo_15db_700ms"),
    ],
    ["latency", "--echo-db", "15", "--loads", "1 call", "--name", "latency_echo_15db"],
    ["end_of_turn"],
    ["number_turns_at_once"],
    ["echo_cost"],
]


def main() -> int:
    failed = []
    for name, *args in BENCHMARKS:
        print(f"\n=== bench.{name} {' '.join(args)} ===", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}", *args]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
