"""Stream checks for the label-free models, on the Telco customers.

None of these has a ground truth in the data, so each gets a task it can be checked on:

- segments: k-means over tenure and charges; the holdout figure is how far apart the
  segments' churn rates are (a segmentation that separates risk is a useful one),
  next to the overall churn rate;
- anomaly: 1 % of the stream is replaced, seeded, by implausible customers (monthly
  charges x5-x10); prequential ROC AUC of the score against the injected flag, and
  the alert rule's precision, recall and false-alert rate;
- recommendations: each customer's subscribed services (phone, internet type,
  security, streaming, ...) are the items, fed in a seeded order; before each item,
  is it in the top 3 (hit@3)? Compared with item popularity in the same run.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Final

from online_models.anomaly import AnomalyModel
from online_models.base import Features
from online_models.churn import TELCO_NUMERIC
from online_models.evaluate.data import TabularSplit
from online_models.evaluate.metrics import roc_auc
from online_models.evaluate.stream import STREAMED, Row, Streamed, prequential_pass
from online_models.reco import Recommender
from online_models.segments import SegmentModel

SERVICES: Final = (
    "PhoneService", "MultipleLines", "OnlineSecurity", "OnlineBackup", "DeviceProtection",
    "TechSupport", "StreamingTV", "StreamingMovies",
)  # fmt: skip
OUTLIER_SHARE: Final = 0.01
TOP_K: Final = 3
MIN_SEGMENT_SHARE: Final = 0.05


def _numeric(x: dict[str, str]) -> dict[str, str]:
    return {name: x.get(name, "") for name in TELCO_NUMERIC}


def segment_row(split: TabularSplit, seed: int) -> Row:
    """Churn-rate spread across the segments of the holdout customers."""
    model = SegmentModel(features=TELCO_NUMERIC, n_clusters=4, seed=seed)
    streamed = prequential_pass(model, [(_numeric(x), None) for x, _ in split.train])
    members: dict[int, list[bool]] = {}
    for x, churned in split.test:
        segment = model.predict_one(_numeric(x)).value
        members.setdefault(int(segment or 0), []).append(churned)
    big = {s: ys for s, ys in members.items() if len(ys) >= MIN_SEGMENT_SHARE * len(split.test)}
    rates = {f"segment {s}": round(sum(ys) / len(ys), 4) for s, ys in sorted(big.items())}
    spread = max(rates.values()) - min(rates.values()) if rates else 0.0
    overall = sum(y for _, y in split.test) / max(len(split.test), 1)
    holdout = {"churn_rate_spread": spread, "overall_churn_rate": overall}
    notes = streamed.notes | {"churn_rate_by_segment": rates}
    return Row("segment", "telco", STREAMED, {}, holdout, _total(streamed), len(split.train),
               len(split.test), notes)  # fmt: skip


def _outlier(rnd: random.Random) -> dict[str, str]:
    return {
        "tenure": str(rnd.randint(0, 72)),
        "MonthlyCharges": f"{rnd.uniform(20, 120) * rnd.choice((5, 10)):.2f}",
        "TotalCharges": f"{rnd.uniform(0, 9000):.2f}",
    }


def anomaly_row(split: TabularSplit, seed: int) -> Row:
    """Detection of injected implausible customers, prequentially."""
    rnd = random.Random(seed)
    model = AnomalyModel(features=TELCO_NUMERIC, seed=seed)
    flagged = [rnd.random() < OUTLIER_SHARE for _ in split.train]
    stream = [
        (_outlier(rnd) if injected else _numeric(x), None)
        for injected, (x, _) in zip(flagged, split.train, strict=True)
    ]
    streamed = prequential_pass(model, stream)
    outcomes = [
        (injected, float(found.value), bool(found.explanation["alert"]))
        for injected, found in zip(flagged, streamed.predictions, strict=True)
        if found.value is not None
    ]
    flags = [o[0] for o in outcomes]
    alerts = [o for o in outcomes if o[2]]
    caught = sum(1 for o in alerts if o[0])
    normal = max(sum(1 for f in flags if not f), 1)
    prequential = {
        "roc_auc": roc_auc(flags, [o[1] for o in outcomes]),
        "alert_precision": caught / len(alerts) if alerts else 0.0,
        "alert_recall": caught / max(sum(flags), 1),
        "false_alert_rate": (len(alerts) - caught) / normal,
    }
    notes = streamed.notes | {"outlier_share": OUTLIER_SHARE, "warm_up": model.window_size}
    return Row("anomaly", "telco+outliers", STREAMED, prequential, {}, _total(streamed),
               len(split.train), 0, notes)  # fmt: skip


def _items(x: dict[str, str], rnd: random.Random) -> list[str]:
    items = [service for service in SERVICES if x.get(service) == "Yes"]
    if x.get("InternetService", "No") != "No":
        items.append(f"Internet:{x['InternetService']}")
    rnd.shuffle(items)
    return items


def _hit_rates(model: Recommender, baskets: Sequence[list[str]]) -> dict[str, float]:
    """Before each of a customer's items but the first: is it in the top 3? (then learn it)"""
    hits = popular_hits = tries = 0
    for n, items in enumerate(baskets):
        customer = f"c{n}"
        for position, item in enumerate(items):
            if position > 0:
                tries += 1
                hits += item in model.recommend(customer, TOP_K)[0]
                seen = set(items[:position])
                popular = [i for i in _popular(model, TOP_K + len(seen)) if i not in seen]
                popular_hits += item in popular[:TOP_K]
            model.learn_one({"customer_id": customer, "product_id": item, "kind": "order"})
    return {"hit_at_3": hits / max(tries, 1), "popularity_hit_at_3": popular_hits / max(tries, 1)}


def _popular(model: Recommender, k: int) -> list[str]:
    return sorted(model.popularity, key=lambda item: -model.popularity[item])[:k]


def reco_row(split: TabularSplit, seed: int) -> Row:
    """hit@3 of co-occurrence recommendations vs item popularity."""
    rnd = random.Random(seed)
    model = Recommender(k=TOP_K)
    train = [_items(x, rnd) for x, _ in split.train]
    events: list[tuple[Features, Any]] = [
        ({"customer_id": f"t{n}", "product_id": item, "kind": "order"}, None)
        for n, items in enumerate(train)
        for item in items
    ]
    streamed = prequential_pass(model, events)
    fresh = Recommender(k=TOP_K)
    prequential = _hit_rates(fresh, train)
    holdout = _hit_rates(model, [_items(x, rnd) for x, _ in split.test])
    notes: dict[str, Any] = streamed.notes | {
        "items": "Telco services per customer, seeded order",
        "holdout": "new customers; histories grow as they buy (no frozen phase for reco)",
    }
    return Row("reco", "telco services", STREAMED, prequential, holdout, _total(streamed),
               len(split.train), len(split.test), notes)  # fmt: skip


def _total(streamed: Streamed) -> float:
    return streamed.predict_us + streamed.learn_us


def rows(split: TabularSplit, *, seed: int = 0) -> list[Row]:
    """The three label-free rows."""
    return [segment_row(split, seed), anomaly_row(split, seed), reco_row(split, seed)]
