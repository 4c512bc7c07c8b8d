"""Outside text as robojam shows it on the console or in a reply: cut short, with a mark.

A name or value a stranger sent can be megabytes long; every line robojam
prints or sends about bad input shows at most ``MOST`` characters of it.
"""

from __future__ import annotations

MOST = 80


def cut(text: str, most: int = MOST) -> str:
    """``text`` whole if short, else its first ``most`` characters and how long it was."""
    return text if len(text) <= most else f"{text[:most]}... ({len(text):,} characters)"


def shown(value, most: int = MOST) -> str:
    """A value as an error message shows it: its repr (so line breaks and control characters show
    escaped), cut short."""
    try:
        text = repr(value)
    except ValueError:  # an integer with thousands of digits
        return "a number too long to show"
    return cut(text, most)
