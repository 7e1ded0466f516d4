"""The draws JSON API (``/api/v1/draws``, ``/api/v1/draw-credits``): thin views over draws.services."""

from __future__ import annotations

import json
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from draws import jobs as draw_jobs
from draws import schemas, services, wiring
from draws.errors import DrawError
from draws.rfc3797 import parse_public_numbers
from rewards.actor import current_actor
from rewards.db import db
from rewards.errors import N_, DomainError
from rewards.jobs.start import answer, start
from rewards.policy import api, public

# Every operation but the public record and the freeze package needs a key.
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]
blp = Blueprint("draws-api", __name__, url_prefix="/api/v1/draws", description="Prize draws")
credits_blp = Blueprint("draw-credits-api", __name__, url_prefix="/api/v1/draw-credits",
                        description="Prize credits for billing")


def _commit(value: Any) -> Any:
    db.session.commit()
    return value


@blp.route("")
class Draws(MethodView):
    @api("draws:read")
    @blp.doc(security=SECURITY)
    @blp.response(200, schemas.DrawOutSchema(many=True))
    def get(self) -> Any:
        """Every draw, newest first."""
        return services.list_draws(db.session)

    @api("draws:write")
    @blp.doc(security=SECURITY)
    @blp.arguments(schemas.DraftInSchema)
    @blp.response(201, schemas.DrawOutSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a draft draw."""
        draft = services.DraftInput(**data)
        return _commit(services.create_draft(db.session, draft, actor=current_actor(), chains=wiring.chains(),
                                             yearly_cap_kopecks=wiring.yearly_cap()))


@blp.route("/<draw_id>")
class DrawOne(MethodView):
    @api("draws:read")
    @blp.doc(security=SECURITY)
    @blp.response(200, schemas.DrawOutSchema)
    def get(self, draw_id: str) -> Any:
        """One draw."""
        return services.get_draw(db.session, draw_id)


@blp.route("/<draw_id>/exclusions")
class Exclusions(MethodView):
    @api("draws:write")
    @blp.doc(security=SECURITY)
    @blp.arguments(schemas.ExclusionsInSchema)
    @blp.response(200, schemas.ExclusionsOutSchema)
    def put(self, data: dict[str, Any], draw_id: str) -> Any:
        """Replace a draft's exclusion list."""
        return _commit({"count": services.set_exclusions(db.session, draw_id, data["accounts"], actor=current_actor())})


JOB_202 = ("Queued: `{job, url}`; follow the job at `GET /api/v1/jobs/<id>` (scope `jobs:read`) until `finished`; "
           "its `result` then names the draw and its state")


def _draw_job(kind: str, draw_id: str, **more: Any) -> Any:
    """Run a draw step as a job: the draw if it already finished (the queue ran it at once), its refusal
    with the same status and details, or 202 with the job."""
    title = f"{draw_id} {services.get_draw(db.session, draw_id).name}"
    job = start(kind, draw_jobs.draw_params(draw_id, **more), title=title)
    return answer(job, lambda _: services.get_draw(db.session, draw_id))


@blp.route("/<draw_id>/freeze")
class DrawFreeze(MethodView):
    @api("draws:write")
    @blp.doc(security=SECURITY)
    @blp.response(200, schemas.DrawOutSchema)
    @blp.alt_response(202, description=JOB_202)
    def post(self, draw_id: str) -> Any:
        """Fix the entrant list (after the freeze time, before the entropy exists), as a background job."""
        return _draw_job(draw_jobs.FREEZE, draw_id)


def _step(name: str, doc: str, run: Any) -> None:
    class Step(MethodView):
        @api("draws:write")
        @blp.doc(security=SECURITY)
        @blp.response(200, schemas.DrawOutSchema)
        def post(self, draw_id: str) -> Any:
            return _commit(run(draw_id))

    Step.post.__doc__ = doc
    Step.__name__ = f"Draw{name.title()}"
    blp.route(f"/<draw_id>/{name}")(Step)


_step("announce", "Commit to a secret and publish the signed announcement.", lambda d: services.announce(
    db.session, d, actor=current_actor(), signer=wiring.signer(), box=wiring.box(), chains=wiring.chains()))
_step("publish", "Publish the result; prizes become credit orders.", lambda d: services.publish(
    db.session, d, actor=current_actor(), timezone=wiring.timezone()))


@blp.route("/<draw_id>/draw")
class DrawRun(MethodView):
    @api("draws:write")
    @blp.doc(security=SECURITY)
    @blp.arguments(schemas.EntropyInSchema)
    @blp.response(200, schemas.DrawOutSchema)
    @blp.alt_response(202, description=JOB_202)
    def post(self, data: dict[str, Any], draw_id: str) -> Any:
        """Enter the entropy (or fetch the drand round) and run the draw, once, as a background job."""
        if data.get("numbers"):
            try:
                value: dict[str, Any] = {"type": "rfc3797", "sources": parse_public_numbers(data["numbers"])}
            except DrawError as exc:
                raise DomainError.of(exc, field="numbers") from exc
        elif data.get("entropy"):
            value = data["entropy"]
            draw_jobs.check_value(value)
        elif data.get("fetch"):
            return _draw_job(draw_jobs.RUN, draw_id, fetch=True)
        else:
            raise DomainError(N_("give entropy, numbers or fetch"), field="entropy", code="no_entropy")
        return _draw_job(draw_jobs.RUN, draw_id, entropy=value)


@blp.route("/<draw_id>/cancel")
class DrawCancel(MethodView):
    @api("draws:write")
    @blp.doc(security=SECURITY)
    @blp.arguments(schemas.ReasonInSchema)
    @blp.response(200, schemas.DrawOutSchema)
    def post(self, data: dict[str, Any], draw_id: str) -> Any:
        """Cancel a draw not yet drawn (publicly once announced)."""
        return _commit(services.cancel(db.session, draw_id, data["reason"], actor=current_actor(),
                                       signer=wiring.signer()))


@blp.route("/<draw_id>/disqualifications")
class Disqualifications(MethodView):
    @api("draws:write")
    @blp.doc(security=SECURITY)
    @blp.arguments(schemas.DisqualifyInSchema)
    @blp.response(201, schemas.DisqualificationOutSchema)
    def post(self, data: dict[str, Any], draw_id: str) -> Any:
        """Disqualify the holder of a prize; it passes to the next reserve in published order."""
        record = services.disqualify(db.session, draw_id, data["prize_index"], data["reason"], actor=current_actor(),
                                     signer=wiring.signer())
        out = {"sequence": record.sequence, "prize_index": record.prize_index,
               "replaced": record.replacement_account is not None, "envelope": json.loads(record.envelope)}
        return _commit(out)


@blp.route("/<draw_id>/record")
class PublicRecord(MethodView):
    @public
    @blp.response(200, schemas.RecordSchema)
    def get(self, draw_id: str) -> Any:
        """The public record: signed announcement, freeze and result (masked accounts), weights."""
        return services.public_record_of(db.session, services.get_draw(db.session, draw_id), wiring.signer().keyset())


@blp.route("/<draw_id>/bundle")
class AuditorBundle(MethodView):
    @api("draws:audit")
    @blp.doc(security=SECURITY)
    @blp.response(200, schemas.RecordSchema)
    def get(self, draw_id: str) -> Any:
        """The auditor bundle: the record plus the full entrant list, salt key and exclusions."""
        draw = services.get_draw(db.session, draw_id)
        return services.auditor_bundle_of(db.session, draw, wiring.signer().keyset(), wiring.box())


@blp.route("/<draw_id>/verification")
class Verification(MethodView):
    @api("draws:audit")
    @blp.doc(security=SECURITY)
    @blp.response(200, schemas.VerificationSchema)
    def get(self, draw_id: str) -> Any:
        """Run the standalone verifier's checks on the auditor bundle."""
        keyset = wiring.signer().keyset()
        bundle = services.auditor_bundle_of(db.session, services.get_draw(db.session, draw_id), keyset, wiring.box())
        checks = services.verification(bundle, keyset, wiring.chains())  # the service's own key set and chains
        return {"ok": not any(c.failed for c in checks),
                "checks": [{"name": c.name, "section": c.section, "status": c.status, "reason": c.reason}
                           for c in checks]}


@blp.route("/<draw_id>/freeze-package")
class FreezePackage(MethodView):
    @public
    @blp.response(200, schemas.FreezePackageSchema)
    def get(self, draw_id: str) -> Any:
        """What the witnesses cosign: the signed announcement and freeze records with the key set."""
        return services.freeze_package_of(services.get_draw(db.session, draw_id), wiring.signer().keyset())


@blp.route("/<draw_id>/cosignatures")
class Cosignatures(MethodView):
    @api("draws:write")
    @blp.doc(security=SECURITY)
    @blp.arguments(schemas.CosignatureInSchema)
    @blp.response(201, schemas.QuorumOutSchema)
    def post(self, data: dict[str, Any], draw_id: str) -> Any:
        """Add a witness's cosignature of the freeze (refused unless valid and made before the entropy existed)."""
        row = services.add_cosignature(db.session, draw_id, data["cosignature"], actor=current_actor())
        quorum = services.quorum_status(db.session, services.get_draw(db.session, draw_id))
        return _commit({"witness": row.witness_name, "cosigned_at": row.cosigned_at, "counted": len(quorum.counted),
                        "quorum": quorum.quorum})


@blp.route("/<draw_id>/check-codes/<account:account>")
class CheckCode(MethodView):
    @api("cabinet:read")
    @blp.doc(security=SECURITY)
    @blp.response(200, schemas.CheckCodeSchema)
    def get(self, draw_id: str, account: str) -> Any:
        """An account's personal check code for the public "did I take part?" check (any account)."""
        draw = services.get_draw(db.session, draw_id)
        return {"draw_id": draw.public_id, "account": account,
                "check_code": services.check_code_for(db.session, draw, account, wiring.box())}


@blp.route("/<draw_id>/proofs/<account:account>")
class Proof(MethodView):
    @api("cabinet:read")
    @blp.doc(security=SECURITY)
    @blp.response(200, schemas.ProofSchema)
    def get(self, draw_id: str, account: str) -> Any:
        """A customer's inclusion proof (for the personal cabinet)."""
        return services.inclusion_proof(db.session, services.get_draw(db.session, draw_id), account, wiring.box())


@credits_blp.route("/batches")
class Batches(MethodView):
    @api("draws:write")
    @credits_blp.doc(security=SECURITY)
    @credits_blp.response(201, schemas.BatchOutSchema)
    @credits_blp.alt_response(202, description="Queued: `{job, url}`; follow the job at `GET /api/v1/jobs/<id>` "
                              "(scope `jobs:read`); its `result` names the batch (`batch_id`)")
    def post(self) -> Any:
        """Export every pending credit into a new batch, exactly once, as a background job."""
        job = start(draw_jobs.CREDITS, {}, title="credits")
        return answer(job, lambda done: services.get_batch(db.session,
                                                           int(json.loads(done.result or "{}")["batch_id"])))


@credits_blp.route("/batches/<int:batch_id>")
class BatchFile(MethodView):
    @api("draws:read")
    @credits_blp.doc(security=SECURITY)
    @credits_blp.response(200, {"type": "string"}, content_type="text/csv")
    def get(self, batch_id: int) -> Any:
        """The batch file (CSV), byte-identical at every download."""
        batch = services.get_batch(db.session, batch_id)
        return Response(batch.content, mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename=credits-{batch.id}.csv"})


@credits_blp.route("/confirmations")
class Confirmations(MethodView):
    @api("draws:write")
    @credits_blp.doc(security=SECURITY)
    @credits_blp.arguments(schemas.ConfirmationInSchema)
    @credits_blp.response(200, schemas.ConfirmationOutSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Billing's confirmation file: the listed credits are marked posted (all or nothing)."""
        return _commit(services.import_confirmation(db.session, data["content"], actor=current_actor()))
