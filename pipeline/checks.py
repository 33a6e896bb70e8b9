"""The option checks every options dataclass uses: each failure is one PodscribeError line."""
from __future__ import annotations

import math
from typing import Sequence

from pipeline.errors import PodscribeError


def check_int(name: str, value, minimum: int) -> None:
    """A whole number (not a bool) at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise PodscribeError(f"{name} must be a whole number, not {value!r}")
    if value < minimum:
        raise PodscribeError(f"{name} must be at least {minimum}, not {value}")


def check_positive_int(name: str, value, alternative: str = "") -> None:
    """A whole number of at least 1; ``alternative`` names what else is allowed (``"or 'auto'"``)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        extra = f" {alternative}" if alternative else ""
        raise PodscribeError(f"{name} must be a positive whole number{extra}, not {value!r}")


def check_float(name: str, value, low: float, high: float, low_open: bool = False) -> None:
    """A number in [low, high] (or (low, high] with ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise PodscribeError(f"{name} must be a number, not {value!r}")
    if value < low or value > high or (low_open and value == low):
        bounds = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise PodscribeError(f"{name} must be in {bounds}, not {value:g}")


def check_bool(name: str, value, alternative: str = "") -> None:
    """True or False (not 0, 1 or a string); ``alternative`` names what else is allowed (``"or 'auto'"``)."""
    if not isinstance(value, bool):
        choices = f"True, False {alternative}" if alternative else "True or False"
        raise PodscribeError(f"{name} must be {choices}, not {value!r}")


def check_choice(name: str, value, choices: Sequence[str]) -> None:
    """One of ``choices``."""
    if value not in choices:
        raise PodscribeError(f"unknown {name} {value!r}: use {', '.join(map(str, choices))}")
