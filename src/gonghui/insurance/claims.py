"""Claims with zero legwork: filed online by the member (or their unit's union), documents
checked at once, adjudicated per the plan, paid, every step in the history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gonghui.consents import service as consents
from gonghui.consents.rules import Purpose, Subject
from gonghui.core import audit
from gonghui.core.auth import Actor, Permission, Role
from gonghui.core.clock import business_date
from gonghui.core.committed import after_commit
from gonghui.core.db import insert_if_absent
from gonghui.core.errors import Conflict, Forbidden, InvalidInput
from gonghui.core.metrics import money_moved
from gonghui.core.money import Fen, format_fen
from gonghui.core.storage import ContentStore
from gonghui.insurance import service
from gonghui.insurance.claims_rules import (
    Adjudication,
    CalculationLine,
    ClaimRuleError,
    ClaimStatus,
    DocumentKind,
    FieldNote,
    Hospitalisation,
    RejectionCode,
    adjudicate,
    check_hospitalisation,
    check_transition,
    field_notes,
    missing_documents,
    missing_notice,
    not_covered_reason,
    payable_for,
    plan_year,
    time_barred,
    whose,
)
from gonghui.insurance.models import (
    Claim,
    ClaimAccumulator,
    ClaimDocument,
    ClaimEvent,
    Coverage,
    Plan,
)
from gonghui.members import queries as member_queries
from gonghui.members import service as member_service
from gonghui.members.queries import Member


@dataclass(frozen=True)
class Settlement:
    """The 医保结算单 figures, in fen."""

    total_fen: Fen
    fund_paid_fen: Fen
    policy_self_pay_fen: Fen
    class_b_self_pay_fen: Fen = 0
    fully_self_paid_fen: Fen = 0

    def fields(self) -> dict[str, Fen]:
        return {
            "policy_self_pay": self.policy_self_pay_fen,
            "class_b_self_pay": self.class_b_self_pay_fen,
            "fully_self_paid": self.fully_self_paid_fen,
        }

    def problems(self) -> list[str]:
        parts = (
            self.fund_paid_fen,
            self.policy_self_pay_fen,
            self.class_b_self_pay_fen,
            self.fully_self_paid_fen,
        )
        if any(value < 0 for value in (self.total_fen, *parts)):
            return ["结算单金额不能为负数"]
        if sum(parts) > self.total_fen:
            return ["统筹支付与各项自付之和不能超过医疗费用总额"]
        if self.total_fen == 0:
            return ["请填写医疗费用总额"]
        return []


def covering(session: Session, plan: Plan, member_id: int, day: date) -> Coverage | None:
    return session.scalars(
        select(Coverage).where(
            Coverage.plan_id == plan.id,
            Coverage.member_id == member_id,
            Coverage.starts_on <= day,
            Coverage.ends_on >= day,
        )
    ).first()


def used_this_year(session: Session, plan: Plan, member_id: int, year: int) -> Fen:
    used = session.scalar(
        select(ClaimAccumulator.used_fen).where(
            ClaimAccumulator.plan_id == plan.id,
            ClaimAccumulator.member_id == member_id,
            ClaimAccumulator.year == year,
        )
    )
    return used or 0


def estimate(
    session: Session,
    plan: Plan,
    member_id: int,
    admitted_on: date,
    settlement: Mapping[str, Fen] | Fen,
) -> Adjudication:
    """The trial calculation (试算): what the plan would pay now, from the settlement sheet's
    fields or from an eligible amount already summed."""
    terms = service.terms_of(service.version_on(session, plan, admitted_on))
    used = used_this_year(session, plan, member_id, plan_year(admitted_on))
    if isinstance(settlement, int):
        return payable_for(settlement, terms, used)
    return adjudicate(settlement, terms, used)


@dataclass(frozen=True)
class Trial:
    """The trial calculation as the filer reads it: why nothing is payable when the stay is not
    covered (then `result` is None), and which bill figures count."""

    result: Adjudication | None
    not_covered: str | None
    fields: tuple[FieldNote, ...]


def trial(
    session: Session,
    plan: Plan,
    member_id: int,
    admitted_on: date,
    settlement: Mapping[str, Fen],
    *,
    actor: Actor,
) -> Trial:
    """试算: cover first (nothing is promised for a stay no cover includes), then the
    calculation, with each settlement-sheet figure marked as counted or not and why."""
    terms = service.terms_of(service.version_on(session, plan, admitted_on))
    notes = field_notes(settlement, terms)
    reason = not_covered(session, plan, member_id, admitted_on, actor=actor)
    if reason is not None:
        return Trial(None, reason, notes)
    return Trial(estimate(session, plan, member_id, admitted_on, settlement), None, notes)


def not_covered(
    session: Session, plan: Plan, member_id: int, admitted_on: date, *, actor: Actor
) -> str | None:
    """Why no cover includes this admission date, worded to whoever asks; None if one does."""
    if covering(session, plan, member_id, admitted_on) is not None:
        return None
    return _not_covered(session, plan, member_id, admitted_on, actor)


def _not_covered(
    session: Session, plan: Plan, member_id: int, admitted_on: date, actor: Actor
) -> str:
    latest = session.execute(
        select(Coverage.starts_on, Coverage.ends_on)
        .where(Coverage.plan_id == plan.id, Coverage.member_id == member_id)
        .order_by(Coverage.starts_on.desc())
        .limit(1)
    ).first()
    owner = whose(oneself=actor.member_id == member_id)
    return not_covered_reason(admitted_on, owner, (latest[0], latest[1]) if latest else None)


def _member_in_reach(session: Session, actor: Actor, member_id: int) -> Member:
    actor.require(Permission.CLAIMS_SUBMIT)
    if actor.role is Role.MEMBER and actor.member_id != member_id:
        raise Forbidden("只能为本人申请理赔")
    return member_queries.member_for(session, actor, member_id)


def open_claim(
    session: Session,
    plan: Plan,
    *,
    member_id: int,
    card_id: int,
    stay: Hospitalisation,
    invoice_no: str,
    settlement: Settlement,
    actor: Actor,
    now: datetime,
) -> Claim:
    """A draft claim; refused at once when it could never be paid (not covered, time-barred,
    the invoice already claimed)."""
    member = _member_in_reach(session, actor, member_id)
    if not consents.has_consent(session, Subject.MEMBER, member.id, Purpose.MEDICAL_DOCUMENTS):
        # PIPL art. 29: medical records are sensitive; their processing needs the member's
        # separate consent, which an officer filing for them cannot give in their place.
        whose = "请先在“我的同意”页" if actor.member_id == member.id else "请该会员先在“我的同意”页"
        raise InvalidInput("consent_required", f"{whose}同意《医疗材料处理》后再申请理赔")
    today = business_date(now)
    problems = check_hospitalisation(stay, today) + settlement.problems()
    if not invoice_no.strip():
        problems.append("请填写发票号码")
    if problems:
        raise InvalidInput("bad_claim", "；".join(problems))
    if card_id not in {card.id for card in member_queries.cards_of(session, actor, member)}:
        owner = "本人" if actor.member_id == member.id else "该会员"
        raise InvalidInput("bad_card", f"请选择{owner}名下的会员卡收款")
    if time_barred(stay.discharged_on, today):
        raise InvalidInput("time_barred", "出院已超过两年，已过索赔时效")
    coverage = covering(session, plan, member.id, stay.admitted_on)
    if coverage is None:
        reason = _not_covered(session, plan, member.id, stay.admitted_on, actor)
        raise InvalidInput("not_covered", reason)
    _refuse_used_invoice(session, plan, invoice_no.strip())
    result = estimate(session, plan, member.id, stay.admitted_on, settlement.fields())
    claim = _draft(plan, member, card_id, coverage, stay, invoice_no, settlement)
    claim.estimated_fen = result.payable_fen
    claim.created_at = now
    try:
        # A savepoint, so that losing a race for the same invoice leaves the transaction usable.
        with session.begin_nested():
            session.add(claim)
    except IntegrityError:
        raise Conflict(
            "duplicate_invoice", f"发票号 {claim.invoice_no} 已申请过理赔，不能重复申请"
        ) from None
    _event(session, claim, None, ClaimStatus.DRAFT, actor, now, "创建理赔申请")
    audit.record(
        session,
        actor=actor,
        at=now,
        action="claim.opened",
        target_type="claim",
        target_id=claim.id,
        after={
            "status": ClaimStatus.DRAFT.value,
            "member_id": member.id,
            "invoice_no": claim.invoice_no,
            "total_fen": claim.total_fen,
            "estimated_fen": claim.estimated_fen,
        },
    )
    return claim


def _draft(
    plan: Plan,
    member: Member,
    card_id: int,
    coverage: Coverage,
    stay: Hospitalisation,
    invoice_no: str,
    settlement: Settlement,
) -> Claim:
    """The draft's row from what was filed (its estimate and creation time are set apart)."""
    return Claim(
        plan_id=plan.id,
        member_id=member.id,
        unit_id=member.unit_id,
        card_id=card_id,
        coverage_id=coverage.id,
        status=ClaimStatus.DRAFT,
        hospital=stay.hospital.strip(),
        admitted_on=stay.admitted_on,
        discharged_on=stay.discharged_on,
        diagnosis=stay.diagnosis.strip(),
        invoice_no=invoice_no.strip(),
        total_fen=settlement.total_fen,
        fund_paid_fen=settlement.fund_paid_fen,
        policy_self_pay_fen=settlement.policy_self_pay_fen,
        class_b_self_pay_fen=settlement.class_b_self_pay_fen,
        fully_self_paid_fen=settlement.fully_self_paid_fen,
        approved_fen=None,
        plan_version_id=None,
        calculation=None,
        rejection_code=None,
        decision_note=None,
        payment_ref=None,
        submitted_at=None,
        complete_at=None,
        decided_at=None,
        paid_at=None,
    )


