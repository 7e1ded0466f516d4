"""Imports every model so that one metadata holds the whole schema (migrations, tests)."""

from rewards.apikeys.models import ApiClient, ApiKey  # noqa: F401
from rewards.audit.models import Checkpoint, Event  # noqa: F401
from rewards.auth.models import User  # noqa: F401

# Feature models: one import line per feature package.
from rewards.snapshots.models import RulesFile, Snapshot, SnapshotRow  # noqa: F401,E402
from draws.models import CreditBatch, Draw, DrawCredit, DrawDisqualification, DrawEntrantList, DrawExclusion, DrawWinner  # noqa: F401,E402
from partners.models import (  # noqa: F401
    Code,
    IdempotencyRecord,
    IssueRun,
    Offer,
    Partner,
    PartnerClient,
    RedemptionEvent,
)
from rewards.flags.models import FlagClosure, PriorityFlag, TierRun  # noqa: F401
