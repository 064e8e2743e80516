"""Every job the worker knows: what it does, when it runs by itself, and the module function
it calls. Each is idempotent: run twice, or late, it does what is due once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from gonghui.core import audit, audit_chain, outbox
from gonghui.core.auth import Actor, Role
from gonghui.core.settings import Settings
from gonghui.core.sms import sms_sender_for
from gonghui.insurance import figures as insurance_figures
from gonghui.insurance import jobs as insurance_jobs
from gonghui.insurance.store import store_for
from gonghui.jobs.models import JobRun, RunStatus
from gonghui.jobs.schedule import Schedule
from gonghui.members import accounts
from gonghui.retirement import queries as retirement_queries
from gonghui.stations import dashboard as stations_dashboard
from gonghui.stations import deadlines
from gonghui.wallet import transfers

# Jobs act with an administrator's rights, as the CLI's operator does; the audit log names them.
JOB_ACTOR = Actor(user_id=None, username="job", role=Role.ADMIN, display_name="定时任务")
# 网络安全法 art. 21 asks for network logs to be kept at least six months.
LOGIN_ATTEMPTS_KEPT = timedelta(days=180)
RUNS_KEPT = timedelta(days=400)


@dataclass(frozen=True)
class JobContext:
    session: Session
    settings: Settings
    now: datetime


@dataclass(frozen=True)
class Job:
    name: str
    label: str
    schedule: Schedule | None
    run: Callable[[JobContext], str]


def _release_transfers(context: JobContext) -> str:
    returned = transfers.release_due(context.session, context.now, actor=JOB_ACTOR)
    return f"退回 {returned} 笔到期未接收的转账"


def _claim_clocks(context: JobContext) -> str:
    flagged = insurance_jobs.notify_overdue_claims(context.session, context.now)
    return f"{flagged} 件理赔新超过法定时限，已通知会员"


def _assessment(context: JobContext) -> str:
    said = insurance_jobs.assess_ended_periods(
        context.session, context.now, store=store_for(context.settings), actor=JOB_ACTOR
    )
    return "；".join(said) or "尚无保险计划"


def _card_deadlines(context: JobContext) -> str:
    return deadlines.watch_deadlines(context.session, context.now).summary


def _send_notifications(context: JobContext) -> str:
    # Sending claims, sends and records each message in transactions of its own (see
    # core.outbox): a text that went out must stay marked sent whatever happens to this run.
    # The job's own session has not begun (nothing ran in it yet), so on SQLite these
    # transactions do not wait behind it.
    factory = sessionmaker(bind=context.session.get_bind(), expire_on_commit=False)
    return outbox.send_due(factory, sms_sender_for(context.settings), context.now).summary


def _dashboards(context: JobContext) -> str:
    # Each scope is counted and kept in transactions of its own (core.snapshots): on SQLite the
    # write lock is then held for each short write, not for the whole counting.
    factory = sessionmaker(bind=context.session.get_bind(), expire_on_commit=False)
    counts = [
        board.refresh_all(factory, context.now)
        for board in (insurance_figures.BOARD, stations_dashboard.BOARD, retirement_queries.BOARD)
    ]
    return "更新看板数据：补充医保 {} 个范围，服务阵地 {} 个，延迟退休影响 {} 个".format(*counts)


def _compaction(context: JobContext) -> str:
    said = insurance_jobs.compact_closed_months(
        context.session, context.now, store=store_for(context.settings), actor=JOB_ACTOR
    )
    return "；".join(said)


def _purge(context: JobContext) -> str:
    attempts = accounts.purge_login_attempts(context.session, context.now - LOGIN_ATTEMPTS_KEPT)
    runs = context.session.execute(
        delete(JobRun).where(
            JobRun.status == RunStatus.SUCCEEDED, JobRun.started_at < context.now - RUNS_KEPT
        )
    )
    anchor = audit_chain.purge(
        context.session,
        now=context.now,
        keep_days=context.settings.audit_keep_days,
        actor_label=audit.label_of(JOB_ACTOR),
    )
    audited = anchor.purged if anchor else 0
    return (
        f"清理登录记录 {attempts} 条（保留180天）、任务记录 {runs.rowcount} 条、"  # type: ignore[attr-defined]
        f"审计记录 {audited} 条（保留{context.settings.audit_keep_days}天）"
    )


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job("wallet.release_due", "退回到期未接收的共济转账", Schedule(0, 6), _release_transfers),
        Job("insurance.claim_clocks", "理赔法定时限提醒", Schedule(10), _claim_clocks),
        Job(
            "insurance.assessment",
            "月度余额考核（期满且各行文件齐全后）",
            Schedule(0, 3),
            _assessment,
        ),
        Job("housekeeping.purge", "清理过期记录", Schedule(30, 3), _purge),
        Job(
            "stations.card_deadlines",
            "黄牌整改期限提醒与期满标记",
            Schedule(15, 7),
            _card_deadlines,
        ),
        Job("notifications.send", "发送待发短信", Schedule(20), _send_notifications),
        Job("dashboards.refresh", "更新看板数据", Schedule(0, every=10), _dashboards),
        Job(
            "insurance.compaction",
            "合并逐日余额分片（已结束的月份与本月已结束的日子）",
            Schedule(0, 4),
            _compaction,
        ),
    )
}
