"""The demo federation's scheme: a plan, a year of daily balances for every card, the monthly
assessments, and a few hundred claims in every state.

The balances are written straight to the columnar store by DuckDB (the demo's own generated
rows need no checking); everything else goes through the services, as real work would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.consents import service as consents
from gonghui.consents.rules import Purpose, Subject
from gonghui.core.auth import Actor, Role
from gonghui.core.clock import BUSINESS_TZ, business_date
from gonghui.core.storage import ContentStore
from gonghui.insurance import assessment, claims, parts, service
from gonghui.insurance.balances import Source
from gonghui.insurance.claims import Settlement, claim_fields
from gonghui.insurance.claims_rules import ClaimStatus, DocumentKind, Hospitalisation, RejectionCode
from gonghui.insurance.models import BalanceImport, Coverage, Plan
from gonghui.insurance.rules import Terms
from gonghui.insurance.store import BalanceStore, staged
from gonghui.members import queries as member_queries

DEMO = Actor(user_id=None, username="demo", role=Role.ADMIN, display_name="演示数据")
ADJUSTER = Actor(
    user_id=None, username="demo-adjuster", role=Role.INSURER_ADJUSTER, display_name="演示理赔员"
)
# The member persona keeps 1,500 yuan on the card: short of the line every month, so the demo
# shows the explanation a member reads, and a new month above the line shows cover arriving.
_CARD_COLUMNS = {"card_no": "VARCHAR", "opened_on": "DATE", "fixed_level": "BIGINT"}
PERSONA = "member"
PERSONA_LEVEL_FEN = 150_000
HOSPITALS = (
    "烟台毓璜顶医院",
    "烟台山医院",
    "烟台市中医医院",
    "滨州医学院烟台附属医院",
    "莱阳中心医院",
)
DIAGNOSES = ("肺炎", "急性阑尾炎", "腰椎间盘突出症", "冠心病", "胆结石", "骨折", "糖尿病", "脑梗死")
# How many claims end in each state, so that every screen has something to show. The adjuster's
# queue (under review, approved, partly approved) stays under a page of 50, so that a claim
# completed today is on its first page, as it would be in a queue that keeps up.
CLAIM_MIX = {
    ClaimStatus.PAID: 158,
    ClaimStatus.UNDER_REVIEW: 24,
    ClaimStatus.APPROVED: 15,
    ClaimStatus.PARTIALLY_APPROVED: 9,
    ClaimStatus.REJECTED: 25,
    ClaimStatus.DOCUMENTS_PENDING: 30,
    ClaimStatus.DRAFT: 20,
    ClaimStatus.WITHDRAWN: 20,
}


@dataclass(frozen=True)
class InsuranceDemo:
    plan_code: str
    balance_rows: int
    months_assessed: int
    claims: int


def load(
    session: Session,
    *,
    now: datetime,
    store: BalanceStore,
    documents: ContentStore,
    seed: int = 2025,
) -> InsuranceDemo:
    rng = random.Random(seed)  # noqa: S311 - synthetic data
    today = business_date(now)
    first_month = date(today.year - 1, today.month, 1)
    plan = _plan(session, now, first_month)
    # A bank reports a day only once it has ended: the balances run to yesterday.
    rows = _balances(session, store, first_month, today - timedelta(days=1), now)
    months = 0
    month = first_month
    while month < today.replace(day=1):
        assessment.assess(session, plan, month, actor=DEMO, now=now, store=store)
        months += 1
        month = (month + timedelta(days=32)).replace(day=1)
    made = _claims(session, plan, documents, rng, today)
    return InsuranceDemo(plan.code, rows, months, made)


def _plan(session: Session, now: datetime, starts: date) -> Plan:
    banks = member_queries.all_banks(session)
    plan = service.create_plan(
        session,
        code="YT-1K1J",
        name="烟台市职工补充住院医疗保险（一卡一计划）",
        insurer="合作保险公司",
        terms=Terms(),
        effective_from=starts,
        bank_ids=[bank.id for bank in banks],
        actor=DEMO,
        now=now,
    )
    units = [unit.id for unit in session.scalars(member_queries.export_units(DEMO))]
    # Most units have joined; a few have not yet, so that the roll shows both.
    service.enroll_units(session, plan, units[: len(units) * 9 // 10], starts, actor=DEMO, now=now)
    return plan


def _balances(session: Session, store: BalanceStore, first: date, last: date, now: datetime) -> int:
    """Daily end-of-day balances for every card, one part per bank: a level per card (about
    half the cards above the 2,000-yuan line) that moves week by week."""
    total = 0
    found = member_queries.member_of_user(session, PERSONA)
    persona = found.id if found else None
    for bank in member_queries.all_banks(session):
        holdings = member_queries.card_holdings(session, [bank.id])
        if not holdings:
            continue
        relative = store.part_for(bank.code, f"demo-{bank.code}-{first:%Y%m}")
        cards = (
            (
                h.card_no,
                h.opened_on.isoformat(),
                PERSONA_LEVEL_FEN if h.member_id == persona else "",
            )
            for h in holdings
        )
        with store.staging(cards) as path, store.analytics() as db:
            query = _balance_query(path, first, last)
            store.write_part(db, query, relative)
            count, low, high = db.execute(
                f"SELECT count(*), min(card_no), max(card_no) "
                f"FROM read_parquet('{store.absolute(relative)}')"
            ).fetchall()[0]
        rows = int(count)
        total += rows
        if rows:
            parts.record_part(
                session,
                bank_id=bank.id,
                path=relative,
                span=(first, last),
                rows=rows,
                cards=(str(low), str(high)),
                now=now,
            )
        session.add(
            BalanceImport(
                bank_id=bank.id,
                sha256=f"demo-{bank.code}-{first:%Y%m}",
                source=Source.CLI.value,
                filename="演示数据",
                rows=rows,
                new_rows=rows,
                first_date=first,
                last_date=last,
                part_path=relative,
                imported_at=now,
                actor_label=DEMO.username,
            )
        )
    session.flush()
    return total


def _balance_query(path: Path, first: date, last: date) -> str:
    return f"""
        WITH cards AS (
            SELECT * FROM {staged(path, _CARD_COLUMNS)}
        ),
        days AS (
            SELECT unnest(range(DATE '{first}', DATE '{last}' + 1, INTERVAL 1 DAY))::DATE
                AS on_date
        ),
        levels AS (
            SELECT card_no, opened_on, fixed_level,
                   CASE WHEN fixed_level IS NOT NULL THEN fixed_level
                        WHEN hash(card_no) % 100 < 50 THEN 250000 + hash(card_no) % 600000
                        WHEN hash(card_no) % 100 < 80 THEN 120000 + hash(card_no) % 100000
                        ELSE hash(card_no) % 80000 END AS level
            FROM cards
        )
        SELECT card_no, on_date,
               CASE WHEN fixed_level IS NOT NULL THEN level
                    ELSE level * (70 + hash(card_no, date_trunc('week', on_date)) % 60) // 100
               END::BIGINT AS balance_fen
        FROM levels, days
        WHERE on_date >= opened_on
        ORDER BY card_no, on_date
    """


# How many days before today each state's last step falls, so that the queue reads as a queue
# does: claims under review mostly inside the 30 days the insurer has to decide (a few just
# past it, to show the flag), approved ones inside the 10 days to pay, and concluded ones
# spread over the year.
LAST_STEP_DAYS = {
    ClaimStatus.DRAFT: (1, 20),
    ClaimStatus.DOCUMENTS_PENDING: (1, 40),
    ClaimStatus.UNDER_REVIEW: (1, 34),
    ClaimStatus.APPROVED: (1, 9),
    ClaimStatus.PARTIALLY_APPROVED: (1, 9),
    ClaimStatus.PAID: (1, 300),
    ClaimStatus.REJECTED: (1, 300),
    ClaimStatus.WITHDRAWN: (1, 300),
}
DECIDED = {
    ClaimStatus.APPROVED,
    ClaimStatus.PARTIALLY_APPROVED,
    ClaimStatus.PAID,
    ClaimStatus.REJECTED,
}


@dataclass(frozen=True)
class _Timeline:
    """One claim's dates, worked back from its last step so that none is after today."""

    admitted: date
    discharged: date
    filed: datetime
    decided: datetime
    paid: datetime


