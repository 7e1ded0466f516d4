"""Monthly tier snapshots: file readers and the canonical content digest (pure core).

Nothing here imports Flask or SQLAlchemy; the services and shells live in sibling modules.
"""
