"""Values as they should sound: dates relative to today, money without symbols."""

from __future__ import annotations

from datetime import date

_ORD = {1: "st", 2: "nd", 3: "rd"}


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else _ORD.get(n % 10, "th")
    return f"{n}{suffix}"


def say_date(day: date | None, today: date) -> str:
    """Say a date: "today", "yesterday", "tomorrow", else "Monday, November 16th"."""
    if day is None:
        return ""
    delta = (day - today).days
    if delta == 0:
        return "today"
    if delta == -1:
        return "yesterday"
    if delta == 1:
        return "tomorrow"
    return f"{day:%A}, {day:%B} {ordinal(day.day)}"


def say_money(amount: float) -> str:
    """Say an amount: "199 dollars", "19 dollars 99"."""
    cents_total = round(amount * 100)
    dollars, cents = divmod(cents_total, 100)
    unit = "dollar" if dollars == 1 else "dollars"
    return f"{dollars} {unit}" + (f" {cents:02d}" if cents else "")
