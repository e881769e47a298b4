"""The scoring stage: River models on every event the feature agent applied.

One event's path: :mod:`~agents.scoring.agent` (the Faust side: the feature agent's
hooks, checkpoints, the insights producer) hands it to :mod:`~agents.scoring.scorer`,
which keeps one model set per partition (:mod:`~agents.scoring.state`) and dispatches by
event type: :mod:`~agents.scoring.text` (messages, labels, ratings, draft feedback) and
:mod:`~agents.scoring.tabular` (churn, segment, anomaly, reco), reading the customer's
inputs (:mod:`~agents.scoring.inputs`) within one :class:`~agents.scoring.turn.Turn`.
What is published and when: :mod:`~agents.scoring.publish`; periodic metrics insights:
:mod:`~agents.scoring.report`; signed checkpoints in Redis:
:mod:`~agents.scoring.checkpoints`, stored by :mod:`~agents.scoring.store`; Prometheus
families: :mod:`~agents.scoring.metrics`.
"""