def _at(day: date) -> datetime:
    """10:00 Beijing time on that day: office hours, and before any demo "now" of a later day."""
    return datetime.combine(day, time(10), BUSINESS_TZ).astimezone(UTC)


def _timeline(rng: random.Random, target: ClaimStatus, today: date) -> _Timeline:
    low, high = LAST_STEP_DAYS[target]
    last = today - timedelta(days=rng.randint(low, high))
    paid = last
    decided = paid - timedelta(days=rng.randrange(1, 9)) if target is ClaimStatus.PAID else last
    filed = decided - timedelta(days=rng.randrange(3, 21)) if target in DECIDED else last
    discharged = filed - timedelta(days=rng.randrange(1, 5))
    admitted = discharged - timedelta(days=rng.randrange(2, 15))
    return _Timeline(admitted, discharged, _at(filed), _at(decided), _at(paid))


def _claims(
    session: Session, plan: Plan, documents: ContentStore, rng: random.Random, today: date
) -> int:
    coverages = session.scalars(
        select(Coverage).where(Coverage.plan_id == plan.id).order_by(Coverage.id)
    ).all()
    by_month: dict[date, list[Coverage]] = {}
    for coverage in coverages:
        by_month.setdefault(coverage.starts_on.replace(day=1), []).append(coverage)
    for pool in by_month.values():
        rng.shuffle(pool)
    made = 0
    for status, count in CLAIM_MIX.items():
        for _ in range(count):
            found = _covered_stay(rng, status, today, by_month)
            if found is None:
                continue
            coverage, timeline = found
            _one_claim(session, plan, documents, rng, coverage, status, made, timeline)
            made += 1
    return made


