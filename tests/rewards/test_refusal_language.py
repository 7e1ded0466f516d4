"""Refusals carry a stable code and a catalogue template: English with the code in the API, the page's
language on pages, English on the command line (issue 14, item 1)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from draws.errors import TooManyPrizes
from rewards.errors import N_, Conflict, DomainError, NotFound
from rewards.i18n import errors_by_line, render, row_message
from tests.support import bearer


def test_the_message_follows_the_language_of_the_request(app: Flask) -> None:
    error = NotFound(N_("no draw %(public_id)s"), code="no_draw", public_id="'x'")
    assert error.code == "no_draw" and error.status == 404 and error.params == {"public_id": "'x'"}
    assert error.message == "no draw 'x'"  # no request: English (the CLI, the job consumer)
    with app.test_request_context("/api/v1/draws/x"):
        assert error.message == "no draw 'x'" and str(error) == "no draw 'x'"
    with app.test_request_context("/draws/x"):
        assert error.message == "нет розыгрыша 'x'"
    with app.test_request_context("/draws/x?lang=en"):
        assert error.message == "no draw 'x'"


def test_a_pure_core_refusal_keeps_its_template(app: Flask) -> None:
    refusal = TooManyPrizes(N_("%(prize_count)s prizes but only %(n)s eligible entrants"), prize_count=5, n=2)
    assert str(refusal) == "5 prizes but only 2 eligible entrants"  # what the standalone verifier prints
    error = Conflict.of(refusal, code="too_many_prizes")
    with app.test_request_context("/draws/x"):
        assert error.message == "призов: 5, а участников, имеющих право, только 2"
        assert error.code == "too_many_prizes"


def test_a_translation_that_does_not_fit_falls_back_to_english(app: Flask) -> None:
    with app.test_request_context("/draws/x"):
        assert render("no draw %(public_id)s", {"other": 1, "public_id": "'y'"}) == "нет розыгрыша 'y'"
        assert render("a text with 100% and no parameters", {}) == "a text with 100% and no parameters"


def test_file_problems_on_a_page_are_in_its_language(app: Flask) -> None:
    from rewards.csvread import ErrorLog

    log = ErrorLog()
    log.add(3, "unknown_tier", N_("unknown tier %(tier)s"), "f.csv", "tier", tier="'gold'")
    log.add(0, "empty_file", N_("the file is empty"))
    assert log.details[0].message == "unknown tier 'gold'" and log.by_line()["line 3"] == ["unknown tier 'gold'"]
    with app.test_request_context("/snapshots/"):
        assert row_message(log.details[0].as_dict()) == "неизвестный уровень 'gold'"
        assert errors_by_line(log.details) == {"файл": ["файл пуст"], "строка 3": ["неизвестный уровень 'gold'"]}


def test_the_api_answers_english_with_the_code_and_the_page_russian(
    client: FlaskClient, logged_in: Callable[[str], FlaskClient], api_token: Callable[..., str]
) -> None:
    token = api_token("draws:read")
    answer = client.get("/api/v1/draws/20990101-00000000", headers=bearer(token))
    body = answer.get_json()
    assert answer.status_code == 404
    assert body["status"] == "no_draw" and body["message"] == "no draw '20990101-00000000'" and body["request_id"]
    page = logged_in("marketing").get("/draws/20990101-00000000")
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "нет розыгрыша &#39;20990101-00000000&#39;" in html and "no draw" not in html


@pytest.mark.parametrize("path", ["/draws/20990101-00000000?lang=en"])
def test_an_english_page_stays_english(logged_in: Callable[[str], FlaskClient], path: str) -> None:
    html = logged_in("marketing").get(path).get_data(as_text=True)
    assert "no draw &#39;20990101-00000000&#39;" in html


def test_a_refusal_without_parameters_is_its_template(app: Flask) -> None:
    error = DomainError(N_("give at least one scope"), field="scopes", code="no_scope")
    with app.test_request_context("/admin/clients"):
        assert error.message == "укажите хотя бы одно право доступа"
        assert error.error_details() == {"scopes": ["укажите хотя бы одно право доступа"]}


def test_a_failed_job_says_its_refusal_in_the_page_language(app: Flask) -> None:
    from rewards.jobs.models import Job
    from rewards.jobs.services import error_text, refusal

    job = Job(state="failed", error_code="invalid_file", error_status=422,
              error_message="f.csv: 3 problem(s); nothing was loaded",
              error_template="%(file)s: %(total)s problem(s); nothing was loaded",
              error_params='{"file": "f.csv", "total": "3"}')
    assert error_text(job) == "f.csv: 3 problem(s); nothing was loaded"  # the consumer: English
    with app.test_request_context("/jobs/1"):
        assert error_text(job) == "f.csv: ошибок — 3; ничего не загружено"
    with app.test_request_context("/api/v1/jobs/1"):
        answer = refusal(job)
        assert answer is not None and answer.message == "f.csv: 3 problem(s); nothing was loaded"
        assert answer.code == "invalid_file" and answer.status == 422
    old = Job(state="failed", error_code="internal", error_message="RuntimeError: the error is in the consumer's log")
    with app.test_request_context("/jobs/1"):
        assert error_text(old) == old.error_message  # a job failed before templates: its stored text