def _refuse_used_invoice(session: Session, plan: Plan, invoice_no: str) -> None:
    used = session.scalars(
        select(Claim.id).where(
            Claim.plan_id == plan.id,
            Claim.invoice_no == invoice_no,
            Claim.status != ClaimStatus.WITHDRAWN,
        )
    ).first()
    if used is not None:
        raise Conflict("duplicate_invoice", f"发票号 {invoice_no} 已申请过理赔，不能重复申请")


def _event(
    session: Session,
    claim: Claim,
    old: ClaimStatus | None,
    new: ClaimStatus,
    actor: Actor,
    now: datetime,
    note: str,
) -> None:
    session.add(
        ClaimEvent(
            claim_id=claim.id,
            from_status=old,
            to_status=new,
            at=now,
            actor_label=actor.username,
            note=note[:500],
        )
    )


def _move(
    session: Session, claim: Claim, new: ClaimStatus, actor: Actor, now: datetime, note: str
) -> None:
    try:
        check_transition(claim.status, new)
    except ClaimRuleError as error:
        raise InvalidInput(error.code, error.message) from None
    old = claim.status
    claim.status = new
    _event(session, claim, old, new, actor, now, note)
    audit.record(
        session,
        actor=actor,
        at=now,
        action=f"claim.{new.value}",
        target_type="claim",
        target_id=claim.id,
        before={"status": old.value},
        after={"status": new.value},
    )


