"""The published signing key set."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint

from rewards.policy import api_any, public
from rewards.signing.keystore import KeyStore

blp = Blueprint("keys", __name__, url_prefix="/api/v1/keys", description="Signing keys that verify our records")


class KeySchema(ma.Schema):
    kid = ma.fields.String(required=True)
    alg = ma.fields.String(required=True)
    public_key = ma.fields.String(required=True, metadata={"description": "raw Ed25519 key, base64url"})
    created = ma.fields.String(required=True)
    retired = ma.fields.String(allow_none=True, required=True)
    compromised = ma.fields.String(allow_none=True, required=True)


class KeySetSchema(ma.Schema):
    keys = ma.fields.List(ma.fields.Nested(KeySchema), required=True)


@blp.route("")
class KeySet(MethodView):
    @public
    @blp.response(200, KeySetSchema)
    def get(self) -> dict[str, Any]:
        """Every signing key that ever signed a record; retired keys still verify."""
        return KeyStore(current_app.config["KEYS_DIR"]).keyset()


whoami_blp = Blueprint("whoami", __name__, url_prefix="/api/v1/whoami", description="Who the calling key belongs to")


class WhoAmISchema(ma.Schema):
    client = ma.fields.String(required=True)
    scopes = ma.fields.List(ma.fields.String(), required=True)


@whoami_blp.route("")
class WhoAmI(MethodView):
    @api_any
    @whoami_blp.response(200, WhoAmISchema)
    @whoami_blp.doc(security=[{"bearer": []}])
    def get(self) -> dict[str, Any]:
        """The API client of the calling key and its scopes (a connectivity check for integrators)."""
        caller = g.caller
        return {"client": caller.name, "scopes": sorted(caller.scopes)}
