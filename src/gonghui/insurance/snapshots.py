"""Replaying an assessment: recompute a past run from the parts, holdings and plan version its
snapshot recorded, and compare every per-card figure with what the run decided.

Files that arrived later are not in the snapshot, and parts compacted since are read back from
the merged part through the `source_part` column each merged row keeps, so a replay answers
what the run answered for as long as the merged parts are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Permission
from gonghui.core.errors import InvalidInput, NotFound
from gonghui.insurance import assessment, parts, service
from gonghui.insurance.models import AssessmentSnapshot, PlanVersion
from gonghui.insurance.rules import Period
from gonghui.insurance.store import BalanceStore

# How many differing cards a report lists (the count covers them all).
LISTED = 20


@dataclass(frozen=True)
class Difference:
    card_no: str
    recorded: str
    recomputed: str


@dataclass(frozen=True)
class ReplayReport:
    snapshot: int
    period: str
    cards: int
    matching: int
    differences: list[Difference]

    @property
    def matches(self) -> bool:
        return self.matching == self.cards

    @property
    def summary(self) -> str:
        if self.matches:
            return (
                f"{self.period} 第 {self.snapshot} 号考核快照已重算：{self.cards} 张卡的日均余额、"
                "计算天数和资格结论全部一致"
            )
        return (
            f"{self.period} 第 {self.snapshot} 号考核快照已重算：{self.cards} 张卡中 "
            f"{self.cards - self.matching} 张与原结果不一致"
        )


_COMPARED = """
    SELECT coalesce(r.card_no, d.card_no) AS card_no,
           coalesce(r.average_fen = d.average_fen AND r.days = d.days
                    AND r.reasons = d.reasons, false) AS same,
           CASE WHEN r.card_no IS NULL THEN '（无）'
                ELSE r.average_fen || ' 分/' || r.days || ' 天/' || r.reasons END AS recorded,
           CASE WHEN d.card_no IS NULL THEN '（无）'
                ELSE d.average_fen || ' 分/' || d.days || ' 天/' || d.reasons END AS recomputed
    FROM read_parquet($results) r FULL OUTER JOIN decided d ON r.card_no = d.card_no
"""


def snapshot_for(session: Session, snapshot_id: int) -> AssessmentSnapshot:
    snapshot = session.get(AssessmentSnapshot, snapshot_id)
    if snapshot is None:
        raise NotFound(f"考核快照 {snapshot_id}")
    return snapshot


def replay(
    session: Session, snapshot_id: int, *, actor: Actor, store: BalanceStore
) -> ReplayReport:
    actor.require(Permission.INSURANCE_MANAGE)
    snapshot = snapshot_for(session, snapshot_id)
    if snapshot.engine_version != assessment.ENGINE_VERSION:
        raise InvalidInput(
            "engine_changed",
            f"该次考核使用第 {snapshot.engine_version} 版计算方法，当前为第 "
            f"{assessment.ENGINE_VERSION} 版，无法按原方法重算",
        )
    terms = service.terms_of(session.get_one(PlanVersion, snapshot.plan_version_id))
    period = Period(snapshot.period_start, snapshot.period_end)
    inside = parts.snapshot_reads(session, store, snapshot.inside_parts)
    before = parts.snapshot_reads(session, store, snapshot.before_parts)
    with store.analytics() as connection:
        connection.execute(
            "CREATE TEMP TABLE holdings AS SELECT * FROM read_parquet($path)",
            {"path": str(store.absolute(snapshot.holdings_path))},
        )
        assessment.compute(connection, inside, before, period, terms)
        connection.execute(
            f"CREATE TEMP TABLE compared AS {_COMPARED}",
            {"results": str(store.absolute(snapshot.results_path))},
        )
        cards, matching = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE same) FROM compared"
        ).fetchall()[0]
        listed = connection.execute(
            "SELECT card_no, recorded, recomputed FROM compared WHERE NOT same "
            f"ORDER BY card_no LIMIT {LISTED}"
        ).fetchall()
    return ReplayReport(
        snapshot=snapshot.id,
        period=period.code,
        cards=int(cards),
        matching=int(matching),
        differences=[Difference(str(c), str(a), str(b)) for c, a, b in listed],
    )
