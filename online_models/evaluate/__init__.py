"""``rapport evaluate``: the models replayed over real datasets, beside batch baselines.

- :mod:`~online_models.evaluate.run`: ``evaluate`` (every model on its dataset), the
  dataset table ``DATASETS`` and ``as_json``;
- :mod:`~online_models.evaluate.data`: where the datasets are found and how they are split;
- :mod:`~online_models.evaluate.stream`: the prequential pass (predict, then learn);
- :mod:`~online_models.evaluate.batch`: scikit-learn-style batch baselines on the same split;
- :mod:`~online_models.evaluate.unsupervised`: segment and anomaly models, scored on labels
  they never learn from;
- :mod:`~online_models.evaluate.metrics`, :mod:`~online_models.evaluate.report`: the
  figures and their table.
"""

from online_models.evaluate.run import DATASETS, as_json, evaluate

__all__ = ["DATASETS", "as_json", "evaluate"]
