"""The kernel's models (staff users, API clients and keys, the event log) on the one metadata.

Each feature's models register on the same metadata when the app factory loads the feature
(``rewards.features``), so migrations and ``create_all`` see the whole schema of the app's features.
"""

from rewards.apikeys.models import ApiClient, ApiKey  # noqa: F401
from rewards.audit.models import Checkpoint, Event  # noqa: F401
from rewards.auth.models import User  # noqa: F401
from rewards.jobs.models import Job  # noqa: F401
