"""Use cases of the partners feature; each takes a SQLAlchemy session first and never commits.

- ``catalog``: partners, their API clients, offers, code revocation;
- ``issue``: bulk issue for an offer and a snapshot, on-demand issue for the personal cabinet, export;
- ``redemption``: validate, redeem exactly once, roll back (the partner API's core);
- ``idempotency``: stored first responses for ``Idempotency-Key``;
- ``reports``: counts per offer by day and by tier, derived from codes and the ledger.
"""
