"""Priority-service flags: derived from tiers, set by staff for vulnerable customers, looked up by the call centre.

``core`` is pure (no Flask, no SQLAlchemy); ``models`` and ``services`` hold the data and use cases;
``api``, ``cli`` and ``views`` are the thin shells.
"""
