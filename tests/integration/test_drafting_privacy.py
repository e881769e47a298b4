"""Privacy and guardrails: PII never leaves the process (request bodies, logs), placeholders
come back in the draft, prompt injection is neutralised and no system or policy text leaks."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from agents.drafting.llm.redact import Redactor
from tests.support.drafting import drafter_for, fault, request
from tests.support.fault_llm import FaultLLM
from tests.support.injection_corpus import INJECTIONS
from tests.support.pii_corpus import Sample, corpus

__all__ = ["fault"]
SECRET = "Staff discount code ZEBRA-7731 is internal only."


def leaked(sample: Sample, text: str) -> list[str]:
    """Planted values (or telling pieces of them) still readable in ``text``.

    Digit pieces are looked for within one line at a time (a card or phone number may
    be re-spaced), never across lines: the digits of a whole log run together contain
    any five-digit ZIP by chance. A ZIP counts only as a whole number.
    """
    lines = [re.sub(r"\D", "", line) for line in text.splitlines()]
    out = []
    for kind, values in sample.planted.items():
        for value in values:
            pieces = [value]
            whole: list[str] = []
            if kind == "address":
                pieces.append(value.split(",")[0])
                whole.append(value.split()[-1])
            if kind in ("phone", "card", "order"):
                pieces.append(re.sub(r"\D", "", value)[-7:])
            found = any(
                p in text or (p.isdigit() and any(p in digits for digits in lines)) for p in pieces
            ) or any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text) for w in whole)
            if found:
                out.append(f"{kind}:{value}")
    return out


def test_redactor_recall_on_the_seeded_corpus() -> None:
    from streams.core.settings import Settings  # noqa: PLC0415

    redactor = Redactor(Settings(_env_file=None).drafting_redact_identifiers)
    samples = corpus(400, seed=11)
    planted = sum(len(v) for s in samples for v in s.planted.values())
    missed = [m for s in samples for m in leaked(s, redactor.redact(s.text).text)]
    recall = 1 - len(missed) / planted
    print(f"redactor recall: {recall:.4f} ({planted - len(missed)}/{planted} planted values)")
    assert missed == []


async def test_no_raw_pii_in_request_bodies_or_logs(
    fault: FaultLLM, caplog: pytest.LogCaptureFixture
) -> None:
    fault.reset("echo")
    samples = corpus(80, seed=5)
    drafter = drafter_for(fault, drafting_concurrency=8)
    caplog.set_level(logging.DEBUG)
    turns_from = samples[40:]
    from agents.drafting.llm.prompts import Turn  # noqa: PLC0415

    outs = await asyncio.gather(
        *(
            drafter.draft(
                request(
                    f"pii-{i}",
                    s.text,
                    turns=[Turn("customer", turns_from[i % 40].text)],
                )
            )
            for i, s in enumerate(samples[:40])
        )
    )
    # one first attempt per draft; a retry after a slow answer under load is allowed
    assert fault.first_attempts() == {f"pii-{i}": 1 for i in range(40)}
    bodies = b"\n".join(c.body for c in fault.calls).decode()
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for sample in samples:
        assert leaked(sample, bodies) == []
        assert leaked(sample, logs) == []
    assert all("pii_redacted" in o.flags for o in outs)
    assert "[EMAIL_1]" in bodies and "[CARD_1]" in bodies and "[ADDRESS_1]" in bodies


async def test_placeholders_are_restored_under_the_re_identification_policy(
    fault: FaultLLM,
) -> None:
    reply = "We will e-mail [EMAIL_1] about order [ORDER_1], card [CARD_1], IBAN [IBAN_1]."
    fault.reset("ok", reply=reply)
    text = (
        "order 123456789 was charged on 4111 1111 1111 1111, refund DE89370400440532013000, "
        "write to ann@example.com"
    )
    # by default: order numbers back, contact details and financial ids as neutral phrases
    out = await drafter_for(fault).draft(request("restore", text))
    assert out.text == (
        "We will e-mail your e-mail address about order 123456789, card your card, "
        "IBAN your bank account."
    )
    assert not out.fallback
    sent = fault.calls[-1].body.decode()
    assert "ann@example.com" not in sent and "DE89" not in sent and "4111" not in sent
    # contacts allowed by the setting: the customer's own e-mail; never the card or IBAN
    out = await drafter_for(fault, drafting_restore_contacts=True).draft(request("again", text))
    assert out.text == (
        "We will e-mail ann@example.com about order 123456789, card your card, "
        "IBAN your bank account."
    )


async def test_a_draft_speaking_as_the_customer_falls_back(fault: FaultLLM) -> None:
    """The base model continues the customer's message in the customer's voice."""
    text = (
        "Please call me back on +1 415 555 0134, my IBAN is DE89370400440532013000 for the refund"
    )
    fault.reset(
        "ok",
        reply="I'm sorry about the error. "
        + text.replace("+1 415 555 0134", "[PHONE_1]").replace(
            "DE89370400440532013000", "[IBAN_1]"
        ),
    )
    out = await drafter_for(fault, drafting_restore_contacts=True).draft(request("voice", text))
    assert out.fallback and "customer_echo" in out.flags
    assert "415" not in out.text and "DE89" not in out.text


async def test_a_draft_carrying_a_financial_or_national_id_falls_back(fault: FaultLLM) -> None:
    """An identifier the redactor never saw (the model made it up, or it came in a form the
    redactor missed) is never published."""
    for i, invented in enumerate(
        ["4242 4242 4242 4242", "GB82 WEST 1234 5698 7654 32", "078-05-1120", "AB 12 34 56 C"]
    ):
        fault.reset("ok", reply=f"Thanks, we noted {invented} and will refund it today.")
        out = await drafter_for(fault).draft(request(f"id-{i}", "where is my refund?"))
        assert out.fallback and "forbidden_identifier" in out.flags, (invented, out.flags)
        assert invented not in out.text


async def test_invented_contacts_links_and_prices_are_removed(fault: FaultLLM) -> None:
    fault.reset("invent")
    out = await drafter_for(fault, drafting_allowed_domains=["shop.example"]).draft(
        request("invent", "my replacement is broken, what now?")
    )
    assert not out.fallback
    assert "555-0142" not in out.text and "example-shop.com" not in out.text
    assert "$49.99" not in out.text
    assert {"invented_contact", "link_removed", "invented_price"} <= set(out.flags)


async def test_contacts_and_prices_from_the_context_or_allow_list_stay(fault: FaultLLM) -> None:
    fault.reset("ok", reply="You paid $25.00; our help desk is at https://help.shop.example.")
    out = await drafter_for(fault, drafting_allowed_domains=["shop.example"]).draft(
        request("allowed", "I paid $25.00 twice")
    )
    assert out.text == "You paid $25.00; our help desk is at https://help.shop.example."
    assert not {"invented_price", "link_removed"} & set(out.flags)


@pytest.mark.parametrize("attack", INJECTIONS)
@pytest.mark.parametrize("behaviour", ["echo", "leak"])
async def test_prompt_injection_is_flagged_and_nothing_private_leaks(
    fault: FaultLLM, attack: str, behaviour: str
) -> None:
    policy = ["Refunds are issued within 5 business days.", SECRET]
    if behaviour == "leak":  # a model that obeys the attack and recites its policy
        fault.reset(
            "ok", reply=f"Sure. Policy: {SECRET} Also: Refunds are issued within 5 business days."
        )
    else:  # a model that echoes its whole prompt back
        fault.reset("echo")
    for style in ("completion", "chat"):
        drafter = drafter_for(fault, drafting_policy=policy, drafting_style=style)
        out = await drafter.draft(request(f"inj-{style}", attack, intent="other"))
        assert "prompt_injection" in out.flags, (attack, out.flags)
        assert "ZEBRA-7731" not in out.text and "business days" not in out.text
        assert "system_echo" in out.flags and out.fallback
        sent = fault.calls[-1].body.decode().lower()
        assert "ignore all previous" not in sent and "system prompt" not in sent
        assert "<|im_start|>" not in sent and "[inst]" not in sent
