"""Plans: created, amended by new versions, joined by banks and units."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import Actor, Permission
from gonghui.core.errors import Conflict, InvalidInput, NotFound
from gonghui.insurance.models import Plan, PlanBank, PlanUnit, PlanVersion
from gonghui.insurance.rules import SETTLEMENT_FIELDS, Terms


def terms_of(version: PlanVersion) -> Terms:
    return Terms(
        threshold_fen=version.threshold_fen,
        period_kind=version.period_kind,
        coverage_lag=version.coverage_lag,
        day_count=version.day_count,
        annual_cap_fen=version.annual_cap_fen,
        deductible_fen=version.deductible_fen,
        ratio_bp=version.ratio_bp,
        eligible_fields=tuple(version.eligible_fields),
        min_group_size=version.min_group_size,
    )


def _check_terms(terms: Terms) -> None:
    problems = [
        message
        for message, bad in (
            ("达标日均余额必须大于0", terms.threshold_fen <= 0),
            ("年度赔付上限必须大于0", terms.annual_cap_fen <= 0),
            ("免赔额不能为负数", terms.deductible_fen < 0),
            ("赔付比例应在0%至100%之间", not 0 < terms.ratio_bp <= 10_000),  # noqa: PLR2004
            ("保障期滞后期数应为0至12", not 0 <= terms.coverage_lag <= 12),  # noqa: PLR2004
            ("至少选择一项结算单费用", not terms.eligible_fields),
            (
                "结算单费用项目不正确",
                any(field not in SETTLEMENT_FIELDS for field in terms.eligible_fields),
            ),
            ("团体最低人数应大于0", terms.min_group_size is not None and terms.min_group_size < 1),
        )
        if bad
    ]
    if problems:
        raise InvalidInput("bad_terms", "；".join(problems))


def _new_version(
    plan: Plan, number: int, terms: Terms, effective_from: date, actor: Actor, now: datetime
) -> PlanVersion:
    return PlanVersion(
        plan_id=plan.id,
        version=number,
        effective_from=effective_from,
        threshold_fen=terms.threshold_fen,
        period_kind=terms.period_kind,
        coverage_lag=terms.coverage_lag,
        day_count=terms.day_count,
        annual_cap_fen=terms.annual_cap_fen,
        deductible_fen=terms.deductible_fen,
        ratio_bp=terms.ratio_bp,
        eligible_fields=list(terms.eligible_fields),
        min_group_size=terms.min_group_size,
        created_at=now,
        created_by=actor.username,
    )


def create_plan(
    session: Session,
    *,
    code: str,
    name: str,
    insurer: str,
    terms: Terms,
    effective_from: date,
    bank_ids: Iterable[int],
    actor: Actor,
    now: datetime,
) -> Plan:
    actor.require(Permission.INSURANCE_MANAGE)
    _check_terms(terms)
    if session.scalars(select(Plan.id).where(Plan.code == code)).first() is not None:
        raise Conflict("plan_exists", f"计划代码 {code} 已存在")
    plan = Plan(code=code, name=name, insurer=insurer, created_at=now)
    session.add(plan)
    session.flush()
    session.add(_new_version(plan, 1, terms, effective_from, actor, now))
    session.add_all(PlanBank(plan_id=plan.id, bank_id=bank_id) for bank_id in set(bank_ids))
    session.flush()
    audit.record(
        session,
        actor=actor,
        at=now,
        action="plan.created",
        target_type="plan",
        target_id=plan.id,
        after={"code": code, **_plain(terms)},
    )
    return plan


def amend_plan(
    session: Session, plan: Plan, terms: Terms, effective_from: date, *, actor: Actor, now: datetime
) -> PlanVersion:
    """New terms from a date on; earlier assessments and adjudications keep their version."""
    actor.require(Permission.INSURANCE_MANAGE)
    _check_terms(terms)
    latest = latest_version(session, plan)
    if effective_from < latest.effective_from:
        raise InvalidInput("bad_effective_date", "新版本的生效日期不能早于当前版本")
    version = _new_version(plan, latest.version + 1, terms, effective_from, actor, now)
    session.add(version)
    session.flush()
    audit.record(
        session,
        actor=actor,
        at=now,
        action="plan.amended",
        target_type="plan",
        target_id=plan.id,
        before=_plain(terms_of(latest)),
        after=_plain(terms),
    )
    return version


def _plain(terms: Terms) -> dict[str, object]:
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in asdict(terms).items()
    }


def enroll_units(
    session: Session,
    plan: Plan,
    unit_ids: Iterable[int],
    joined_on: date,
    *,
    actor: Actor,
    now: datetime,
) -> int:
    actor.require(Permission.INSURANCE_MANAGE)
    enrolled = set(session.scalars(select(PlanUnit.unit_id).where(PlanUnit.plan_id == plan.id)))
    new = sorted(set(unit_ids) - enrolled)
    session.add_all(
        PlanUnit(plan_id=plan.id, unit_id=unit_id, joined_on=joined_on) for unit_id in new
    )
    session.flush()
    if new:
        audit.record(
            session,
            actor=actor,
            at=now,
            action="plan.units_enrolled",
            target_type="plan",
            target_id=plan.id,
            after={"units": len(new)},
        )
    return len(new)


def plan_by_code(session: Session, code: str | None = None) -> Plan:
    """The named plan, or the only one when no code is given."""
    statement = select(Plan).order_by(Plan.id)
    if code:
        statement = statement.where(Plan.code == code)
    plans = session.scalars(statement.limit(2)).all()
    if not plans:
        raise NotFound(f"保险计划{code or ''}")
    if len(plans) > 1 and not code:
        raise InvalidInput("plan_required", "存在多个保险计划，请用 --plan 指定计划代码")
    return plans[0]


def plan_by_id(session: Session, plan_id: int) -> Plan:
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound("保险计划")
    return plan


def latest_version(session: Session, plan: Plan) -> PlanVersion:
    version = session.scalars(
        select(PlanVersion)
        .where(PlanVersion.plan_id == plan.id)
        .order_by(PlanVersion.version.desc())
    ).first()
    if version is None:
        raise NotFound("计划版本")
    return version


def version_on(session: Session, plan: Plan, day: date) -> PlanVersion:
    """The version in force on a day (the last one effective on or before it)."""
    version = session.scalars(
        select(PlanVersion)
        .where(PlanVersion.plan_id == plan.id, PlanVersion.effective_from <= day)
        .order_by(PlanVersion.effective_from.desc(), PlanVersion.version.desc())
    ).first()
    if version is None:
        raise InvalidInput("plan_not_in_force", f"保险计划 {plan.code} 在 {day} 尚未生效")
    return version


def plan_bank_ids(session: Session, plan: Plan) -> list[int]:
    return list(session.scalars(select(PlanBank.bank_id).where(PlanBank.plan_id == plan.id)))


def enrolled_unit_ids(session: Session, plan: Plan) -> set[int]:
    return set(session.scalars(select(PlanUnit.unit_id).where(PlanUnit.plan_id == plan.id)))
