"""Small text formatting shared by progress lines and commands."""

from __future__ import annotations


def hms(seconds: float) -> str:
    """``H:MM:SS`` of a number of seconds."""
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