def _covered_stay(
    rng: random.Random, status: ClaimStatus, today: date, by_month: dict[date, list[Coverage]]
) -> tuple[Coverage, _Timeline] | None:
    """A member covered on the admission date of a timeline for this state (each cover claimed
    once), or None when no cover is left for the dates drawn."""
    for _attempt in range(20):
        timeline = _timeline(rng, status, today)
        pool = by_month.get(timeline.admitted.replace(day=1), [])
        for index, coverage in enumerate(pool):
            if coverage.starts_on <= timeline.admitted <= coverage.ends_on:
                return pool.pop(index), timeline
    return None


def _one_claim(
    session: Session,
    plan: Plan,
    documents: ContentStore,
    rng: random.Random,
    coverage: Coverage,
    target: ClaimStatus,
    number: int,
    timeline: _Timeline,
) -> None:
    member = Actor(
        user_id=None,
        username=f"member-{coverage.member_id}",
        role=Role.MEMBER,
        display_name="会员",
        member_id=coverage.member_id,
        unit_id=coverage.unit_id,
    )
    admitted, discharged, at = timeline.admitted, timeline.discharged, timeline.filed
    self_pay = rng.randrange(50_000, 2_500_000)
    consents.give(
        session,
        Subject.MEMBER,
        coverage.member_id,
        Purpose.MEDICAL_DOCUMENTS,
        actor=member,
        now=at,
        client="demo",
    )
    claim = claims.open_claim(
        session,
        plan,
        member_id=coverage.member_id,
        card_id=coverage.card_id,
        stay=Hospitalisation(rng.choice(HOSPITALS), admitted, discharged, rng.choice(DIAGNOSES)),
        invoice_no=f"37{admitted:%Y%m%d}{number:06d}",
        settlement=Settlement(
            self_pay * 3, self_pay * 3 // 2, self_pay, rng.randrange(0, self_pay // 2)
        ),
        actor=member,
        now=at,
    )
    if target is ClaimStatus.DRAFT:
        return
    if target is ClaimStatus.WITHDRAWN:
        claims.withdraw_claim(session, claim, actor=member, now=at)
        return
    kinds = list(DocumentKind)
    present = kinds if target is not ClaimStatus.DOCUMENTS_PENDING else kinds[: rng.randrange(1, 5)]
    for kind in present:
        body = b"%PDF-1.4\n% gonghui demo document\n" + f"{claim.id}-{kind.value}".encode()
        claims.attach_document(
            session, claim, kind, f"{kind.label}.pdf", body, store=documents, actor=member, now=at
        )
    claims.submit_claim(session, claim, actor=member, now=at)
    if target in {ClaimStatus.DOCUMENTS_PENDING, ClaimStatus.UNDER_REVIEW}:
        return
    decided = timeline.decided
    if target is ClaimStatus.REJECTED:
        claims.reject_claim(
            session, claim, reason=rng.choice(list(RejectionCode)[:3]), actor=ADJUSTER, now=decided
        )
        return
    payable = claims.estimate(
        session, plan, claim.member_id, claim.admitted_on, claim_fields(claim)
    ).payable_fen
    if payable == 0:
        # Earlier claims of the same member used up the year's cap.
        claims.reject_claim(
            session, claim, reason=RejectionCode.CAP_EXHAUSTED, actor=ADJUSTER, now=decided
        )
        return
    partial = target is ClaimStatus.PARTIALLY_APPROVED and payable > 1
    if partial:
        claims.approve_part_of_claim(
            session, claim, amount_fen=payable * 4 // 5, reason=RejectionCode.NOT_INPATIENT,
            note="部分费用为门诊费用", actor=ADJUSTER, now=decided,
        )  # fmt: skip
    else:
        claims.approve_claim(session, claim, actor=ADJUSTER, now=decided)
    if target is ClaimStatus.PAID:
        claims.record_payment(
            session,
            claim,
            f"PAY{decided:%Y%m%d}{number:05d}",
            actor=ADJUSTER,
            now=timeline.paid,
        )