def documents_of(session: Session, claim: Claim) -> list[ClaimDocument]:
    return list(
        session.scalars(
            select(ClaimDocument)
            .where(ClaimDocument.claim_id == claim.id)
            .order_by(ClaimDocument.id)
        )
    )


def attach_document(
    session: Session,
    claim: Claim,
    kind: DocumentKind,
    filename: str,
    content: bytes,
    *,
    store: ContentStore,
    actor: Actor,
    now: datetime,
) -> ClaimDocument:
    """Add a document; when it completes a pending packet, the claim goes to review at once."""
    _member_in_reach(session, actor, claim.member_id)
    if claim.status not in {ClaimStatus.DRAFT, ClaimStatus.DOCUMENTS_PENDING}:
        raise InvalidInput("claim_locked", "该申请已进入审核，不能再上传材料")
    stored = store.put(content)
    document = ClaimDocument(
        claim_id=claim.id,
        kind=kind,
        filename=filename[:200] or kind.label,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        uploaded_at=now,
    )
    session.add(document)
    session.flush()
    audit.record(
        session,
        actor=actor,
        at=now,
        action="claim.document_attached",
        target_type="claim",
        target_id=claim.id,
        after={"document_id": document.id, "kind": kind.value, "sha256": stored.sha256},
    )
    if claim.status is ClaimStatus.DOCUMENTS_PENDING and not _missing(session, claim):
        claim.complete_at = now
        _move(session, claim, ClaimStatus.UNDER_REVIEW, actor, now, "材料已齐全，进入审核")
    return document


def _missing(session: Session, claim: Claim) -> list[DocumentKind]:
    return missing_documents(document.kind for document in documents_of(session, claim))


