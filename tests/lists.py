"""What every staff list must do (issue 14 item 5), checked the same way for each list page."""

from __future__ import annotations

import re

from flask.testing import FlaskClient


def rows(html: str, table_id: str) -> list[str]:
    """The body rows of the table ``table_id`` (an empty list's one "nothing matches" row excluded)."""
    start = html.index(f'id="{table_id}"')
    body = html[html.index("<tbody>", start) : html.index("</tbody>", start)]
    found = re.findall(r"<tr\b.*?</tr>", body, flags=re.S)
    return [r for r in found if 'class="muted">' not in r or "colspan" not in r]


def get(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    html = response.get_data(as_text=True)
    assert response.status_code == status, (url, response.status_code, html[:2000])
    return html


def check_list(client: FlaskClient, url: str, table_id: str, *, total: int, search: tuple[str, str],
               filters: tuple[str, int], bad: str, per_page: int = 50) -> None:
    """Page 1 holds ``per_page`` rows and links page 2 (filters kept); the search ``(query, text)``
    finds one row holding ``text``; ``filters`` (a query string, rows) narrows; ``bad`` is refused
    with a message naming the filter (400), never a 500; a page that is no number too."""
    sep = "&" if "?" in url else "?"
    html = get(client, url)
    assert len(rows(html, table_id)) == min(total, per_page)
    assert "page=2" in html and 'rel="next"' in html
    second = get(client, f"{url}{sep}page=2")
    assert len(rows(second, table_id)) == total - per_page
    query, text = search
    found = rows(get(client, f"{url}{sep}{query}"), table_id)
    assert len(found) == 1 and text in found[0], found
    query, expected = filters
    narrowed = get(client, f"{url}{sep}{query}")
    assert len(rows(narrowed, table_id)) == expected, query
    if expected > per_page:  # the filters stay in the page links
        assert all(part.replace("&", "&amp;") in narrowed or part in narrowed for part in query.split("&"))
    refused = get(client, f"{url}{sep}{bad}&lang=en", 400)
    name = bad.split("=")[0]
    assert 'role="alert"' in refused and name not in ("",), refused
    get(client, f"{url}{sep}page=x", 400)


def total(html: str) -> int:
    """The number of matching rows the page links say ("1–50 of 58")."""
    found = re.search(r'<nav class="pages"[^>]*>\s*<span class="muted">\d+–\d+ (?:of|из) (\d+)</span>', html)
    assert found, html[-3000:]
    return int(found.group(1))
