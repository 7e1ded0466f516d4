"""Who acts, as the event log names them: one answer for every shell (pages, API, command line)."""

from __future__ import annotations

import getpass

from flask import g, has_request_context

CLI_PREFIX = "cli"


def current_actor() -> str:
    """The actor of this request or command, for ``record_event`` and the services' ``actor=``.

    ``api:<client name>`` for a machine caller; the user name of the logged-in staff user on a page;
    ``cli:<operating-system user>`` outside a request (a ``flask`` command). A request with neither
    a caller nor a user (a public page) is ``anonymous``.
    """
    if not has_request_context():
        return cli_actor()
    caller = g.get("caller")
    if caller is not None:
        return f"api:{caller.name}"
    from rewards.access import current_user

    user = current_user()
    return user.username if user is not None else "anonymous"


def cli_actor() -> str:
    """``cli:<operating-system user>``: who ran a command."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no USER/LOGNAME variable (e.g. a bare container)
        user = "unknown"
    return f"{CLI_PREFIX}:{user}"
