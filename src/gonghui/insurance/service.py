"""Plans: created, amended by new versions, joined by banks and units."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date
from gonghui.core.errors import Conflict, InvalidInput, NotFound
from gonghui.core.money import format_fen
from gonghui.insurance.models import Plan, PlanBank, PlanUnit, PlanVersion
from gonghui.insurance.rules import SETTLEMENT_FIELDS, Terms
from gonghui.members import queries as member_queries


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
    if not code or not name or not insurer:
        raise InvalidInput("plan_fields_required", "请填写计划代码、名称和承保保险公司")
    if session.scalars(select(Plan.id).where(Plan.code == code)).first() is not None:
        raise Conflict("plan_exists", f"计划代码 {code} 已存在")
    bank_ids = set(bank_ids)
    partners = {bank.id for bank in member_queries.all_banks(session)}
    partners -= member_queries.retired_bank_ids(session, effective_from)
    if not bank_ids or not bank_ids <= partners:
        raise InvalidInput("bad_banks", "请选择合作中的银行")
    plan = Plan(code=code, name=name, insurer=insurer, created_at=now)
    session.add(plan)
    session.flush()
    session.add(_new_version(plan, 1, terms, effective_from, actor, now))
    session.add_all(PlanBank(plan_id=plan.id, bank_id=bank_id) for bank_id in sorted(bank_ids))
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


def check_amendment(
    session: Session, plan: Plan, terms: Terms, effective_from: date, *, now: datetime
) -> PlanVersion:
    """Refuse a new version that could not be made; returns the latest version otherwise.

    The date is today or later: a version reaching back would change the terms of periods
    already assessed and of claims already admitted."""
    _check_terms(terms)
    latest = latest_version(session, plan)
    if effective_from < business_date(now):
        raise InvalidInput("bad_effective_date", "新版本的生效日期不能早于今天")
    if effective_from < latest.effective_from:
        raise InvalidInput(
            "bad_effective_date",
            f"新版本的生效日期不能早于第{latest.version}版（{latest.effective_from}）",
        )
    if terms == terms_of(latest):
        raise InvalidInput("terms_unchanged", f"条款与第{latest.version}版相同，无需新版本")
    return latest


def amend_plan(
    session: Session, plan: Plan, terms: Terms, effective_from: date, *, actor: Actor, now: datetime
) -> PlanVersion:
    """New terms from a date on; earlier assessments and adjudications keep their version."""
    actor.require(Permission.INSURANCE_MANAGE)
    latest = check_amendment(session, plan, terms, effective_from, now=now)
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
        after={**_plain(terms), "version": version.version, "effective_from": str(effective_from)},
    )
    return version


def _plain(terms: Terms) -> dict[str, object]:
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in asdict(terms).items()
    }


def _covers(spell: PlanUnit, day: date) -> bool:
    return spell.joined_on <= day and (spell.left_on is None or day < spell.left_on)


def enroll_units(
    session: Session,
    plan: Plan,
    unit_ids: Iterable[int],
    joined_on: date,
    *,
    actor: Actor,
    now: datetime,
) -> int:
    """Enrol units from a day on. A unit already enrolled on that day keeps its spell as it
    is (its date, and a leave already planned); a unit due to join later joins from this day
    instead; any other starts a new spell. Returns how many units joined."""
    actor.require(Permission.INSURANCE_MANAGE)
    spells: dict[int, list[PlanUnit]] = {}
    for spell in session.scalars(_enrolments(plan)):
        spells.setdefault(spell.unit_id, []).append(spell)
    joined = []
    for unit_id in sorted(set(unit_ids)):
        own = spells.get(unit_id, [])
        if any(_covers(spell, joined_on) for spell in own):
            continue
        later = [spell for spell in own if spell.joined_on > joined_on]
        if later:
            # Joining earlier than a spell already planned: that spell starts sooner.
            min(later, key=lambda spell: spell.joined_on).joined_on = joined_on
        else:
            session.add(
                PlanUnit(plan_id=plan.id, unit_id=unit_id, joined_on=joined_on, left_on=None)
            )
        joined.append(unit_id)
    session.flush()
    if joined:
        audit.record(
            session,
            actor=actor,
            at=now,
            action="plan.units_enrolled",
            target_type="plan",
            target_id=plan.id,
            after={"units": len(joined), "from": str(joined_on), "unit_ids": joined[:1000]},
        )
    return len(joined)


def unenroll_units(
    session: Session,
    plan: Plan,
    unit_ids: Iterable[int],
    left_on: date,
    *,
    actor: Actor,
    now: datetime,
) -> int:
    """Units leave the plan from a day on (today or later): their members are no longer
    assessed for periods ending on or after it. Cover already granted stays; a spell planned to
    start on or after that day is dropped."""
    actor.require(Permission.INSURANCE_MANAGE)
    if left_on < business_date(now):
        raise InvalidInput("bad_leave_date", "退出日期不能早于今天")
    wanted = set(unit_ids)
    leaving: set[int] = set()
    for spell in session.scalars(_enrolments(plan).where(PlanUnit.unit_id.in_(wanted))):
        if spell.joined_on >= left_on:
            session.delete(spell)
            leaving.add(spell.unit_id)
        elif spell.left_on is None or spell.left_on > left_on:
            spell.left_on = left_on
            leaving.add(spell.unit_id)
    session.flush()
    if leaving:
        audit.record(
            session,
            actor=actor,
            at=now,
            action="plan.units_left",
            target_type="plan",
            target_id=plan.id,
            after={"units": len(leaving), "from": str(left_on), "unit_ids": sorted(leaving)[:1000]},
        )
    return len(leaving)


def _enrolments(plan: Plan) -> Select[PlanUnit]:
    return select(PlanUnit).where(PlanUnit.plan_id == plan.id).order_by(PlanUnit.unit_id)


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


def plan_bank_ids(session: Session, plan: Plan, on: date | None = None) -> list[int]:
    """The plan's banks; with a day, those still in partnership on it (a retired bank's cards
    are not assessed for periods starting on or after its retirement)."""
    banks = session.scalars(
        select(PlanBank.bank_id).where(PlanBank.plan_id == plan.id).order_by(PlanBank.bank_id)
    )
    retired = member_queries.retired_bank_ids(session, on) if on is not None else set()
    return [bank_id for bank_id in banks if bank_id not in retired]


def _enrolled_on(on: date) -> ColumnElement[bool]:
    """A plan-unit row in force on a day: joined by it, not yet left."""
    return and_(PlanUnit.joined_on <= on, or_(PlanUnit.left_on.is_(None), PlanUnit.left_on > on))


def enrolled_unit_ids(session: Session, plan: Plan, on: date) -> set[int]:
    """Units enrolled on a day. The assessment asks about the period's last day: a unit that
    joins during a period has its members assessed for the whole period, and one that leaves
    during it does not."""
    return set(
        session.scalars(
            select(PlanUnit.unit_id).where(PlanUnit.plan_id == plan.id, _enrolled_on(on))
        )
    )


def unit_enrolled(session: Session, plan: Plan, unit_id: int, on: date) -> bool:
    """Whether one unit is enrolled on a day (as `enrolled_unit_ids` counts it), without
    reading every enrolled unit: a member's page asks this about their own unit."""
    return (
        session.scalar(
            select(PlanUnit.unit_id)
            .where(
                PlanUnit.plan_id == plan.id,
                PlanUnit.unit_id == unit_id,
                _enrolled_on(on),
            )
            .limit(1)
        )
        is not None
    )


