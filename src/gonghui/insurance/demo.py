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

from gonghui.core.auth import Actor, Role
from gonghui.core.clock import business_date
from gonghui.core.storage import ContentStore
from gonghui.insurance import assessment, claims, service
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
# How many claims end in each state, so that every screen has something to show.
CLAIM_MIX = {
    ClaimStatus.PAID: 110,
    ClaimStatus.UNDER_REVIEW: 50,
    ClaimStatus.APPROVED: 30,
    ClaimStatus.PARTIALLY_APPROVED: 15,
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
    rows = _balances(session, store, first_month, today, now)
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


def _balances(
    session: Session, store: BalanceStore, first: date, today: date, now: datetime
) -> int:
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
            query = _balance_query(path, first, today)
            store.write_part(db, query, relative)
            count = db.execute(
                f"SELECT count(*) FROM read_parquet('{store.absolute(relative)}')"
            ).fetchone()
        rows = int(count[0]) if count else 0
        total += rows
        session.add(
            BalanceImport(
                bank_id=bank.id,
                sha256=f"demo-{bank.code}-{first:%Y%m}",
                source=Source.CLI.value,
                filename="演示数据",
                rows=rows,
                new_rows=rows,
                first_date=first,
                last_date=today,
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


def _claims(
    session: Session, plan: Plan, documents: ContentStore, rng: random.Random, today: date
) -> int:
    coverages = list(
        session.scalars(
            select(Coverage).where(Coverage.plan_id == plan.id, Coverage.ends_on < today)
        )
    )
    rng.shuffle(coverages)
    made = 0
    for status, count in CLAIM_MIX.items():
        for coverage in coverages[made : made + count]:
            _one_claim(session, plan, documents, rng, coverage, status, made)
            made += 1
    return made


def _one_claim(
    session: Session,
    plan: Plan,
    documents: ContentStore,
    rng: random.Random,
    coverage: Coverage,
    target: ClaimStatus,
    number: int,
) -> None:
    member = Actor(
        user_id=None,
        username=f"member-{coverage.member_id}",
        role=Role.MEMBER,
        display_name="会员",
        member_id=coverage.member_id,
        unit_id=coverage.unit_id,
    )
    admitted = coverage.starts_on + timedelta(
        days=rng.randrange((coverage.ends_on - coverage.starts_on).days + 1)
    )
    discharged = admitted + timedelta(days=rng.randrange(2, 15))
    at = datetime.combine(discharged + timedelta(days=rng.randrange(1, 5)), time(2, 0), tzinfo=UTC)
    self_pay = rng.randrange(50_000, 2_500_000)
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
    decided = at + timedelta(days=rng.randrange(3, 20))
    if target is ClaimStatus.REJECTED:
        claims.decide_claim(
            session,
            claim,
            approve=False,
            code=rng.choice(list(RejectionCode)[:3]),
            actor=ADJUSTER,
            now=decided,
        )
        return
    payable = claims.estimate(
        session, plan, claim.member_id, claim.admitted_on, claim_fields(claim)
    ).payable_fen
    if payable == 0:
        # Earlier claims of the same member used up the year's cap.
        claims.decide_claim(
            session,
            claim,
            approve=False,
            code=RejectionCode.CAP_EXHAUSTED,
            actor=ADJUSTER,
            now=decided,
        )
        return
    partial = target is ClaimStatus.PARTIALLY_APPROVED and payable > 1
    claims.decide_claim(
        session,
        claim,
        approve=True,
        amount_fen=payable * 4 // 5 if partial else None,
        code=RejectionCode.NOT_INPATIENT if partial else None,
        note="部分费用为门诊费用" if partial else "",
        actor=ADJUSTER,
        now=decided,
    )
    if target is ClaimStatus.PAID:
        claims.record_payment(
            session,
            claim,
            f"PAY{decided:%Y%m%d}{number:05d}",
            actor=ADJUSTER,
            now=decided + timedelta(days=rng.randrange(1, 9)),
        )
