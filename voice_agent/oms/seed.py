"""Load the demo orders of ``seed.yaml``, turning relative day offsets into dates."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from voice_agent.oms.models import Order

DEFAULT_SEED = Path(__file__).with_name("seed.yaml")


def _resolve(record: dict[str, Any], today: date) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key.endswith("_days_ago") and value is not None:
            out[key.removesuffix("_days_ago") + "_on"] = today - timedelta(days=int(value))
        elif key.endswith("_in_days") and value is not None:
            out[key.removesuffix("_in_days") + "_on"] = today + timedelta(days=int(value))
        elif isinstance(value, list):
            out[key] = [_resolve(v, today) if isinstance(v, dict) else v for v in value]
        else:
            out[key] = value
    return out


def load_seed(today: date, path: Path = DEFAULT_SEED) -> list[Order]:
    """Return the seed file's orders as of ``today``."""
    data = yaml.safe_load(path.read_text())
    return [Order.model_validate(_resolve(raw, today)) for raw in data["orders"]]
