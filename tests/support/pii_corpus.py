"""A seeded corpus of customer messages carrying PII, with the values planted in each.

Formats vary on purpose: e-mails with tags and sub-domains; US numbers in five
layouts and international ones (UK, DE, FR, IN) with a ``+``; Luhn-valid card
numbers (Visa, Mastercard, Amex) with spaces, dashes or none; US street addresses
with suffixes, units and "City, ST ZIP"; UK postcodes; order numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

FIRST = ("ann", "bob", "chen", "dana", "eli", "fatima", "gus", "hana", "ivan", "jo")
DOMAINS = ("example.com", "mail.example.org", "corp.example.co.uk", "example.net")
STREETS = ("Maple", "Oak Hill", "Sunset", "Main", "Elm", "Cedar Ridge", "Harbor", "King")
SUFFIXES = ("Street", "St.", "Avenue", "Ave", "Road", "Rd", "Boulevard", "Lane", "Drive", "Way")
CITIES = (("Springfield", "IL"), ("Austin", "TX"), ("Portland", "OR"), ("Denver", "CO"))
UK_POSTCODES = ("SW1A 1AA", "EC1A 1BB", "M1 1AE", "B33 8TH", "CR2 6XH")
INTL = (
    "+44 20 7946 0{0:03d}",
    "+49 30 901820{0:02d}",
    "+33 1 42 68 5{0:03d}",
    "+91 98765 4{0:04d}",
)
TEMPLATES = (
    "Hi, please send the invoice to {email}, thanks",
    "You can call me on {phone} after 5pm",
    "My card {card} was charged twice!",
    "Ship it to {address} instead please",
    "I moved, new address is {address}, phone {phone}",
    "order {order} never arrived, reach me at {email} or {phone}",
    "Refund to card {card}, my email is {email}",
    "Deliver to flat 3, {uk}, London",
)


@dataclass(frozen=True)
class Sample:
    text: str
    planted: dict[str, list[str]]


def _luhn_complete(prefix: str, length: int, rnd: Random) -> str:
    body = prefix + "".join(str(rnd.randrange(10)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def _card(rnd: Random) -> str:
    prefix, length = rnd.choice((("4", 16), ("51", 16), ("37", 15)))
    digits = _luhn_complete(prefix, length, rnd)
    sep = rnd.choice((" ", "-", ""))
    groups = (4, 6, 5) if length == 15 else (4, 4, 4, 4)
    parts, i = [], 0
    for g in groups:
        parts.append(digits[i : i + g])
        i += g
    return sep.join(parts)


def _phone(rnd: Random) -> str:
    n = rnd.randrange(100, 999)
    area = rnd.choice(("212", "415", "312", "617", "206"))
    exch = rnd.randrange(200, 999)
    us = (
        f"({area}) {exch}-{n:04d}",
        f"{area}-{exch}-{n:04d}",
        f"{area}.{exch}.{n:04d}",
        f"+1 {area} {exch} {n:04d}",
        f"1-{area}-{exch}-{n:04d}",
    )
    if rnd.random() < 0.3:
        return rnd.choice(INTL).format(rnd.randrange(10, 99))
    return rnd.choice(us)


def _address(rnd: Random) -> str:
    city, state = rnd.choice(CITIES)
    unit = rnd.choice(("", f", Apt {rnd.randrange(1, 40)}", f" Suite {rnd.randrange(100, 900)}"))
    street = f"{rnd.randrange(1, 9999)} {rnd.choice(STREETS)} {rnd.choice(SUFFIXES)}{unit}"
    return f"{street}, {city}, {state} {rnd.randrange(10000, 99999)}"


def corpus(n: int, seed: int = 7) -> list[Sample]:
    rnd = Random(seed)
    out = []
    for i in range(n):
        values = {
            "email": f"{rnd.choice(FIRST)}.{rnd.choice(FIRST)}+{i}@{rnd.choice(DOMAINS)}",
            "phone": _phone(rnd),
            "card": _card(rnd),
            "address": _address(rnd),
            "uk": rnd.choice(UK_POSTCODES),
            "order": str(rnd.randrange(10**9, 10**12)),
        }
        template = TEMPLATES[i % len(TEMPLATES)]
        planted = {k: [v] for k, v in values.items() if "{" + k + "}" in template}
        out.append(Sample(template.format(**values), planted))
    return out
