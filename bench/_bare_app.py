"""The floor of the validate benchmark: a bare Flask endpoint answering a JSON body of the same shape."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/validate")
def validate():  # noqa: ANN201
    code = (request.get_json(silent=True) or {}).get("code")
    return jsonify({"code": code, "valid": True, "reason": None, "offer": None})
