"""How features plug into the kernel: the ``FEATURES`` setting names them, the app factory loads them.

A feature is a package with a module (by convention ``<feature>/feature.py``) that holds one
function, ``init_app(app)``. It registers what every process of the service needs, web or command line:

- its models: the modules declaring its tables, by dotted name (imported whenever the whole schema is
  needed: the web side, ``flask db``; otherwise by the code that uses them);
- its policy rows: staff actions and API scopes (``rewards.policy.declare``);
- its command groups (``app.cli.add_command``), as ``rewards.lazycli.LazyGroup``s;
- its demo data step (``rewards.demo.add_step``);
- its kinds of job and periodic work (``rewards.jobs.registry``, handlers named by import path);
- its receivers of other features' signals (blinker, e.g. ``rewards.snapshots.signals``);
- its web side: a function returning a :class:`Web` (page and API blueprints, navigation entries,
  dashboard panels, sections of the customer card, handlers for its own refusals), which the kernel
  calls only when the app serves requests (``rewards.websetup``).

Most features describe all that in one :class:`Feature` and let ``init_app`` call its ``register``.
``feature.py`` must stay cheap to import (every ``flask`` command imports it): it names its views,
API, models and jobs modules inside functions or by import path, never at its top.

The kernel never imports a feature by name: the list lives in one setting, loaded here with
``importlib`` in the order given (the order of navigation entries, panels and demo steps).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click
from flask import Flask

from rewards import policy
from rewards.config import ConfigError

if TYPE_CHECKING:  # the web side's modules are imported only when the app serves requests
    from flask import Blueprint

    from rewards.accountcard import Section
    from rewards.dashboard import Panel
    from rewards.demo import DemoStep
    from rewards.httperrors import Api
    from rewards.web import NavEntry

_LOADED_KEY = "rewards.features"
_WEB_KEY = "rewards.features.web"
_MODELS_KEY = "rewards.features.models"


@dataclass(frozen=True)
class Web:
    """What a feature adds to an app that serves requests; built by the feature's ``web`` function."""

    pages: Sequence[Blueprint] = ()  # page blueprints
    apis: Sequence[Blueprint] = ()  # flask-smorest blueprints (URLs under /api/v1/)
    nav: Sequence[NavEntry] = ()  # (endpoint, label, action)
    panels: Sequence[Panel] = ()  # (template, function building its context)
    refusals: Sequence[type[Exception]] = ()  # a pure core's errors, answered as 422 refusals
    card_sections: Sequence[Section] = ()  # (template, build(session, account)) on the customer card
    small_bodies: Sequence[Blueprint] = ()  # blueprints whose bodies may hold at most API_MAX_JSON_BYTES
    setup: Callable[[Flask], None] | None = None  # anything else the serving app needs, run last

    def register(self, app: Flask, api: Api) -> None:
        """Register every part on ``app`` (and its ``api``)."""
        from rewards import accountcard, dashboard, httperrors, requesthooks, web

        for page in self.pages:
            app.register_blueprint(page)
        for blueprint in self.apis:
            api.register_blueprint(blueprint)
        for endpoint, label, action in self.nav:
            web.add_nav(app, endpoint, label, action)
        for template, build in self.panels:
            dashboard.add_panel(app, template, build)
        httperrors.register_refusal(app, *self.refusals)
        for template, build_section in self.card_sections:
            accountcard.add_section(app, template, build_section)
        requesthooks.limit_bodies(app, [blueprint.name for blueprint in self.small_bodies], "API_MAX_JSON_BYTES")
        if self.setup is not None:
            self.setup(app)


@dataclass(frozen=True)
class Feature:
    """What a feature adds to the service, as data; :meth:`register` puts it on an app."""

    models: Sequence[str] = ()  # dotted names of the modules declaring its tables
    actions: Mapping[str, frozenset[str]] = field(default_factory=dict)  # staff action -> roles allowed
    scopes: Mapping[str, object] = field(default_factory=dict)  # API scope -> label for admins
    commands: Sequence[click.Command] = ()  # ``flask <group>`` command groups (rewards.lazycli.LazyGroup)
    demo_step: DemoStep | None = None  # its step of ``flask demo load``
    web: Callable[[], Web] | None = None  # its web side, imported and built only when the app serves requests

    def register(self, app: Flask) -> None:
        """Declare the policy rows, add the commands and the demo step; keep the models for
        :func:`import_models` and the web side for :func:`register_web`."""
        app.extensions.setdefault(_MODELS_KEY, []).extend(self.models)
        policy.declare(actions=self.actions, scopes=self.scopes)
        for command in self.commands:
            app.cli.add_command(command)
        if self.demo_step is not None:
            from rewards import demo

            demo.add_step(app, self.demo_step)
        if self.web is not None:
            app.extensions.setdefault(_WEB_KEY, []).append(self.web)


def load(app: Flask) -> None:
    """Import every module named in ``FEATURES`` and call its ``init_app(app)``, in order."""
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
            raise ConfigError(f"FEATURES: {name} has no init_app(app)")
        init_app(app)
        done.append(name)


def register_web(app: Flask, api: Api) -> None:
    """Build and register the web side of every loaded feature, in feature order (the kernel calls this
    once, when the app will serve requests)."""
    for build in app.extensions.get(_WEB_KEY, ()):
        build().register(app, api)


def import_models(app: Flask) -> None:
    """Put every table of the kernel and of the loaded features on the one metadata (migrations,
    ``create_all`` and the web side see the whole schema)."""
    importlib.import_module("rewards.models")
    for name in app.extensions.get(_MODELS_KEY, ()):
        importlib.import_module(name)


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
