"""The console's pages: plain server-rendered HTML. Every value shown passes through
:func:`e` (``html.escape``), so a message holding ``<script>`` renders as text; the pages
carry no inline script (the Content-Security-Policy allows only ``/console/app.js``).

>>> e('<script>alert("x")</script>')
'&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from streams.web.console.data import Customer360

SHOWN_FEATURES = (
    "events",
    "last_seen",
    "first_seen",
    "orders_30d",
    "order_amount_30d",
    "messages_inbound_7d",
    "open_tickets",
    "rating_mean_30d",
    "rfm_score",
    "cart_abandonment_rate",
)


def e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def page(title: str, body: str, *, csrf: str, ops: dict[str, Any], signed_in: bool) -> str:
    signout = (
        f'<form method="post" action="/console/logout" class="inline">'
        f'<input type="hidden" name="csrf" value="{e(csrf)}">'
        f'<button type="submit">Sign out</button></form>'
        if signed_in
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf" content="{e(csrf)}">
<title>{e(title)} · Rapport console</title>
<link rel="stylesheet" href="/console/app.css">
<script src="/console/app.js" defer></script>
</head><body>
<header><a href="/console" class="brand">Rapport</a>
<form method="get" action="/console/customers" class="inline">
<input name="id" placeholder="customer id" aria-label="customer id" required>
<button type="submit">Customer 360</button></form>{signout}</header>
{ops_strip(ops)}
<main>{body}</main>
</body></html>"""


def ops_strip(ops: dict[str, Any]) -> str:
    return (
        '<div id="ops" class="ops">'
        f'lag <b data-ops="lag_records">{e(ops["lag_records"])}</b> records, '
        f'<b data-ops="lag_seconds">{e(ops["lag_seconds"])}</b> s · '
        f'LLM breaker <b data-ops="breaker">{e(ops["breaker"])}</b> · '
        f'drafting <b data-ops="drafting">{e(ops["drafting"])}</b> '
        f'(<span data-ops="model">{e(ops["model"])}</span>)</div>'
    )


def origin(draft: dict[str, Any]) -> str:
    return "template fallback" if draft.get("fallback") else f"LLM draft ({draft.get('model')})"


def queue_item(draft: dict[str, Any]) -> str:
    flags = ", ".join(draft.get("flags") or []) or "none"
    conv = str(draft["conversation_id"])
    return (
        f'<li class="item" data-conversation="{e(conv)}">'
        f'<a href="/console/conversations/{e(conv)}">{e(conv)}</a> · '
        f'<a href="/console/customers/{e(draft["customer_id"])}">{e(draft["customer_id"])}</a>'
        f" · <time>{e(draft.get('created_at'))}</time>"
        f'<p class="message">{e(draft.get("message"))}</p>'
        f'<p class="draft">{e(draft.get("text"))}</p>'
        f'<p class="meta"><span class="origin">{e(origin(draft))}</span> · '
        f"flags: {e(flags)} · {e(draft.get('latency_ms'))} ms</p></li>"
    )


def queue(drafts: list[dict[str, Any]]) -> str:
    items = "".join(queue_item(d) for d in drafts)
    empty = "" if drafts else '<p id="empty">No conversation is waiting for a reply.</p>'
    return (
        "<h1>Waiting for a reply</h1>"
        '<p class="hint">Newest first; new drafts appear here as they are written.</p>'
        f'{empty}<ul id="queue" class="queue">{items}</ul>'
    )


def conversation(
    conversation_id: str,
    drafts: list[dict[str, Any]],
    thread: list[dict[str, Any]],
    csrf: str,
    sent: str | None,
) -> str:
    lines = "".join(
        f'<li class="{e(m.get("direction"))}"><time>{e(m.get("occurred_at"))}</time> '
        f"<b>{e(m.get('direction'))}</b> ({e(m.get('channel'))}): {e(m.get('text'))}</li>"
        for m in thread
    )
    thread_html = (
        f'<h2>Thread</h2><ul class="thread">{lines}</ul>'
        if thread
        else '<p class="hint">The thread is read from ClickHouse on the sink worker; each '
        "draft below shows the message it answers.</p>"
    )
    notice = f'<p class="notice" role="status">{e(sent)}</p>' if sent else ""
    cards = "".join(_draft_card(d, csrf) for d in reversed(drafts))
    customer = drafts[0]["customer_id"] if drafts else None
    link = (
        f'<p><a href="/console/customers/{e(customer)}">Customer 360 of {e(customer)}</a></p>'
        if customer
        else ""
    )
    empty = "" if drafts else "<p>No draft for this conversation (unknown, expired or erased).</p>"
    return (
        f"<h1>Conversation {e(conversation_id)}</h1>{notice}{link}{thread_html}"
        f"<h2>Drafts</h2>{empty}{cards}"
    )


