"""Fallback drafts per intent: used when the LLM is down, the breaker is open, the
output fails the guardrails, or degradation sends a low-priority intent to a template.

>>> fallback_text("track_order").startswith("Thanks for reaching out")
True
>>> fallback_text("no_such_intent") == fallback_text("other")
True
"""

from __future__ import annotations

from typing import Final

TEMPLATE_VERSION: Final = "templates-v1"
_OPEN: Final = "Thanks for reaching out. "
_CLOSE: Final = " Let me know if there is anything else I can help with."

TEMPLATES: Final[dict[str, str]] = {
    "cancel_order": "I can help you cancel your order. Please confirm the order you want to "
    "cancel and I will take care of it, or tell me if you would rather change it instead.",
    "change_order": "I can help you change your order. Please tell me which items you would "
    "like to add, remove or replace and I will update it if it has not shipped yet.",
    "place_order": "I would be glad to help you place an order. Tell me which products you "
    "are interested in and I will guide you through checkout.",
    "track_order": "I will check the status of your order. You can also follow it from the "
    "orders section of your account; I will update you as soon as I have news.",
    "delivery_period": "I will check the expected delivery date of your order and get back "
    "to you with an estimate.",
    "delivery_options": "I can walk you through the delivery options available for your "
    "address. Let me know where the order should be delivered.",
    "change_shipping_address": "I can help you update the shipping address. Please confirm "
    "the new address and the order it applies to.",
    "set_up_shipping_address": "I can help you add a shipping address to your account. You "
    "can add it in your account settings, or send it to me and I will guide you.",
    "get_refund": "I am sorry for the trouble. I will look into a refund for you; please "
    "confirm the order it concerns.",
    "track_refund": "I will check the status of your refund and let you know where it stands.",
    "check_refund_policy": "I can explain our refund policy. Let me know which order you have "
    "in mind and I will tell you what applies.",
    "check_cancellation_fee": "I will check whether a cancellation fee applies to your "
    "account and get back to you.",
    "get_invoice": "I will get your invoice for you. Please confirm the order it is for.",
    "check_invoice": "I can help you check your invoice. Let me know which one and what you "
    "would like to verify.",
    "payment_issue": "I am sorry your payment did not go through as expected. I will look "
    "into it; please tell me what you saw when you paid.",
    "check_payment_methods": "I can tell you which payment methods we accept. Is there one "
    "you would like to use?",
    "create_account": "I can help you create an account. Let me know if anything gets in the "
    "way while you sign up.",
    "edit_account": "I can help you update your account details. Tell me what you would like "
    "to change.",
    "switch_account": "I can help you switch accounts or plans. Tell me which one you would "
    "like to use.",
    "delete_account": "I can help you close your account. Before I do, may I ask what led "
    "to this, in case there is something I can fix?",
    "recover_password": "I can help you get back into your account. Use the 'forgot "
    "password' link on the sign-in page, and tell me if the reset e-mail does not arrive.",
    "registration_problems": "I am sorry signing up is giving you trouble. Please tell me "
    "what happens when you try and I will help you through it.",
    "newsletter_subscription": "I can update your newsletter subscription. Would you like to "
    "subscribe or unsubscribe?",
    "contact_human_agent": "I will connect you with a member of our team. Please stay in "
    "this conversation and someone will be with you shortly.",
    "contact_customer_service": "Our support team is here to help in this conversation. "
    "Tell me what you need and I will take care of it.",
    "complaint": "I am truly sorry about your experience. I want to make this right; please "
    "tell me what happened and I will look into it personally.",
    "review": "Thank you for taking the time to share your feedback; it helps us improve.",
    "engagement": "I wanted to check in and see how things are going. If anything is not "
    "working as it should, reply here and I will help right away.",
    "other": "I will look into this for you and get back to you shortly.",
}


def fallback_text(intent: str | None) -> str:
    """The template reply for ``intent`` (the generic one when unknown)."""
    body = TEMPLATES.get(intent or "other", TEMPLATES["other"])
    if intent in ("review", "engagement"):
        return body
    return f"{_OPEN}{body}{_CLOSE}"
