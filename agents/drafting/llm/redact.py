"""PII placeholders: replace before any text leaves the process, restore in the draft.

Detected, in this order (an earlier kind wins an overlap): e-mail addresses, the
configured identifiers (``{LABEL: regex}``; group 1, when the regex has one, is the
part replaced), IBANs (ISO 13616, mod-97 checked), national ids (US SSNs, UK National
Insurance numbers), payment card numbers (13-19 digits passing the Luhn check), phone
numbers (Google's libphonenumber through ``phonenumbers``; international numbers in
any region, national ones in ``region``) and postal addresses (a house number and a
street with its suffix, optionally the unit, city, state and ZIP; UK postcodes).
The same value gets the same placeholder.

**Re-identification policy** (:meth:`Redacted.restore`): financial and national
identifiers (``WITHHELD``: cards, IBANs, national ids) are never put back into a
draft: their placeholder becomes a neutral phrase ("your card"). Contact details
(``CONTACTS``: e-mail, phone, address) are put back only when ``contacts`` allows it
(``RAPPORT_DRAFTING_RESTORE_CONTACTS``), else they become "your e-mail address"...
The configured identifiers (order numbers) are put back.

>>> r = Redactor(identifiers={"ORDER": r"order #?(\\d{5,})"})
>>> red = r.redact("Mail me at ann@example.com or +1 415-555-0132 about order #123456")
>>> red.text
'Mail me at [EMAIL_1] or [PHONE_1] about order #[ORDER_1]'
>>> red.restore("We will write to [EMAIL_1] about [ORDER_1].", contacts=True)
'We will write to ann@example.com about 123456.'
>>> red.restore("We will write to [EMAIL_1] about [ORDER_1].")
'We will write to your e-mail address about 123456.'
>>> r.redact("card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00").text
'card [CARD_1], IBAN [IBAN_1]'
>>> r.redact("my SSN is 123-45-6789").restore("We never need [NATIONAL_ID_1].", contacts=True)
'We never need your ID number.'
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
IBAN: Final = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
SSN: Final = re.compile(r"\b(?!000|666|9\d\d)\d{3}[- ](?!00)\d{2}[- ](?!0000)\d{4}\b")
UK_NINO: Final = re.compile(
    r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
    r" ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"
)
PLACEHOLDER: Final = re.compile(r"\[([A-Z][A-Z0-9_]*)_(\d+)\]")
WITHHELD: Final = {
    "CARD": "your card",
    "IBAN": "your bank account",
    "NATIONAL_ID": "your ID number",
}
"""Never put back into a draft: the neutral phrase its placeholder becomes."""
CONTACTS: Final = {
    "EMAIL": "your e-mail address",
    "PHONE": "your phone number",
    "ADDRESS": "your address",
}
"""Put back only where the setting allows; else the neutral phrase."""

Span = tuple[int, int, str]


def iban_ok(text: str) -> bool:
    """The ISO 13616 mod-97 check of an IBAN (spaces ignored).

    >>> iban_ok("DE89 3704 0044 0532 0130 00"), iban_ok("DE88 3704 0044 0532 0130 00")
    (True, False)
    """
    compact = text.replace(" ", "").upper()
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


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

    def restore(self, draft: str, *, contacts: bool = False) -> str:
        """The draft with its placeholders replaced under the re-identification policy
        (module docstring); unknown placeholders are dropped."""

        def back(match: re.Match[str]) -> str:
            value = self.values.get(match.group(0))
            if value is None:
                return ""
            kind = match.group(1)
            if kind in WITHHELD:
                return WITHHELD[kind]
            if kind in CONTACTS and not contacts:
                return CONTACTS[kind]
            return value

        return PLACEHOLDER.sub(back, draft)

    def original(self, text: str) -> str:
        """``text`` with every known placeholder put back (the guardrails' context: it
        never leaves the process)."""
        return PLACEHOLDER.sub(lambda m: self.values.get(m.group(0), m.group(0)), text)

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
        found += [(m.start(), m.end(), "IBAN") for m in IBAN.finditer(text) if iban_ok(m.group(0))]
        for rx in (SSN, UK_NINO):
            found += [(m.start(), m.end(), "NATIONAL_ID") for m in rx.finditer(text)]
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
