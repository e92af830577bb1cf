"""The dialog engine: a pure, deterministic slot-filling state machine driven by YAML specs."""
