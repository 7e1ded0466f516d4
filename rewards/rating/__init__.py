"""The rating engine (pure core): rules as data, the behaviour reader, the engine and explanations.

Nothing here imports Flask or SQLAlchemy.
"""
