"""The API reference page works on a closed network: every file it loads comes from this server."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from rewards.api.docs import assets_dir


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # no database involved
def test_the_docs_page_loads_only_local_files(client: FlaskClient) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert {"/api/v1/docs/assets/swagger-ui-bundle.js", "/api/v1/docs/assets/swagger-ui.css",
            "/static/api-docs.js"} <= set(sources)
    assert not [s for s in sources if "//" in s], sources  # no CDN, no other host
    assert "<script>" not in html  # no inline script (the Content-Security-Policy would refuse it)
    assert 'data-spec-url="/api/v1/openapi.json"' in html
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert len(asset.get_data()) > 200, source  # a real file, not an error page
        asset.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_assets_come_from_the_installed_package(client: FlaskClient) -> None:
    bundle = client.get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert bundle.get_data() == (assets_dir() / "swagger-ui-bundle.js").read_bytes()
    assert "max-age=86400" in bundle.headers["Cache-Control"]
    bundle.close()
    assert client.get("/api/v1/docs/assets/../../../etc/passwd").status_code == 404
    missing = client.get("/api/v1/docs/assets/nothing.js")
    assert missing.status_code == 404 and "request_id" in missing.get_json()
