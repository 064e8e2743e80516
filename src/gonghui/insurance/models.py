"""Tables of the insurance module.

Daily balances are not here: they live in columnar files (see `balances.py`); the database
keeps the index of what was imported, the plans, the assessment runs and the coverage granted.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gonghui.core.db import Base, text_enum
from gonghui.insurance.claims_rules import ClaimStatus, DocumentKind, RejectionCode
from gonghui.insurance.rules import DayCount, PeriodKind


class Plan(Base):
    __tablename__ = "insurance_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    insurer: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class PlanVersion(Base):
    """The terms of a plan from a date on. Never edited: a change is a new version, and every
    assessment and adjudication records the version it used."""

    __tablename__ = "insurance_plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("insurance_plans.id"), index=True)
    version: Mapped[int]
    effective_from: Mapped[date]
    threshold_fen: Mapped[int]
    period_kind: Mapped[PeriodKind] = mapped_column(text_enum(PeriodKind))
    coverage_lag: Mapped[int]
    day_count: Mapped[DayCount] = mapped_column(text_enum(DayCount))
    annual_cap_fen: Mapped[int]
    deductible_fen: Mapped[int]
    # Reimbursement ratio in basis points: 10000 is 100%.
    ratio_bp: Mapped[int]
    eligible_fields: Mapped[list[str]] = mapped_column(JSON)
    min_group_size: Mapped[int | None]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))


class PlanBank(Base):
    __tablename__ = "insurance_plan_banks"
    __table_args__ = (UniqueConstraint("plan_id", "bank_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("insurance_plans.id"))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))


class PlanUnit(Base):
    """A spell of a participating unit (参保单位) in a plan: from `joined_on` until the day
    before `left_on`. A unit that leaves and joins again has one row per spell."""

    __tablename__ = "insurance_plan_units"
    __table_args__ = (Index("ix_insurance_plan_units_plan_id_unit_id", "plan_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("insurance_plans.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    joined_on: Mapped[date]
    left_on: Mapped[date | None]


class BalanceImport(Base):
    """One accepted balance file: its fingerprint, its span and the columnar part it wrote."""

    __tablename__ = "insurance_balance_imports"
    __table_args__ = (UniqueConstraint("bank_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(200))
    rows: Mapped[int]
    new_rows: Mapped[int]
    first_date: Mapped[date | None]
    last_date: Mapped[date | None]
    # Relative to the storage directory; None when every row was already known.
    part_path: Mapped[str | None] = mapped_column(String(300))
    imported_at: Mapped[datetime]
    actor_label: Mapped[str] = mapped_column(String(100))


class BalancePart(Base):
    """The index of the columnar parts readers open: one per accepted file, or one per bank and
    closed month once compacted. A compaction swaps parts in one transaction (the daily parts
    get `replaced_by_id`, the merged part is added); a replaced part's file stays on disk until
    the purge, well after any reader that listed it has finished."""

    __tablename__ = "insurance_balance_parts"
    __table_args__ = (Index("ix_insurance_balance_parts_live", "replaced_by_id", "first_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    path: Mapped[str] = mapped_column(String(300), unique=True)
    first_date: Mapped[date]
    last_date: Mapped[date]
    rows: Mapped[int]
    # The card-number range the part holds, so a one-card read opens only parts that may hold it.
    min_card_no: Mapped[str] = mapped_column(String(32))
    max_card_no: Mapped[str] = mapped_column(String(32))
    # A merged part keeps, per row, the id of the part it came from (column `source_part`).
    compacted: Mapped[bool]
    created_at: Mapped[datetime]
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("insurance_balance_parts.id"))
    replaced_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]


class AssessmentSnapshot(Base):
    """What one assessment run read and decided: the exact parts, the plan version (the rule
    version) and its per-card results, so that it can be recomputed and compared later."""

    __tablename__ = "insurance_assessment_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("insurance_assessment_runs.id"), index=True)
    plan_version_id: Mapped[int] = mapped_column(ForeignKey("insurance_plan_versions.id"))
    # The version of the assessment's computation (the SQL), beside the plan's terms.
    engine_version: Mapped[int]
    period_start: Mapped[date]
    period_end: Mapped[date]
    # Ids of `BalancePart` rows: those with a day in the period, and those before it.
    inside_parts: Mapped[list[int]] = mapped_column(JSON)
    before_parts: Mapped[list[int]] = mapped_column(JSON)
    # The holdings (cards, members, units, statuses) as they stood, a columnar file.
    holdings_path: Mapped[str] = mapped_column(String(300))
    results_path: Mapped[str] = mapped_column(String(300))
    cards_assessed: Mapped[int]
    eligible: Mapped[int]
    taken_at: Mapped[datetime]


class AssessmentRun(Base):
    """One plan's assessment of one period; re-running updates it in place."""

    __tablename__ = "insurance_assessment_runs"
    __table_args__ = (UniqueConstraint("plan_id", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("insurance_plans.id"))
    plan_version_id: Mapped[int] = mapped_column(ForeignKey("insurance_plan_versions.id"))
    period_start: Mapped[date]
    period_end: Mapped[date]
    cards_assessed: Mapped[int]
    eligible: Mapped[int]
    ineligible: Mapped[int]
    # Per-bank pass rates: {bank_code: {"assessed": n, "passed": n}}.
    by_bank: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The per-card results, a columnar file relative to the storage directory.
    results_path: Mapped[str] = mapped_column(String(300))
    run_at: Mapped[datetime]
    runs: Mapped[int]


class Coverage(Base):
    """Gifted cover for one member for one coverage period (one person-time per plan year)."""

    __tablename__ = "insurance_coverages"
    __table_args__ = (UniqueConstraint("plan_id", "member_id", "starts_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("insurance_plans.id"))
    plan_version_id: Mapped[int] = mapped_column(ForeignKey("insurance_plan_versions.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    average_fen: Mapped[int]
    assessment_run_id: Mapped[int] = mapped_column(ForeignKey("insurance_assessment_runs.id"))
    granted_at: Mapped[datetime]


class Claim(Base):
    """A member's reimbursement claim for one hospital stay."""

    __tablename__ = "insurance_claims"
    __table_args__ = (
        # The same invoice may not be claimed twice; a withdrawn claim frees its invoice.
        Index(
            "uq_insurance_claims_open_invoice",
            "plan_id",
            "invoice_no",
            unique=True,
            sqlite_where=text("status <> 'withdrawn'"),
            postgresql_where=text("status <> 'withdrawn'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("insurance_plans.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    coverage_id: Mapped[int] = mapped_column(ForeignKey("insurance_coverages.id"))
    status: Mapped[ClaimStatus] = mapped_column(text_enum(ClaimStatus), index=True)
    hospital: Mapped[str] = mapped_column(String(128))
    admitted_on: Mapped[date]
    discharged_on: Mapped[date]
    diagnosis: Mapped[str] = mapped_column(String(200))
    invoice_no: Mapped[str] = mapped_column(String(64))
    total_fen: Mapped[int]
    fund_paid_fen: Mapped[int]
    policy_self_pay_fen: Mapped[int]
    class_b_self_pay_fen: Mapped[int]
    fully_self_paid_fen: Mapped[int]
    estimated_fen: Mapped[int]
    approved_fen: Mapped[int | None]
    plan_version_id: Mapped[int | None] = mapped_column(ForeignKey("insurance_plan_versions.id"))
    calculation: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    rejection_code: Mapped[RejectionCode | None] = mapped_column(text_enum(RejectionCode))
    decision_note: Mapped[str | None] = mapped_column(String(500))
    payment_ref: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    complete_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]


class ClaimDocument(Base):
    """An uploaded document, stored once by its content hash."""

    __tablename__ = "insurance_claim_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("insurance_claims.id"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(text_enum(DocumentKind))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]


class ClaimEvent(Base):
    """Every state change of a claim, with who and when; appended, never changed."""

    __tablename__ = "insurance_claim_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("insurance_claims.id"), index=True)
    from_status: Mapped[ClaimStatus | None] = mapped_column(text_enum(ClaimStatus))
    to_status: Mapped[ClaimStatus] = mapped_column(text_enum(ClaimStatus))
    at: Mapped[datetime]
    actor_label: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(String(500))


class ClaimAccumulator(Base):
    """What a member's approved claims used of the annual cap: one row per member, plan and
    year, locked while an approval is decided so that concurrent approvals never exceed it."""

    __tablename__ = "insurance_claim_accumulators"
    __table_args__ = (UniqueConstraint("plan_id", "member_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("insurance_plans.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    year: Mapped[int]
    used_fen: Mapped[int]


class ClaimNotice(Base):
    """A statutory clock's notice, sent once per claim, kind and due date (the job that sends
    them may run any number of times)."""

    __tablename__ = "insurance_claim_notices"
    __table_args__ = (UniqueConstraint("claim_id", "kind", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("insurance_claims.id"))
    kind: Mapped[str] = mapped_column(String(32))
    due_on: Mapped[date]
    sent_at: Mapped[datetime]
