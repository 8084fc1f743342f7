"""Printable text for terminals and logs.

Scenario names, labels, file names and values come from files anyone can write. Printed raw, a name
holding an escape sequence could set the terminal's title, move the cursor, hide what follows or
ring the bell. Everything simlib prints to a terminal goes through :func:`printable` (one line) or
:func:`printable_lines` (a table): control characters, escape sequences and invisible direction
overrides are shown as visible escapes such as ``\\x1b`` instead.
"""

from __future__ import annotations

import re

# C0 and C1 controls (ESC, the 8-bit CSI and OSC, BEL, CR, ...), DEL, line and paragraph separators,
# and the bidirectional overrides that can make text read differently from what it holds. Without
# its introducing control character, the rest of an escape sequence is plain, harmless text.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def _visible(match: re.Match[str]) -> str:
    return "".join(f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}" for c in match.group())


def printable(text: object) -> str:
    """``text`` as one printable line: control characters (newlines and tabs included) shown as
    visible escapes, so ``ESC ] 0 ; title BEL`` prints as the plain characters ``\\x1b]0;title\\x07``."""
    return _UNPRINTABLE.sub(_visible, str(text))


def printable_lines(text: object) -> str:
    """Like :func:`printable`, line by line: the line breaks of a table are kept, nothing else."""
    return "\n".join(printable(line) for line in str(text).split("\n"))
