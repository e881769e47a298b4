"""Reply drafting: the OpenAI-compatible LLM server and the drafting policy."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

DraftingStyle = Literal["chat", "completion"]


class DraftingSettings(BaseModel):
    """The LLM client and every drafting knob (``llm_*``, ``drafting_*``)."""

    model_config = ConfigDict(frozen=True)

    # --- LLM
    llm_base_url: str = "http://127.0.0.1:8090/v1"
    llm_model: str = "gemma-3-270m"
    llm_api_key: SecretStr = SecretStr("sk-local-no-key")
    llm_timeout_s: float = Field(
        10.0, gt=0, description="Per call; below Faust's processing timeout"
    )
    llm_max_retries: int = Field(2, ge=0)

    # --- drafting
    drafting_enabled: bool = Field(
        True, description="Drafting: run the drafting agent (reply requests are emitted anyway)"
    )
    drafting_style: DraftingStyle = Field(
        "completion",
        description="Drafting: chat (instruction-tuned) or completion (few-shot, "
        "base models such as Gemma 3 270M)",
    )
    drafting_concurrency: int = Field(
        4, ge=1, le=256, description="Drafting: requests drafted at once per worker"
    )
    drafting_deadline_s: float = Field(
        45.0,
        gt=0,
        le=240,
        description="Drafting: budget of one request, all attempts and "
        "backoff included; below Faust's 300 s processing timeout",
    )
    drafting_backoff_s: float = Field(
        0.5,
        gt=0,
        description="Drafting: first retry delay, doubled per attempt (jittered); "
        "a longer Retry-After wins",
    )
    drafting_backoff_max_s: float = Field(8.0, gt=0, description="Drafting: longest retry delay")
    drafting_max_tokens: int = Field(120, ge=8, le=4096, description="Drafting: output tokens")
    drafting_temperature: float = Field(0.3, ge=0, le=2, description="Drafting: sampling")
    drafting_breaker_failures: int = Field(
        5, ge=1, description="Drafting: consecutive failed LLM attempts that open the breaker"
    )
    drafting_breaker_reset_s: float = Field(
        30.0, gt=0, description="Drafting: an open breaker lets one trial call through after this"
    )
    drafting_degrade_lag: int = Field(
        200,
        ge=1,
        description="Drafting: reply-request lag (messages, this worker) at which "
        "drafting switches to the cheap mode",
    )
    drafting_recover_lag: int = Field(
        20, ge=0, description="Drafting: lag at or below which the cheap mode ends"
    )
    drafting_cheap_max_tokens: int = Field(
        48, ge=8, description="Drafting: output tokens in the cheap mode"
    )
    drafting_low_priority_intents: list[str] = Field(
        [
            "review",
            "newsletter_subscription",
            "check_payment_methods",
            "delivery_options",
            "check_refund_policy",
            "create_account",
            "other",
        ],
        description="Drafting: intents answered from templates in the cheap mode (JSON list)",
    )
    drafting_turns: int = Field(
        6, ge=0, le=50, description="Drafting: last turns of a conversation kept for the prompt"
    )
    drafting_conversations: int = Field(
        5, ge=1, le=100, description="Drafting: conversations kept per customer for the prompt"
    )
    drafting_tone: str = Field(
        "Be friendly, concise and professional.", description="Drafting: tone guidance"
    )
    drafting_policy: list[str] = Field(
        [], description="Drafting: policy snippets added to every prompt (JSON list)"
    )
    drafting_allowed_domains: list[str] = Field(
        [], description="Drafting: link and e-mail domains a draft may contain (JSON list)"
    )
    drafting_allowed_phones: list[str] = Field(
        [], description="Drafting: phone numbers a draft may contain (JSON list)"
    )
    drafting_redact_identifiers: dict[str, str] = Field(
        {
            "ORDER": r"(?i)\b(?:order|purchase|invoice|bill|receipt|account|ticket|tracking"
            r"|reference|case)\s*(?:number|no\.?|id)?\s*[:#]?\s*"
            r"((?=[A-Z-]*\d)[A-Z0-9][A-Z0-9-]{3,})\b"
        },
        description="Drafting: extra identifiers redacted, {LABEL: regex} (group 1 if any)",
    )
    drafting_restore_contacts: bool = Field(
        False,
        description="Drafting: put the customer's own e-mail, phone and address back into "
        "drafts (cards, IBANs and national ids never are)",
    )
    drafting_phone_region: str = Field(
        "US", min_length=2, max_length=2, description="Drafting: region of national phone numbers"
    )
    drafting_claim_ttl_s: int = Field(
        7 * 86_400,
        ge=60,
        description="Drafting: how long a message id stays claimed and its "
        "draft and redacted prompt cached in Redis",
    )
    drafting_churn_threshold: float = Field(
        0.7,
        gt=0,
        le=1,
        description="Drafting: churn risk rising across this asks for an engagement draft",
    )
    drafting_engagement_cooldown_s: int = Field(
        7 * 86_400,
        ge=0,
        description="Drafting: at most one engagement draft per customer within this",
    )
    drafting_intent_min_confidence: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Drafting: the intent model's prediction steers the reply rule, the "
        "priority and the template when at least this confident; else the keyword rules",
    )
    drafting_learn_edits: bool = Field(
        True,
        description="Drafting: a reply a reviewer edited and sent becomes an example in the "
        "prompts of that customer's later drafts (kept only when neither the message nor "
        "the reply holds an identifier the redaction finds)",
    )
    drafting_webhook_url: str | None = Field(
        None,
        description="Drafting: POST every drafted reply here (JSON, signed with "
        "X-Rapport-Signature); unset: no webhook",
    )
    drafting_webhook_secret: SecretStr | None = Field(
        None, description="Drafting: the webhook's HMAC-SHA256 key (required with the URL)"
    )
    drafting_webhook_timeout_s: float = Field(
        5.0, gt=0, le=60, description="Drafting: one webhook call's timeout"
    )
    drafting_webhook_backoff_max_s: float = Field(
        10.0, gt=0, description="Drafting: longest wait between webhook retries"
    )
    drafting_webhook_give_up_s: float = Field(
        900.0,
        gt=0,
        description="Drafting: a draft the webhook could not deliver for this long is "
        "dead-lettered and the next one is tried",
    )
    drafting_cost_prompt_per_1k_usd: float = Field(
        0.0, ge=0, description="Drafting: price of 1,000 prompt tokens (cost estimate)"
    )
    drafting_cost_completion_per_1k_usd: float = Field(
        0.0, ge=0, description="Drafting: price of 1,000 completion tokens (cost estimate)"
    )

    @model_validator(mode="after")
    def _webhook_is_signed(self) -> DraftingSettings:
        if self.drafting_webhook_url and self.drafting_webhook_secret is None:
            msg = (
                "RAPPORT_DRAFTING_WEBHOOK_URL needs RAPPORT_DRAFTING_WEBHOOK_SECRET (its HMAC key)"
            )
            raise ValueError(msg)
        if self.drafting_webhook_url and not self.drafting_webhook_url.startswith(
            ("http://", "https://")
        ):
            raise ValueError("RAPPORT_DRAFTING_WEBHOOK_URL must be an http(s) URL")
        return self
