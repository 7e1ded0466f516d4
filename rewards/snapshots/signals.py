"""What the snapshots feature tells other features, as blinker signals (in process, same transaction).

A receiver runs inside the service that sent the signal, in its transaction: what it writes commits
or rolls back with the snapshot. Senders and receivers meet here, so the snapshots feature never
imports its listeners (the flags feature connects in its ``init_app``).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

snapshot_loaded = _signals.signal(
    "snapshot-loaded",
    doc="""A snapshot was stored (imported or computed) and is the period's active one.

    Sent with the SQLAlchemy session as the sender and the keyword arguments ``snapshot_id`` (int),
    ``period`` ("YYYY-MM") and ``actor`` (who loaded it, for the event log).""",
)

bill_columns = _signals.signal(
    "bill-columns",
    doc="""The bills export (``export_lines(..., "bills")``) asks for extra columns.

    Sent with the SQLAlchemy session as the sender and ``snapshot`` (the exported ``Snapshot``). A
    receiver returns a list of ``(header, value_of_account)`` pairs, or nothing; each column is added
    after the tier, for every account, in the order the receivers answer.""",
)

what_if_costs = _signals.signal(
    "what-if-costs",
    doc="""A rules what-if asks what its tier counts would cost (draw entrants and weight, partner offers).

    Sent with the SQLAlchemy session as the sender and ``period`` ("YYYY-MM"), ``before`` and ``after``
    (``{tier: count}``, every tier). A receiver reads its own feature's live items and returns a list of
    ``{"source": feature, "item": name, "measure": "entrants" | "total_weight" | "qualifying",
    "before": int, "after": int}``, or nothing. The snapshots feature imports no other feature: this is
    how a what-if learns the draw weights and the live partner offers.""",
)
