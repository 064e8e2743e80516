"""The scheme's scheduled work: the 保险法 clocks (a claim past its decision or payment limit is
flagged to its member once per limit; the adjuster's queue shows the same flag on every view)
and the monthly assessment once a period has ended and its files are in."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import SYSTEM, Actor
from gonghui.core.clock import business_date
from gonghui.core.db import insert_if_absent
from gonghui.insurance import assessment, parts, queries, service
from gonghui.insurance.claims_rules import ClaimStatus
from gonghui.insurance.models import Claim, ClaimNotice
from gonghui.insurance.rules import period_containing
from gonghui.insurance.store import BalanceStore
from gonghui.members import service as member_service

_WATCHED = (ClaimStatus.UNDER_REVIEW, ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED)
_MESSAGES = {
    "核定时限": "您的理赔申请已超过法定核定时限（应于 {due} 前核定）。我们已督促保险公司尽快核定。",
    "赔付时限": "您的理赔已核定但超过法定赔付时限（应于 {due} 前赔付）。"
    "我们已督促保险公司尽快支付。",
}


def notify_overdue_claims(session: Session, now: datetime) -> int:
    """Flag every claim whose statutory clock ran out; each claim and limit once, however often
    this runs. Returns how many were flagged now."""
    today = business_date(now)
    flagged = 0
    for claim in session.scalars(select(Claim).where(Claim.status.in_(_WATCHED))):
        clock = queries.clock_of(claim, today)
        if clock is None or not clock.overdue:
            continue
        kind = "decision_overdue" if clock.label == "核定时限" else "payment_overdue"
        row = {"claim_id": claim.id, "kind": kind, "due_on": clock.due, "sent_at": now}
        if not insert_if_absent(session, ClaimNotice, row, ["claim_id", "kind", "due_on"]):
            continue
        member_service.notify_member(
            session,
            claim.member_id,
            f"理赔申请逾期：{clock.label}已过",
            _MESSAGES[clock.label].format(due=clock.due),
            now=now,
            link=f"/insurance/claims/{claim.id}",
            sms_key=f"claim:{claim.id}:{kind}:{clock.due.isoformat()}",
        )
        audit.record(
            session,
            actor=SYSTEM,
            at=now,
            action=f"claim.{kind}",
            target_type="claim",
            target_id=claim.id,
            after={"due_on": clock.due.isoformat(), "status": claim.status.value},
        )
        flagged += 1
    return flagged


def assess_ended_periods(
    session: Session, now: datetime, *, store: BalanceStore, actor: Actor
) -> list[str]:
    """Assess, for every plan, the last period that has ended, once every bank still in the
    plan has sent files that reach its last day. A period already assessed is left alone (staff
    re-run it by hand when a late file must count). Says what it did or waits for, per plan."""
    today = business_date(now)
    yesterday = today - timedelta(days=1)
    said = []
    for plan in service.all_plans(session):
        kind = service.version_on(session, plan, yesterday).period_kind
        period = period_containing(yesterday, kind)
        if period.end > yesterday:
            period = period_containing(period.start - timedelta(days=1), kind)
        if queries.assessment_run_for(session, plan, period.start) is not None:
            said.append(f"{plan.code} {period.code} 已考核")
            continue
        # The assessment's own rule, so that the job never starts a run the service refuses.
        missing = assessment.banks_not_reaching(session, plan, period)
        if missing:
            said.append(
                f"{plan.code} {period.code} 等待{'、'.join(missing.values())}"
                f"报送至 {period.end} 的余额文件"
            )
            continue
        summary = assessment.assess(session, plan, period.start, actor=actor, now=now, store=store)
        said.append(
            f"{plan.code} {summary.period} 考核完成：{summary.cards_assessed} 张卡，"
            f"达标 {summary.eligible}"
        )
    return said


def compact_closed_months(
    session: Session, now: datetime, *, store: BalanceStore, actor: Actor
) -> list[str]:
    """Merge the daily parts of the last two closed months (the earlier one again only when a
    late file has come in since) and of the current month's days that have ended, then remove
    the files of parts replaced more than a day ago."""
    first_of_month = business_date(now).replace(day=1)
    last_month = (first_of_month - timedelta(days=1)).replace(day=1)
    month_before = (last_month - timedelta(days=1)).replace(day=1)
    said = [
        parts.compact_month(session, store, month, actor=actor, now=now).summary
        for month in (month_before, last_month)
    ]
    said.append(parts.compact_month_so_far(session, store, actor=actor, now=now).summary)
    purged = parts.purge_replaced(session, store, now)
    return [*said, f"删除已替换的分片文件 {purged} 个"]
