"""The draw pages' forms: a draft (new or edited) in marketing's words, the technical choices apart."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import BooleanField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from draws import engine, services
from rewards.errors import DomainError
from rewards.forms import (
    AccountField,
    AmountError,
    Form,
    LocalDateTimeField,
    format_rubles,
    options,
    parse_rubles,
    refusal_text,
)
from rewards.tiers import TIERS
from signedjson import parse_utc_timestamp, utc_timestamp

DEFAULT_WEIGHTS = {"responsible": 1, "ideal": 3}
PRIZE_MAX_KOPECKS = engine.MAX_PRIZE_KOPECKS
_PRIZE_LINE = re.compile(r"^(?P<amount>.+?)\s*[xх×*]\s*(?P<count>\d+)\s*$", re.IGNORECASE)
# Fields under the "advanced" fold: the page opens it when one of them has an error.
ADVANCED = ("algorithm", "entropy_type", "chain", "delay_minutes", "rfc_sources", "available_after", "entropy")


def parse_prize_lines(text: str) -> tuple[list[dict[str, int]], list[str]]:
    """Lines ``AMOUNT x COUNT`` with the amount in rubles (``4 000 x 10``, ``1500,50 × 2``): the prizes in
    kopecks, and one message per line that cannot be read."""
    prizes: list[dict[str, int]] = []
    problems: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _PRIZE_LINE.match(line.strip())
        if match is None:
            problems.append(str(_l("Line %(n)s: write the amount in rubles × the number of prizes, e.g. 4 000 × 10.",
                                   n=lineno)))
            continue
        try:
            amount = parse_rubles(match.group("amount"), maximum_kopecks=PRIZE_MAX_KOPECKS, allow_zero=False)
        except AmountError as exc:
            problems.append(str(_l("Line %(n)s: %(problem)s", n=lineno, problem=exc.args[0])))
            continue
        prizes.append({"amount_kopecks": amount, "count": int(match.group("count"))})
    return prizes, problems


def prize_lines(prizes: list[dict[str, int]]) -> str:
    """Stored prizes as the form writes them."""
    return "\n".join(f"{format_rubles(p['amount_kopecks'], sign=False)} × {p['count']}" for p in prizes)


class PrizesField(TextAreaField):  # type: ignore[misc]
    """Prize lines in rubles; ``data`` stays the text, ``prizes`` the parsed list."""

    prizes: list[dict[str, int]]

    def pre_validate(self, form: Any) -> None:
        self.prizes, problems = parse_prize_lines(self.data or "")
        self.errors.extend(problems)
        if not problems and not self.prizes:
            raise ValidationError(str(_l("List at least one prize.")))


class DraftForm(Form):
    """A draft draw. Marketing's part first; the technical choices (algorithm, randomness) have safe
    defaults and sit under the page's "advanced" fold."""

    name = StringField(_l("Name"), [DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), default="quarterly",
                       choices=options([("quarterly", _l("quarterly")), ("semi-annual", _l("semi-annual"))]))
    snapshot_period = StringField(_l("Tier snapshot (YYYY-MM, empty: the latest)"), [
        Optional(), Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", message=_l("Write the month as YYYY-MM."))])
    prizes = PrizesField(_l("Prizes, in order: amount in rubles × number of prizes, one line each"),
                         render_kw={"rows": 3, "placeholder": "4 000 × 10"})
    reserves = IntegerField(_l("Reserve winners"), [InputRequired(), NumberRange(min=0, max=1000)], default=5)
    freeze_at = LocalDateTimeField(_l("Deadline: entrants are fixed at (local time)"), [InputRequired()],
                                   render_kw={"step": "1"})
    witnesses = TextAreaField(
        _l("One witness per line, as python -m draws.witness keygen prints it (JSON), or: name; public key"),
        render_kw={"rows": 3})
    quorum = IntegerField(_l("Cosignatures needed before the draw may run"),
                          [InputRequired(), NumberRange(min=0, max=16)], default=1)
    unwitnessed = BooleanField(_l("unwitnessed draw (quorum 0): the public page and the verifier will say that "
                                  "nobody attests the freeze time"))
    exclusions = FileField(_l("Exclusion list (employees and others): a file, one account per line"))
    # advanced
    algorithm = SelectField(_l("Algorithm"), choices=options([
        (engine.ALGORITHM_WEIGHTED, _l("weighted (HMAC-SHA256, recommended)")),
        (engine.ALGORITHM_RFC3797, _l("RFC 3797 (unweighted, pool up to 65,535)")),
    ]), default=engine.ALGORITHM_WEIGHTED)
    entropy_type = RadioField(_l("Source of public randomness, fixed at announcement"), choices=options([
        ("drand", "drand"), ("rfc3797", _l("public numbers (RFC 3797)")),
    ]), default="drand")
    chain = SelectField(_l("drand chain"), choices=[])
    delay_minutes = IntegerField(_l("round: the first after the freeze time plus (minutes)"),
                                 [InputRequired(), NumberRange(min=0, max=30 * 24 * 60)], default=60)
    rfc_sources = TextAreaField(_l("Sources, one per line, in order (e.g. a state lottery's draw)"),
                                render_kw={"rows": 2})
    available_after = LocalDateTimeField(_l("Numbers published after (local time)"), [Optional()],
                                         render_kw={"step": "1"})

    def __init__(self, *args: Any, chains: Mapping[str, Any] = {}, **kwargs: Any) -> None:  # noqa: B006
        super().__init__(*args, **kwargs)
        self.chain.choices = options((name, name) for name in chains)

    def validate_rfc_sources(self, field: Any) -> None:
        if self.entropy_type.data == "rfc3797" and not (field.data or "").strip():
            raise ValidationError(str(_l("List the sources of the public numbers.")))

    def validate_available_after(self, field: Any) -> None:
        if self.entropy_type.data == "rfc3797" and field.data is None and not field.errors:
            raise ValidationError(str(_l("Enter a date and time.")))

    witness_list: list[dict[str, str]] = []

    def validate_witnesses(self, field: Any) -> None:
        try:
            self.witness_list = services.parse_witness_lines(field.data or "")
        except DomainError as exc:
            raise ValidationError(refusal_text(exc)) from exc

    def advanced_has_errors(self) -> bool:
        """Whether the "advanced" fold must open (one of its fields has an error)."""
        return any(self.errors_of(name) for name in ADVANCED)

    def draft(self, exclusions: list[str]) -> services.DraftInput:
        """The validated form as the service's input."""
        entropy: dict[str, Any]
        freeze_at = self.freeze_at.data
        assert freeze_at is not None  # validated: InputRequired
        if self.entropy_type.data == "rfc3797":
            entropy = {
                "type": "rfc3797",
                "sources": [line.strip() for line in (self.rfc_sources.data or "").splitlines() if line.strip()],
                "available_after": utc_timestamp(self.available_after.data or freeze_at),
            }
        else:
            entropy = {"type": "drand", "chain": self.chain.data, "delay_seconds": 60 * int(self.delay_minutes.data)}
        return services.DraftInput(
            name=self.name.data or "", kind=self.kind.data or "",
            tier_weights={tier: int(self[f"weight_{tier}"].data or 0) for tier in TIERS},
            prizes=self.prizes.prizes, reserves=int(self.reserves.data), freeze_at=freeze_at,
            entropy=entropy, snapshot_period=self.snapshot_period.data or None,
            algorithm=self.algorithm.data or engine.ALGORITHM_WEIGHTED, exclusions=exclusions,
            witnesses=self.witness_list, quorum=int(self.quorum.data),
            unwitnessed=bool(self.unwitnessed.data),
        )

    @classmethod
    def data_of(cls, draw: Any) -> dict[str, Any]:
        """A stored draft as the form's initial values (the edit page)."""
        weights = json.loads(draw.tier_weights)
        entropy = json.loads(draw.entropy_source)
        witnesses: dict[str, Any] = json.loads(draw.witnesses) if draw.witnesses else {"keys": [], "quorum": 0}
        data: dict[str, Any] = {
            "name": draw.name, "kind": draw.kind, "snapshot_period": draw.snapshot_period,
            "prizes": prize_lines(json.loads(draw.prizes)), "reserves": draw.reserves, "freeze_at": draw.freeze_at,
            "algorithm": draw.algorithm, "entropy_type": entropy.get("type", "drand"),
            "witnesses": "\n".join(json.dumps(w, ensure_ascii=False) for w in witnesses.get("keys", [])),
            "quorum": witnesses.get("quorum", 0), "unwitnessed": bool(witnesses.get("unwitnessed")),
        }
        data.update({f"weight_{tier}": weights.get(tier, 0) for tier in TIERS})
        if entropy.get("type") == "drand":
            data.update(chain=entropy.get("chain"), delay_minutes=int(entropy.get("delay_seconds", 3600)) // 60)
        else:
            data.update(rfc_sources="\n".join(entropy.get("sources", [])),
                        available_after=parse_utc_timestamp(entropy["available_after"]))
        return data


for _tier in TIERS:  # one weight field per tier, in the programme's order
    setattr(DraftForm, f"weight_{_tier}", IntegerField(
        _tier, [Optional(), NumberRange(min=0, max=1_000_000)], default=DEFAULT_WEIGHTS.get(_tier, 0)))


class DisqualifyForm(Form):
    """Disqualify a prize's holder: the prize as the pages number it (from 1)."""

    prize = IntegerField(_l("Prize"), [InputRequired(), NumberRange(min=1)])
    reason = StringField(_l("Public reason"), [DataRequired(), Length(max=500)])


class CancelForm(Form):
    """Cancel a draw, with the public reason."""

    reason = StringField(_l("Public reason"), [DataRequired(), Length(max=500)])


class RunForm(Form):
    """The entropy of a frozen draw: the public numbers, a drand round as JSON, or "fetch it"."""

    numbers = TextAreaField(_l("Public numbers, one source per line, in the announced order"))
    entropy = TextAreaField(_l("drand round as JSON"))
    fetch = BooleanField(_l("fetch it from the relay instead"))


class PublicCheckForm(Form):
    """A customer's account number and personal check code on a draw's public page. Not validated:
    every bad input gets the one answer the service gives (nothing is learnt from the refusal)."""

    account = AccountField(_l("Account number"))
    code = StringField(_l("Check code"), filters=[lambda text: (text or "").strip()])
