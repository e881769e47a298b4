"""The worker's HTTP views, served by Faust's web server on ``RAPPORT_WEB_PORT``.

- :mod:`~streams.web.views`: ``/health``, ``/ready``, ``/debug/heap``;
- :mod:`~streams.web.features`: ``/customers/{id}/features`` (routed to the owning worker);
- :mod:`~streams.web.drafts`: ``/conversations/{id}/drafts``, ``/drafts/feedback``;
- :mod:`~streams.web.sql`: ``/sql``, the read-only ClickHouse gate.
"""
