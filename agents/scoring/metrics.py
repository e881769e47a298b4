"""Prometheus metrics of the scoring agent (served on every worker's ``/metrics``).

Prequential figures (test-then-train, see ``online_models.monitor``) are gauges per
model, partition (each partition has its own model set), metric and segment
(``all`` for the overall figure); they are refreshed by the scoring timer, not per
event, so the hot path only bumps counters.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

INSIGHTS = Counter(
    "rapport_scoring_insights_total", "Insights sent to the insights topic, per model", ["model"]
)
ABSTAINED = Counter(
    "rapport_scoring_abstained_total",
    "Predictions a model abstained from (cold start, no usable feature), per model",
    ["model"],
)
LABELS = Counter(
    "rapport_scoring_labels_total",
    "Labels seen by the scoring agent, per model and outcome: learnt, refused (by the "
    "model's rule), unmatched (the labelled message is not among the customer's recent "
    "texts; a churn outcome with no open prediction), replayed (already learnt before a "
    "restart), shared (a labelled example another partition learnt first)",
    ["model", "outcome"],
)
EXAMPLES_SHARED = Counter(
    "rapport_scoring_examples_shared_total",
    "Labelled text examples this worker learnt and sent to the other partitions of events",
    ["model"],
)
FEEDBACK = Counter(
    "rapport_scoring_feedback_total",
    "Reviewers' draft_feedback seen by the scoring agent, per verdict and outcome: learnt "
    "(the draft's detected intent confirmed as an intent label), refused (by the model's "
    "rule), unmatched (the drafted message is not among the customer's recent texts), "
    "no_label (edited or rejected, or an intent the detector could not name), replayed",
    ["verdict", "outcome"],
)
BAD_INPUT = Counter(
    "rapport_scoring_bad_input_total",
    "Inputs a model skipped or read as empty, per model and reason: duplicate_outcome (a "
    "subscription outcome repeating the customer's last one), missing_features (no "
    "feature vector for the customer), empty_text (an inbound message without words)",
    ["model", "reason"],
)
DRIFTS = Counter(
    "rapport_scoring_drifts_total", "ADWIN drifts detected on a model's error stream", ["model"]
)
ERRORS = Counter(
    "rapport_scoring_errors_total",
    "Events the scorer failed on (logged; the features of the event are kept)",
)
CHECKPOINTS = Counter(
    "rapport_scoring_checkpoints_total",
    "Model-set checkpoints by outcome: saved, restored, fresh (none stored), refused "
    "(bad signature or unreadable: fresh models instead), stale (older than the stored "
    "sequence), failed (Redis error)",
    ["outcome"],
)
CHECKPOINT_BYTES = Gauge(
    "rapport_scoring_checkpoint_bytes", "Size of the last checkpoint per partition", ["partition"]
)
CHECKPOINT_SECONDS = Histogram(
    "rapport_scoring_checkpoint_seconds",
    "Time to sign and write one partition's checkpoint",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
SCORE_SECONDS = Histogram(
    "rapport_scoring_seconds",
    "Time to score one event (all models, publication included)",
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1),
)
MODEL_VERSION = Gauge(
    "rapport_model_version", "Accepted updates of a model, per partition", ["model", "partition"]
)
PREQUENTIAL = Gauge(
    "rapport_model_prequential",
    "Prequential metric of a model per partition and segment (all: overall)",
    ["model", "partition", "metric", "segment"],
)
PREQUENTIAL_N = Gauge(
    "rapport_model_prequential_examples",
    "Labelled examples a model was evaluated on, per partition",
    ["model", "partition"],
)
METRICS_INSIGHTS = Counter(
    "rapport_scoring_metrics_insights_total",
    "Periodic metrics_{model} insights (prequential figures of a partition's model)",
    ["model"],
)
PENDING_CHURN = Gauge(
    "rapport_scoring_churn_pending", "Churn predictions waiting for their label", ["partition"]
)

PER_PARTITION: Final = (MODEL_VERSION, PREQUENTIAL, PREQUENTIAL_N, PENDING_CHURN, CHECKPOINT_BYTES)
"""Gauges labelled by partition: removed when the partition leaves the worker."""


def forget_partition(partition: int) -> int:
    """Remove every per-partition gauge series of ``partition``; returns how many.

    A worker that lost a partition must not keep exporting its frozen figures beside
    the new owner's.

    >>> MODEL_VERSION.labels("intent", "97").set(3)
    >>> PENDING_CHURN.labels("97").set(1)
    >>> forget_partition(97), forget_partition(97)
    (2, 0)
    """
    removed = 0
    for gauge in PER_PARTITION:
        names = list(gauge._labelnames)
        index = names.index("partition")
        for family in gauge.collect():
            stale = {
                tuple(sample.labels[n] for n in names)
                for sample in family.samples
                if sample.labels.get(names[index]) == str(partition)
            }
            for labels in stale:
                gauge.remove(*labels)
                removed += 1
    return removed


DISPARITY = Gauge(
    "rapport_model_disparity_ratio",
    "Worst segment's headline figure over the best's (1: equal), per model and partition",
    ["model", "partition"],
)
