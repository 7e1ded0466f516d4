"""The floors of the HTTP benchmarks: bare Flask endpoints answering JSON bodies of the same shape
(validate: a POST with a JSON body; the priority look-up: a GET by account)."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/validate")
def validate():  # noqa: ANN201
    code = (request.get_json(silent=True) or {}).get("code")
    return jsonify({"code": code, "valid": True, "reason": None, "offer": None})


@app.get("/api/v1/accounts/<account>/priority")
def priority(account: str):  # noqa: ANN201
    return jsonify({"account": account, "priority": False, "as_of": "2026-11-15", "reasons": [], "tier": None,
                    "tier_period": None})
