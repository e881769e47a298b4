"""The PII policy for text stored in ClickHouse: mask contact and payment data.

Free text (messages, rating comments, drafts, agents' final replies, dead-letter
payloads) is stored with e-mail addresses, card numbers, IBANs and phone numbers
replaced by a tag, and with its original length kept. Names and addresses in prose
are not detected (no NER): an erasure request removes every row of the customer.
The Kafka topics keep the original bytes, under their retention.

>>> redact("Mail jo.doe+x@example.co.uk or call +44 20 7946 0958, card 4111 1111 1111 1111")
'Mail [email] or call [phone], card [card]'
>>> redact("x" * 1_000_000)[:3]  # hostile input: linear time
'xxx'
>>> redact("IBAN DE89 3704 0044 0532 0130 00, order 12345 of 2024-05-01")
'IBAN [iban], order 12345 of 2024-05-01'
"""

from __future__ import annotations

import re
from typing import Final

# bounded parts and no start inside a run: linear time on hostile text (an unbounded
# ``[\w.+-]+@`` rescans a long run of word characters from every position: quadratic)
_EMAIL: Final = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
_IBAN: Final = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_CARD: Final = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
_PHONE: Final = re.compile(
    r"(?<![\w.-])(?!\d{4}-\d{2}-\d{2}\b)(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?"
    r"\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?![\w-])"
)
PHONE_DIGITS: Final = (7, 15)
"""A phone candidate is masked when it holds this many digits (E.164 has at most 15)."""


def _phone(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group())
    low, high = PHONE_DIGITS
    return "[phone]" if low <= digits <= high else match.group()


def redact(text: str) -> str:
    """``text`` with e-mails, IBANs, card and phone numbers masked."""
    text = _EMAIL.sub("[email]", text)
    text = _IBAN.sub("[iban]", text)
    text = _CARD.sub("[card]", text)
    return _PHONE.sub(_phone, text)
