"""Credit export and confirmation for more credits than a statement may have bind parameters.

A driver refuses more than 65,535 parameters in one statement: an ``IN (...)`` with one parameter per
credit failed on PostgreSQL from 65,536 pending credits on. Export and confirmation are set-based.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from draws import services
from draws.models import CreditBatch, DrawCredit
from rewards.bulkload import bulk_insert
from rewards.db import db
from rewards.errors import DomainError
from tests.draws.conftest import DrawKit

MORE_THAN_BINDS = 65_535 + 10
AMOUNT = 100


def _add_pending_credits(kit: DrawKit, count: int) -> None:
    """``count`` pending credits on the kit's published draw, loaded in bulk (COPY / executemany)."""
    draw_id = db.session.scalar(select(DrawCredit.draw_id).limit(1))
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    created = "2026-07-01 00:00:00+00" if postgresql else "2026-07-01 00:00:00.000000"
    rows = ((draw_id, 100 + i, f"75{i:08d}", AMOUNT, 2026, "pending", created) for i in range(count))
    bulk_insert(db.session, "draw_credits",
                ("draw_id", "prize_index", "account", "amount_kopecks", "year", "state", "created_at"), rows)
    db.session.commit()


def test_export_and_confirm_more_credits_than_bind_parameters(kit: DrawKit) -> None:
    kit.full()  # three real credits
    _add_pending_credits(kit, MORE_THAN_BINDS)
    total = MORE_THAN_BINDS + 3

    batch = services.export_credits(db.session, actor="m")
    db.session.commit()
    assert batch.count == total
    assert batch.total_kopecks == 900_000 + MORE_THAN_BINDS * AMOUNT
    lines = batch.content.splitlines()
    assert len(lines) == total + 1 and lines[0].startswith("credit_id,")
    assert db.session.scalar(select(func.count()).where(DrawCredit.batch_id == batch.id,
                                                        DrawCredit.state == "exported")) == total
    assert services.get_batch(db.session, batch.id).content == batch.content

    rows = [line.split(",") for line in lines[1:]]
    good = [f"{r[0]},{r[3]},{r[4]},posted\n" for r in rows]
    header = "credit_id,account,amount_kopecks,status\n"
    last = rows[-1]
    bad = good[:-1] + [f"{last[0]},{last[3]},1,posted\n"]  # the amount differs from the order
    with pytest.raises(DomainError) as info:
        services.import_confirmation(db.session, header + "".join(bad), actor="billing")
    db.session.rollback()
    assert set(info.value.error_details()) == {f"line {total + 1}"}
    assert set(db.session.scalars(select(DrawCredit.state).distinct())) == {"exported"}

    confirmation = header + "".join(good)
    assert services.import_confirmation(db.session, confirmation, actor="billing") == {"posted": total,
                                                                                       "already_posted": 0}
    db.session.commit()
    assert set(db.session.scalars(select(DrawCredit.state).distinct())) == {"posted"}
    assert services.import_confirmation(db.session, confirmation, actor="billing") == {"posted": 0,
                                                                                       "already_posted": total}
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(CreditBatch)) == 1
