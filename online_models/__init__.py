"""Online models: River pipelines behind one per-event protocol, with signed checkpoints.

- :mod:`online_models.base`: ``OnlineModel`` (``predict_one`` -> ``Prediction``,
  ``learn_one``, ``to_bytes`` / ``from_bytes``, ``version``, ``forget``) and the errors;
- one module per family: :mod:`~online_models.text_models` (sentiment, intent, on the
  message features of :mod:`~online_models.text_features`),
  :mod:`~online_models.churn` (+ :mod:`~online_models.delayed` for late labels),
  :mod:`~online_models.segments`, :mod:`~online_models.anomaly`,
  :mod:`~online_models.reco`; :mod:`~online_models.registry` lists them all;
- :mod:`~online_models.monitor`: prequential metrics per segment and ADWIN drift;
- :mod:`~online_models.checkpoint`: HMAC-SHA256-signed snapshots;
- :mod:`~online_models.evaluate`: ``rapport evaluate``, the replay of real datasets.

How a scoring agent uses a model, per event:

>>> from online_models.checkpoint import Checkpointer
>>> from online_models.registry import MODELS
>>> model = MODELS["intent"]()
>>> for _ in range(3):
...     _ = model.learn_one({"text": "where is my card"}, "card_arrival")
...     _ = model.learn_one({"text": "I want my money back"}, "refund")
>>> found = model.predict_one({"text": "my card has not arrived"})
>>> found.value, model.version, sorted(found.explanation)
('card_arrival', 6, ['top_features'])
>>> signer = Checkpointer(b"a-secret-of-at-least-16-bytes")
>>> restored, info = signer.load(signer.dump(model), type(model))
>>> restored.predict_one({"text": "my card has not arrived"}) == found, info.sequence
(True, 1)
"""
