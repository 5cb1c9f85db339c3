"""An iCalendar (RFC 5545) file of events, written by hand: a few properties are all we need.

Times are written in UTC (`...Z`), so no VTIMEZONE is needed; phones show them in their own
time zone. TEXT values are escaped (backslash, `;`, `,`, new lines) and every content line is
folded at 75 octets, never inside a UTF-8 character.
"""

import re
from datetime import datetime

CRLF = "\r\n"
MAX_OCTETS = 75
# Control characters are not allowed in TEXT values (tab is; new lines are escaped).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def escape_text(value: str) -> str:
    """A TEXT value: backslash, semicolon, comma and new lines escaped (RFC 5545, 3.3.11)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL.sub("", value)
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """Split a content line into lines of at most 75 octets, each next one after a space."""
    if len(line.encode()) <= MAX_OCTETS:
        return line
    parts, current, size, limit = [], [], 0, MAX_OCTETS
    for char in line:
        octets = len(char.encode())
        if size + octets > limit:
            parts.append("".join(current))
            # The space that starts a continuation line counts in its 75 octets.
            current, size, limit = [], 0, MAX_OCTETS - 1
        current.append(char)
        size += octets
    parts.append("".join(current))
    return (CRLF + " ").join(parts)


def utc_stamp(moment: datetime) -> str:
    """A naive UTC datetime as a UTC DATE-TIME: 20210918T080000Z."""
    return moment.strftime("%Y%m%dT%H%M%SZ")


def vevent(event, *, uid: str, stamp: datetime, summary: str, categories: str) -> list[str]:
    """The content lines of one event, unfolded."""
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{utc_stamp(stamp)}",
        f"DTSTART:{utc_stamp(event.starts_at)}",
    ]
    if event.ends_at is not None:
        lines.append(f"DTEND:{utc_stamp(event.ends_at)}")
    lines += [
        f"SUMMARY:{escape_text(summary)}",
        f"CATEGORIES:{escape_text(categories)}",
    ]
    if event.place:
        lines.append(f"LOCATION:{escape_text(event.place)}")
    if event.description:
        lines.append(f"DESCRIPTION:{escape_text(event.description)}")
    lines += [
        f"STATUS:{'CANCELLED' if event.cancelled_at else 'CONFIRMED'}",
        # Every change bumps the row's version: calendar apps take the higher SEQUENCE.
        f"SEQUENCE:{max(event.version - 1, 0)}",
        "END:VEVENT",
    ]
    return lines


def calendar(name: str, events: list[list[str]]) -> str:
    """A whole VCALENDAR of these VEVENTs, folded, with CRLF line ends."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Defi Famille//Calendrier//FR",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
        # Ask calendar apps to look again a few times a day.
        "REFRESH-INTERVAL;VALUE=DURATION:PT6H",
        "X-PUBLISHED-TTL:PT6H",
    ]
    for event_lines in events:
        lines += event_lines
    lines.append("END:VCALENDAR")
    return CRLF.join(fold(line) for line in lines) + CRLF