def enrolment_counts(session: Session, on: date) -> dict[int, int]:
    """Units enrolled on a day, per plan (the plan list's figure)."""
    rows = session.execute(
        select(PlanUnit.plan_id, func.count(PlanUnit.unit_id.distinct()))
        .where(_enrolled_on(on))
        .group_by(PlanUnit.plan_id)
    )
    return {int(plan_id): int(count) for plan_id, count in rows}


def versions_of(session: Session, plan: Plan) -> list[PlanVersion]:
    return list(
        session.scalars(
            select(PlanVersion).where(PlanVersion.plan_id == plan.id).order_by(PlanVersion.version)
        )
    )


def all_plans(session: Session) -> list[Plan]:
    return list(session.scalars(select(Plan).order_by(Plan.id)))


_PERIOD_LABELS = {"month": "按月", "quarter": "按季", "year": "按年"}
_DAY_COUNT_LABELS = {"calendar": "自然日（开卡前按0计）", "card_days": "仅计开卡后天数"}


def terms_lines(terms: Terms) -> list[tuple[str, str]]:
    """A version's terms as people read them, in a fixed order."""
    return [
        ("达标日均余额", format_fen(terms.threshold_fen)),
        ("考核周期", _PERIOD_LABELS[terms.period_kind.value]),
        ("保障期滞后", f"{terms.coverage_lag} 期"),
        ("天数计法", _DAY_COUNT_LABELS[terms.day_count.value]),
        ("每人每年赔付上限", format_fen(terms.annual_cap_fen)),
        ("免赔额", format_fen(terms.deductible_fen)),
        ("赔付比例", f"{terms.ratio_bp / 100:g}%"),
        ("可报销费用", "、".join(SETTLEMENT_FIELDS[field] for field in terms.eligible_fields)),
        ("团体最低人数", str(terms.min_group_size) if terms.min_group_size else "不设"),
    ]


@dataclass(frozen=True)
class TermChange:
    label: str
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def compare_terms(before: Terms, after: Terms) -> list[TermChange]:
    """Every term side by side; `changed` marks what a new version would change."""
    return [
        TermChange(label, old, new)
        for (label, old), (_label, new) in zip(terms_lines(before), terms_lines(after), strict=True)
    ]
