"""schemathesis over the whole OpenAPI document: no server error, no response that breaks the schema.

Runs on both databases. The app gets one API key holding every scope, so each operation is reached
past authentication; every generated request (valid and invalid bodies, paths, queries) must get an
answer that is not a 5xx and that matches the documented schema and content type.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from rewards.apikeys.services import SCOPES

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
EXAMPLES_PER_OPERATION = 20


def test_api_conforms_to_its_schema(app: Flask, api_token: Any) -> None:
    token = api_token(*SCOPES)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the OpenAPI document lists no operation"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def check(case: Any) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        check()