def submit_claim(
    session: Session, claim: Claim, *, actor: Actor, now: datetime
) -> list[DocumentKind]:
    """Submit; returns what is still missing (listed to the member in one notice)."""
    _member_in_reach(session, actor, claim.member_id)
    _move(session, claim, ClaimStatus.SUBMITTED, actor, now, "提交申请")
    claim.submitted_at = now
    missing = _missing(session, claim)
    if missing:
        notice = missing_notice(missing)
        _move(session, claim, ClaimStatus.DOCUMENTS_PENDING, actor, now, notice)
        member_service.notify_member(
            session,
            claim.member_id,
            "理赔材料待补充",
            notice,
            now=now,
            link=f"/insurance/claims/{claim.id}",
        )
    else:
        claim.complete_at = now
        _move(session, claim, ClaimStatus.UNDER_REVIEW, actor, now, "材料齐全，进入审核")
    return missing


def withdraw_claim(session: Session, claim: Claim, *, actor: Actor, now: datetime) -> None:
    _member_in_reach(session, actor, claim.member_id)
    _move(session, claim, ClaimStatus.WITHDRAWN, actor, now, "申请人撤回")


def _locked_accumulator(session: Session, claim: Claim) -> ClaimAccumulator:
    """The member's cap row for the claim's year, locked until the transaction ends: two
    adjusters approving two claims of one member at once are served one after the other."""
    keys = {
        "plan_id": claim.plan_id,
        "member_id": claim.member_id,
        "year": plan_year(claim.admitted_on),
    }
    insert_if_absent(session, ClaimAccumulator, {**keys, "used_fen": 0}, list(keys))
    return session.scalars(
        select(ClaimAccumulator)
        .filter_by(**keys)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def approve_claim(
    session: Session, claim: Claim, *, note: str = "", actor: Actor, now: datetime
) -> Adjudication:
    """Approve what the plan pays for this claim, in full."""
    decision = _decision(session, claim, actor)
    result, granted = decision.result, _payable(decision.result)
    decision.record(claim, now)
    _grant(session, claim, decision, granted, None, note, actor, now)
    _notify_decision(
        session,
        claim,
        f"您的理赔申请已核定，赔付金额 {format_fen(granted)}，将在10日内支付。",
        now,
    )
    return result


def approve_part_of_claim(
    session: Session,
    claim: Claim,
    *,
    amount_fen: Fen,
    reason: RejectionCode | None,
    note: str = "",
    actor: Actor,
    now: datetime,
) -> Adjudication:
    """Approve less than the plan pays (some of the bills are not covered), saying why; the
    calculation as decided gains what was granted and what is left of the year's cap."""
    decision = _decision(session, claim, actor)
    result, payable = decision.result, _payable(decision.result)
    if not 0 < amount_fen < payable:
        raise InvalidInput(
            "bad_amount", f"部分核准金额应大于0且小于应赔付金额 {format_fen(payable)}"
        )
    if reason is None:
        raise InvalidInput("reason_required", "部分核准须选择原因")
    decision.record(claim, now)
    _grant(session, claim, decision, amount_fen, reason, note, actor, now)
    why = reason.label + (f"（{note.strip()}）" if note.strip() else "")
    decided = [
        CalculationLine(f"核定赔付（部分核准：{why}）", amount_fen),
        CalculationLine("核定后本年度剩余额度", result.remaining_before_fen - amount_fen),
    ]
    claim.calculation = [
        *(claim.calculation or []),
        *({"label": line.label, "amount_fen": line.amount_fen} for line in decided),
    ]
    _notify_decision(
        session,
        claim,
        f"您的理赔申请已部分核准：按计划应赔付 {format_fen(payable)}，"
        f"核定赔付 {format_fen(amount_fen)}，核减原因：{why}。款项将在10日内支付。",
        now,
    )
    return replace(
        result,
        payable_fen=amount_fen,
        remaining_after_fen=result.remaining_before_fen - amount_fen,
        lines=(*result.lines, *decided),
    )


def reject_claim(
    session: Session,
    claim: Claim,
    *,
    reason: RejectionCode | None,
    note: str = "",
    actor: Actor,
    now: datetime,
) -> Adjudication:
    """Pay nothing, for a stated reason the member is told."""
    decision = _decision(session, claim, actor)
    if reason is None:
        raise InvalidInput("reason_required", "拒赔须选择拒赔原因")
    decision.record(claim, now)
    claim.rejection_code, claim.decision_note, claim.approved_fen = reason, note.strip() or None, 0
    _move(session, claim, ClaimStatus.REJECTED, actor, now, f"拒赔：{reason.label} {note}".strip())
    _notify_decision(session, claim, f"很遗憾，您的理赔申请未获赔付：{reason.label}。", now)
    return decision.result


def _decision(session: Session, claim: Claim, actor: Actor) -> Decision:
    """What every decision starts with: the adjuster's right, a claim under review, the year's
    cap locked, and the plan's calculation under the version in force on admission."""
    actor.require(Permission.CLAIMS_ADJUDICATE)
    if claim.status is not ClaimStatus.UNDER_REVIEW:
        raise InvalidInput(
            "not_under_review", f"只有审核中的申请可以核定（当前：{claim.status.label}）"
        )
    accumulator = _locked_accumulator(session, claim)
    version = service.version_on(
        session, service.plan_by_id(session, claim.plan_id), claim.admitted_on
    )
    result = adjudicate(claim_fields(claim), service.terms_of(version), accumulator.used_fen)
    return Decision(result, accumulator, version.id)


@dataclass(frozen=True)
class Decision:
    """A decision about to be taken: the plan's calculation and the year's locked cap. Nothing
    is written to the claim until the use case has checked its own inputs (`record`), so a
    refused decision leaves the claim as it was."""

    result: Adjudication
    accumulator: ClaimAccumulator
    version_id: int

    def record(self, claim: Claim, now: datetime) -> None:
        claim.plan_version_id = self.version_id
        claim.calculation = [
            {"label": line.label, "amount_fen": line.amount_fen} for line in self.result.lines
        ]
        claim.decided_at = now


def _payable(result: Adjudication) -> Fen:
    if result.payable_fen <= 0:
        raise InvalidInput("nothing_payable", "按计划本次应赔付为0，请选择拒赔并注明原因")
    return result.payable_fen


def _grant(
    session: Session,
    claim: Claim,
    decision: Decision,
    granted: Fen,
    reason: RejectionCode | None,
    note: str,
    actor: Actor,
    now: datetime,
) -> None:
    result = decision.result
    _add_to_cap(session, decision.accumulator, granted, result)
    claim.approved_fen, claim.rejection_code, claim.decision_note = (
        granted,
        reason,
        note.strip() or None,
    )
    partial = granted < result.payable_fen
    new = ClaimStatus.PARTIALLY_APPROVED if partial else ClaimStatus.APPROVED
    _move(session, claim, new, actor, now, f"核定赔付 {format_fen(granted)}")


def claim_fields(claim: Claim) -> dict[str, Fen]:
    return {
        "policy_self_pay": claim.policy_self_pay_fen,
        "class_b_self_pay": claim.class_b_self_pay_fen,
        "fully_self_paid": claim.fully_self_paid_fen,
    }


def _add_to_cap(
    session: Session, accumulator: ClaimAccumulator, granted: Fen, result: Adjudication
) -> None:
    # Belt and braces: the row is locked, and the update itself refuses to pass the cap.
    cap = result.remaining_before_fen + accumulator.used_fen
    updated = session.execute(
        update(ClaimAccumulator)
        .where(ClaimAccumulator.id == accumulator.id, ClaimAccumulator.used_fen + granted <= cap)
        .values(used_fen=ClaimAccumulator.used_fen + granted)
    )
    if updated.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("cap_exceeded", "该会员本年度赔付额度不足，请刷新后重新核定")


def _notify_decision(session: Session, claim: Claim, body: str, now: datetime) -> None:
    member_service.notify_member(
        session,
        claim.member_id,
        "理赔申请已核定",
        body,
        now=now,
        link=f"/insurance/claims/{claim.id}",
    )


def record_payment(
    session: Session, claim: Claim, reference: str, *, actor: Actor, now: datetime
) -> None:
    actor.require(Permission.CLAIMS_ADJUDICATE)
    if not reference.strip():
        raise InvalidInput("reference_required", "请填写支付流水号")
    claim.payment_ref, claim.paid_at = reference.strip()[:64], now
    _move(session, claim, ClaimStatus.PAID, actor, now, f"已支付，流水号 {reference.strip()}")
    paid, claim_id = claim.approved_fen or 0, claim.id
    after_commit(
        session,
        lambda: money_moved("claim_payment", paid, claim=claim_id, actor=actor.username),
    )
    member_service.notify_member(
        session,
        claim.member_id,
        "理赔款已支付",
        f"{format_fen(claim.approved_fen or 0)} 已支付到您的会员卡，流水号 {reference.strip()}。",
        now=now,
        link=f"/insurance/claims/{claim.id}",
    )


def events_of(session: Session, claim: Claim) -> list[ClaimEvent]:
    return list(
        session.scalars(
            select(ClaimEvent).where(ClaimEvent.claim_id == claim.id).order_by(ClaimEvent.id)
        )
    )
