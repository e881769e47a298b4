"""Rolling customer features: definitions, event-time windows, state, store, batch truth.

- ``definitions``: what every feature counts and the stated rules (lateness, carts, RFM);
- ``windows``: the 1 h / 24 h / 7 d / 30 d windows over bucket tiers, in event time;
- ``state``, ``apply``, ``vector``: one customer's compact state, its update, its features;
- ``engine``: events to states, idempotent under redelivery, re-forwards and erasure;
- ``batch``: the same features recomputed from the full event list (the reference);
- ``store``, ``publisher``: the Redis feature store and the flush to Redis and the topic.

The Faust wiring is ``agents.customer_features.agent``; the HTTP view ``streams.web.features``.
"""
