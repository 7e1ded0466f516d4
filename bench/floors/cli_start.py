"""Floor of a small CLI command: a bare Flask app with Flask-SQLAlchemy and one click command that reads a table.

    FLOOR_DB=sqlite:////tmp/x.sqlite3 python -m flask --app bench/floors/cli_start.py list
"""

from __future__ import annotations

import os

import click
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("FLOOR_DB", "sqlite://")
db = SQLAlchemy(app)


@app.cli.command("list")
def list_rows() -> None:
    """Print the number of tables."""
    click.echo(db.session.execute(text("SELECT count(*) FROM sqlite_master")).scalar_one())
