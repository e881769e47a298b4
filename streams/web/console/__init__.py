"""The support console, served by the worker's own web server under ``/console``: the
queue of conversations waiting for a reply (pushed live over Server-Sent Events), each
conversation with its drafts and Accept / Edit and send / Reject, a customer 360, and an
ops strip. Pages: :mod:`.html`; data: :mod:`.data`; sessions: :mod:`.session`; routes:
:mod:`.views`."""
