"""PII placeholders: replace before any text leaves the process, restore in the draft.

Detected, in this order (an earlier kind wins an overlap): e-mail addresses, the
configured identifiers (``{LABEL: regex}``; group 1, when the regex has one, is the
part replaced), payment card numbers (13-19 digits passing the Luhn check), phone
numbers (Google's libphonenumber through ``phonenumbers``; international numbers in
any region, national ones in ``region``) and postal addresses (a house number and a
street with its suffix, optionally the unit, city, state and ZIP; UK postcodes).
The same value gets the same placeholder. Card numbers are restored masked.

>>> r = Redactor(identifiers={"ORDER": r"order #?(\\d{5,})"})
>>> red = r.redact("Mail me at ann@example.com or +1 415-555-0132 about order #123456")
>>> red.text
'Mail me at [EMAIL_1] or [PHONE_1] about order #[ORDER_1]'
>>> red.restore("We will write to [EMAIL_1] about [ORDER_1].")
'We will write to ann@example.com about 123456.'
>>> r.redact("card 4111 1111 1111 1111").restore("the card [CARD_1]")
'the card **** 1111'
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import phonenumbers

# bounded parts, no start inside a run: linear on hostile text (an unbounded local part
# rescans a long run from every position)
EMAIL: Final = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}"
    r"(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,63}"
)
CARD: Final = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_SUFFIX: Final = (
    r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|"
    r"terrace|ter|circle|cir|highway|hwy|parkway|pkwy|square|sq|close|crescent|row|trail)\.?"
)
ADDRESS: Final = re.compile(
    r"\b\d{1,6}[A-Za-z]?\s+(?:[A-Z][A-Za-z'\-]*\.?\s+){1,4}" + _SUFFIX + r"\b"
    r"(?:,?\s*(?:apt|apartment|unit|suite|ste|#)\.?\s*[A-Za-z0-9\-]+)?"
    r"(?:,?\s*[A-Z][A-Za-z .'\-]{1,30}?,\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?)?",
    re.IGNORECASE,
)
ADDRESS_TAIL: Final = re.compile(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)?,\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?\b")
UK_POSTCODE: Final = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b")
PLACEHOLDER: Final = re.compile(r"\[([A-Z][A-Z0-9_]*)_(\d+)\]")

Span = tuple[int, int, str]


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a card number.

    >>> luhn_ok("4111111111111111"), luhn_ok("4111111111111112")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@dataclass
class Redacted:
    """Redacted text and the placeholders that map back to the originals."""

    text: str
    values: dict[str, str] = field(default_factory=dict)

    @property
    def kinds(self) -> list[str]:
        return sorted({PLACEHOLDER.sub(r"\1", p) for p in self.values})

    def restore(self, draft: str) -> str:
        """Put the originals back where the draft kept a placeholder; drop unknown ones."""

        def back(match: re.Match[str]) -> str:
            value = self.values.get(match.group(0))
            if value is None:
                return ""
            if match.group(1) == "CARD":
                return "**** " + re.sub(r"\D", "", value)[-4:]
            return value

        return PLACEHOLDER.sub(back, draft)

    def unknown_placeholders(self, draft: str) -> list[str]:
        return [m.group(0) for m in PLACEHOLDER.finditer(draft) if m.group(0) not in self.values]


class Redactor:
    """Finds PII spans and replaces them with ``[KIND_n]`` placeholders."""

    def __init__(self, identifiers: Mapping[str, str] | None = None, region: str = "US") -> None:
        self.identifiers = [
            (label.upper(), re.compile(rx)) for label, rx in (identifiers or {}).items()
        ]
        self.region = region

    def spans(self, text: str) -> list[Span]:
        found: list[Span] = [(m.start(), m.end(), "EMAIL") for m in EMAIL.finditer(text)]
        for label, rx in self.identifiers:
            for m in rx.finditer(text):
                group = 1 if rx.groups else 0
                found.append((m.start(group), m.end(group), label))
        found += [
            (m.start(), m.end(), "CARD")
            for m in CARD.finditer(text)
            if luhn_ok(re.sub(r"\D", "", m.group(0)))
        ]
        leniency = phonenumbers.Leniency.POSSIBLE
        found += [
            (m.start, m.end, "PHONE")
            for m in phonenumbers.PhoneNumberMatcher(text, self.region, leniency=leniency)
        ]
        for rx in (ADDRESS, ADDRESS_TAIL, UK_POSTCODE):
            found += [(m.start(), m.end(), "ADDRESS") for m in rx.finditer(text)]
        return _first_wins(found)

    def redact(self, text: str, into: Redacted | None = None) -> Redacted:
        """``text`` with placeholders; pass ``into`` to share numbering across texts."""
        out = into if into is not None else Redacted("")
        by_value = {(PLACEHOLDER.sub(r"\1", k), v): k for k, v in out.values.items()}
        counts = Counter(kind for kind, _ in by_value)
        pieces, last = [], 0
        for start, end, kind in self.spans(text):
            value = text[start:end]
            placeholder = by_value.get((kind, value))
            if placeholder is None:
                counts[kind] += 1
                placeholder = f"[{kind}_{counts[kind]}]"
                out.values[placeholder] = value
                by_value[(kind, value)] = placeholder
            pieces += [text[last:start], placeholder]
            last = end
        pieces.append(text[last:])
        out.text = "".join(pieces)
        return out


def _first_wins(spans: list[Span]) -> list[Span]:
    """Drop spans overlapping an earlier-listed one; return them in text order.

    >>> _first_wins([(0, 5, "EMAIL"), (3, 8, "PHONE"), (5, 9, "CARD"), (2, 2, "X")])
    [(0, 5, 'EMAIL'), (5, 9, 'CARD')]
    """
    kept: list[Span] = []  # sorted, non-overlapping: bisect instead of a scan per span
    for span in spans:
        start, end = span[0], span[1]
        if start >= end:
            continue
        i = bisect.bisect_left(kept, (start,))
        if i > 0 and kept[i - 1][1] > start:
            continue
        if i < len(kept) and kept[i][0] < end:
            continue
        kept.insert(i, span)
    return kept
