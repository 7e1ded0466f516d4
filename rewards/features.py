"""How features plug into the kernel: the ``FEATURES`` setting names them, the app factory loads them.

A feature is a package with a module (by convention ``<feature>/feature.py``) that holds one
function, ``init_app(app, api)``. It registers everything the feature adds to the service:

- its models (importing its ``models`` module puts them on the one metadata: migrations see them);
- its page blueprints (``app.register_blueprint``) and API blueprints (``api.register_blueprint``);
- its command group (``app.cli.add_command``);
- its policy rows: staff actions and API scopes (``rewards.policy.declare``);
- its navigation entries (``rewards.web.add_nav``) and dashboard panels (``rewards.dashboard.add_panel``);
- handlers for its own refusals that are not ``DomainError``s (``rewards.httperrors.register_refusal``);
- its demo data step (``rewards.demo.add_step``);
- its sections of the customer card (``rewards.accountcard.add_section``);
- its receivers of other features' signals (blinker, e.g. ``rewards.snapshots.signals``).

Most features describe all that in one :class:`Feature` and let ``init_app`` call its ``register``.

The kernel never imports a feature by name: the list lives in one setting, loaded here with
``importlib`` in the order given (the order of navigation entries, panels and demo steps).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import click
from flask import Blueprint, Flask

from rewards import accountcard, dashboard, demo, httperrors, policy, web
from rewards.config import ConfigError
from rewards.httperrors import Api

_LOADED_KEY = "rewards.features"


@dataclass(frozen=True)
class Feature:
    """What a feature adds to the service, as data; :meth:`register` puts it on an app."""

    actions: Mapping[str, frozenset[str]] = field(default_factory=dict)  # staff action -> roles allowed
    scopes: Mapping[str, object] = field(default_factory=dict)  # API scope -> label for admins
    pages: Sequence[Blueprint] = ()  # page blueprints
    apis: Sequence[Blueprint] = ()  # flask-smorest blueprints (URLs under /api/v1/)
    commands: Sequence[click.Command] = ()  # ``flask <group>`` command groups
    nav: Sequence[web.NavEntry] = ()  # (endpoint, label, action)
    panels: Sequence[dashboard.Panel] = ()  # (template, function building its context)
    refusals: Sequence[type[Exception]] = ()  # a pure core's errors, answered as 422 refusals
    demo_step: demo.DemoStep | None = None  # its step of ``flask demo load``
    card_sections: Sequence[accountcard.Section] = ()  # (template, build(session, account)) on the customer card

    def register(self, app: Flask, api: Api) -> None:
        """Declare the policy rows and register every part on ``app`` (and its ``api``)."""
        policy.declare(actions=self.actions, scopes=self.scopes)
        for page in self.pages:
            app.register_blueprint(page)
        for blueprint in self.apis:
            api.register_blueprint(blueprint)
        for command in self.commands:
            app.cli.add_command(command)
        for endpoint, label, action in self.nav:
            web.add_nav(app, endpoint, label, action)
        for template, build in self.panels:
            dashboard.add_panel(app, template, build)
        httperrors.register_refusal(app, *self.refusals)
        if self.demo_step is not None:
            demo.add_step(app, self.demo_step)
        for template, build_section in self.card_sections:
            accountcard.add_section(app, template, build_section)


def load(app: Flask, api: Api) -> None:
    """Import every module named in ``FEATURES`` and call its ``init_app(app, api)``, in order."""
    done: list[str] = app.extensions.setdefault(_LOADED_KEY, [])
    for name in app.config["FEATURES"]:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
                raise ConfigError(f"FEATURES: there is no module {name!r}") from exc
            raise
        init_app = getattr(module, "init_app", None)
        if not callable(init_app):
            raise ConfigError(f"FEATURES: {name} has no init_app(app, api)")
        init_app(app, api)
        done.append(name)


def loaded(app: Flask) -> tuple[str, ...]:
    """The dotted names of the features ``app`` has loaded, in order."""
    return tuple(app.extensions.get(_LOADED_KEY, ()))


def package_folders(names: list[str]) -> list[str]:
    """The folder of each feature's package, found without running the feature module itself
    (e.g. to find its message catalogues before the feature is loaded)."""
    folders = []
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:  # a parent package is missing
            spec = None
        if spec is None or spec.origin is None:
            raise ConfigError(f"FEATURES: there is no module {name!r}")
        folders.append(os.path.dirname(spec.origin))
    return folders