def _draft_card(draft: dict[str, Any], csrf: str) -> str:
    did = str(draft["draft_id"])
    review = str(draft.get("review", "pending"))
    flags = ", ".join(draft.get("flags") or []) or "none"
    form = (
        f'<form method="post" action="/console/drafts/{e(did)}" class="verdict">'
        f'<input type="hidden" name="csrf" value="{e(csrf)}">'
        f'<label>Reply<textarea name="final_text" rows="5">{e(draft.get("text"))}</textarea>'
        "</label>"
        '<button name="verdict" value="accepted">Accept</button>'
        '<button name="verdict" value="edited">Edit and send</button>'
        '<button name="verdict" value="rejected">Reject</button></form>'
        if review == "pending"
        else f'<p class="review">Reviewed: <b>{e(review)}</b></p>'
    )
    return (
        f'<section class="card" data-draft="{e(did)}">'
        f'<p class="message"><b>Customer:</b> {e(draft.get("message"))}</p>'
        f'<p class="meta">{e(origin(draft))} · flags: {e(flags)} · '
        f"{e(draft.get('latency_ms'))} ms · intent {e(draft.get('intent'))} · "
        f"<time>{e(draft.get('created_at'))}</time></p>{form}</section>"
    )


def customer(found: Customer360) -> str:
    parts = [f"<h1>Customer {e(found.customer_id)}</h1>"]
    if found.erased_at is not None:
        at = datetime.fromtimestamp(found.erased_at, UTC).isoformat()
        parts.append(f'<p class="erased">Erased at {e(at)}: nothing is kept about them.</p>')
    parts.extend(f'<p class="hint">{e(note)}</p>' for note in found.notes)
    if found.features is None:
        parts.append("<p>No features: never seen, or erased.</p>")
    else:
        rows = "".join(
            f'<tr><th>{e(k)}</th><td data-feature="{e(k)}">{e(v)}</td></tr>'
            for k, v in sorted(found.features.items())
            if v is not None
        )
        top = "".join(
            f"<dt>{e(k)}</dt><dd>{e(found.features.get(k))}</dd>"
            for k in SHOWN_FEATURES
            if found.features.get(k) is not None
        )
        parts.append(
            f'<h2>Features <small>({e(found.features_source)})</small></h2><dl class="top">'
            f"{top}</dl><details><summary>All features</summary>"
            f'<table id="features">{rows}</table></details>'
        )
    if found.scores:
        rows = "".join(
            f'<tr data-model="{e(s["model"])}"><th>{e(s["model"])}</th>'
            f"<td>{e(s.get('prediction'))}</td><td>{e(_confidence(s.get('confidence')))}</td>"
            f"<td>{_explanation(s.get('explanation'))}</td><td>{e(s.get('at'))}</td></tr>"
            for s in found.scores
        )
        parts.append(
            "<h2>Latest scores</h2><table><tr><th>model</th><th>prediction</th>"
            f"<th>confidence</th><th>why</th><th>event time</th></tr>{rows}</table>"
        )
    if found.timeline:
        rows = "".join(
            f"<tr><td>{e(t.get('occurred_at'))}</td><td>{e(t.get('type'))}</td>"
            f"<td>{e(t.get('channel') or '')}</td><td>{e(_detail(t))}</td></tr>"
            for t in found.timeline
        )
        parts.append(f'<h2>Recent timeline</h2><table id="timeline">{rows}</table>')
    return "".join(parts)


def _confidence(value: Any) -> str:
    return "" if value is None else f"{float(value):.2f}"


def _explanation(value: Any) -> str:
    """An insight's explanation as short text: nested contributions as ``name +0.12``."""
    if not isinstance(value, dict) or not value:
        return ""
    parts = []
    for key, item in list(value.items())[:5]:
        shown = item
        if isinstance(item, dict):
            top = sorted(item.items(), key=lambda kv: -abs(_number(kv[1])))[:3]
            shown = ", ".join(f"{k} {_number(v):+.2f}" for k, v in top) or "none"
        elif isinstance(item, list):
            shown = ", ".join(str(x) for x in item[:5])
        parts.append(f"{key}: {shown}")
    return e("; ".join(parts))


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _detail(row: dict[str, Any]) -> str:
    if row.get("text"):
        return f"{row.get('direction', '')}: {row['text']}"
    if row.get("amount") is not None:
        return f"{row['amount']} {row.get('currency', '')}"
    if row.get("score") is not None:
        return f"score {row['score']}"
    return ""


def login(next_path: str, error: str | None) -> str:
    problem = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · Rapport console</title>
<link rel="stylesheet" href="/console/app.css">
<script src="/console/app.js" defer></script></head>
<body class="login"><main><h1>Rapport console</h1>{problem}
<form method="post" action="/console/login" id="login">
<input type="hidden" name="next" value="{e(next_path)}">
<label>Token <input type="password" name="token" autocomplete="off" required></label>
<button type="submit">Sign in</button></form>
<p class="hint">An agent's token: <code>rapport token --role agent</code>.</p>
</main></body></html>"""


def error(status: int, message: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{status}</title>'
        '<link rel="stylesheet" href="/console/app.css"></head>'
        f'<body><main><h1>{status}</h1><p class="error">{e(message)}</p>'
        '<p><a href="/console">Back to the queue</a></p></main></body></html>'
    )
