"""A keyword intent detector: the labels of the Bitext customer-support dataset.

It runs on every inbound message, synchronously and in microseconds, so the
reply-request rule can use it (the learned intent model scores later, downstream).
``acknowledgement`` (thanks, ok, bye: nothing to answer) is the one label added.

>>> detect("I want to cancel my order 123")
'cancel_order'
>>> detect("thanks a lot!"), detect("thanks, but where is my refund?")
('acknowledgement', 'track_refund')
>>> detect("hmm")
'other'
"""

from __future__ import annotations

import re
from typing import Final

ACKNOWLEDGEMENT: Final = "acknowledgement"
OTHER: Final = "other"

_ACK: Final = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|thanks?|thank you|thx|ty|cheers|great|perfect|got it|cool|"
    r"awesome|bye|goodbye|fine|sure|noted|all good|that'?s all|no worries|"
    r"that helps?|much appreciated|appreciate it)\W*(?:a lot|so much|very much|again)?"
    r"\W*(?:bye|goodbye|have a (?:nice|good) day)?\W*)+$",
    re.IGNORECASE,
)

# first match wins: the more specific phrases come first
_RULES: Final[tuple[tuple[str, str], ...]] = (
    ("check_cancellation_fee", r"(cancell?ation|termination|exit|withdrawal) (fee|charge|penalt)"),
    (
        "check_refund_policy",
        r"refund polic|money.?back guarant|(cases|situations).{0,30}(refund|reimburs)",
    ),
    (
        "track_refund",
        r"(track|status|where|when|expect|waiting).{0,30}(refund|reimburs|restitution)",
    ),
    ("get_refund", r"refund|reimburs|money back|restitution|compensation|rebat"),
    ("cancel_order", r"cancel.{0,25}(order|purchase)|(order|purchase).{0,20}cancel"),
    ("check_invoice", r"(check|see|view|find|locate).{0,25}(invoice|bill)"),
    ("get_invoice", r"invoice|receipt|\bbill\b"),
    (
        "payment_issue",
        r"(payment|card|charge|pay).{0,30}(fail|declin|problem|issue|error|twice|wrong)"
        r"|(problem|issue|error|trouble)s?.{0,30}(payment|paying)|charged twice",
    ),
    (
        "check_payment_methods",
        r"payment (method|option|modalit)|pay (with|by|via)|accept.{0,20}(card|paypal)",
    ),
    (
        "delivery_options",
        r"(delivery|shipping|shipment) (option|method|type)|(express|standard) (deliv|ship)"
        r"|order from [A-Z]",
    ),
    (
        "delivery_period",
        r"(how (long|soon)|when).{0,40}(deliver|arriv|ship|parcel|package|order)"
        r"|delivery (time|period|date)|\beta\b",
    ),
    (
        "change_order",
        r"(change|modify|edit|update|add|remove|replace).{0,25}(order|purchase|item|article)",
    ),
    (
        "track_order",
        r"(track|status|where|locate|eta).{0,25}(order|package|parcel|purchase)"
        r"|(order|purchase).{0,30}(status|eta)",
    ),
    (
        "change_shipping_address",
        r"(change|update|edit|correct|modify).{0,25}(shipping |delivery )?address",
    ),
    (
        "set_up_shipping_address",
        r"(set ?up|add|new|enter|submit).{0,25}(shipping|delivery)? ?address",
    ),
    (
        "recover_password",
        r"(forg[eo]t|reset|recover|lost|retrieve|restore).{0,30}(password|pass\b|pin|key)"
        r"|password.{0,15}reset",
    ),
    (
        "registration_problems",
        r"(sign ?up|regist).{0,30}(problem|issue|error|fail|can'?t|unable|trouble)",
    ),
    ("delete_account", r"(delete|close|remove|terminat|cancel|removal).{0,40}(account|profile)"),
    (
        "switch_account",
        r"(switch|change|use|using|upgrade|downgrade).{0,30}(account|plan|profile|user)",
    ),
    ("edit_account", r"(edit|update|modify|change).{0,25}(account|profile|details|personal)"),
    ("create_account", r"(create|open|make|new).{0,20}(account|profile)|sign ?up|regist"),
    ("newsletter_subscription", r"newsletter|unsubscri|subscri|mailing list"),
    (
        "contact_human_agent",
        r"human|real person|live agent|representative|operator|someone|somebody"
        r"|a person",
    ),
    (
        "contact_customer_service",
        r"customer (service|support|assistance)|contact (you|support)"
        r"|phone number|opening hours|call you",
    ),
    (
        "complaint",
        r"complain|claim|terrible|awful|unacceptable|disappoint|angry|worst|ridiculous"
        r"|unhappy|not happy|dissatisf",
    ),
    ("review", r"review|feedback|rate (you|your)|leave a comment|opinion"),
    (
        "place_order",
        r"(place|make|buy|purchase|order|acquire|get|earn).{0,25}(order|item|product|article)"
        r"|\bbuy\b|\bpurchase\b",
    ),
)
_COMPILED: Final = tuple((name, re.compile(p, re.IGNORECASE)) for name, p in _RULES)

INTENTS: Final = (*(name for name, _ in _RULES), ACKNOWLEDGEMENT, OTHER)
"""Every label :func:`detect` can return."""


def is_acknowledgement(text: str) -> bool:
    """Thanks, ok, bye and the like, without a question in it."""
    return "?" not in text and bool(_ACK.match(text.strip()))


def detect(text: str) -> str:
    """The intent of one customer message (one of :data:`INTENTS`)."""
    if is_acknowledgement(text):
        return ACKNOWLEDGEMENT
    for name, pattern in _COMPILED:
        if pattern.search(text):
            return name
    return OTHER
