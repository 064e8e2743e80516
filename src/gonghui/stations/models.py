"""Tables of the stations module."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gonghui.core.db import Base, text_enum
from gonghui.stations.rules import (
    AppealStatus,
    Card,
    ComplaintStatus,
    CountSource,
    FeedbackKind,
    PositionStatus,
    TripStatus,
    VisitorKind,
)


class Position(Base):
    """One integrated service position (融合型工会服务阵地): one or several of the five kinds."""

    __tablename__ = "station_positions"
    __table_args__ = (Index("ix_station_positions_cell", "cell_row", "cell_col"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    # PositionType bits; Amenity bits (see rules.py), so the finder filters with one AND.
    type_mask: Mapped[int]
    amenity_mask: Mapped[int]
    address: Mapped[str] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(String(64), index=True)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    cell_row: Mapped[int]
    cell_col: Mapped[int]
    hours: Mapped[str] = mapped_column(String(64))
    open_24h: Mapped[bool]
    # 谁建设谁管理谁负责: the organisation that built it runs it, and a named person answers.
    operator_org: Mapped[str] = mapped_column(String(128))
    responsible_person: Mapped[str] = mapped_column(String(64))
    responsible_phone: Mapped[str] = mapped_column(String(11))
    manager_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    area_m2: Mapped[int]
    seats: Mapped[int]
    stars: Mapped[int]
    most_beautiful: Mapped[bool]
    smart: Mapped[bool]
    status: Mapped[PositionStatus] = mapped_column(text_enum(PositionStatus), index=True)
    card_deadline: Mapped[date | None]
    opened_on: Mapped[date]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StatusChange(Base):
    """Every change of a position's status, with why; appended, never changed."""

    __tablename__ = "station_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    position_id: Mapped[int] = mapped_column(ForeignKey("station_positions.id"), index=True)
    from_status: Mapped[PositionStatus | None] = mapped_column(text_enum(PositionStatus))
    to_status: Mapped[PositionStatus] = mapped_column(text_enum(PositionStatus))
    deadline: Mapped[date | None]
    reason: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("station_evaluation_runs.id"))
    at: Mapped[datetime]
    actor_label: Mapped[str] = mapped_column(String(100))


class Visit(Base):
    """One check-in by QR scan: a member, or a visitor who gave a phone and an occupation."""

    __tablename__ = "station_visits"
    __table_args__ = (
        Index("ix_station_visits_position_at", "position_id", "visited_at"),
        Index("ix_station_visits_person_at", "person_key", "visited_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    position_id: Mapped[int] = mapped_column(ForeignKey("station_positions.id"))
    kind: Mapped[VisitorKind] = mapped_column(text_enum(VisitorKind))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    # A keyed hash of the member or of the visitor's phone: repeat scans are told apart
    # without keeping the phone number in clear.
    person_key: Mapped[str] = mapped_column(String(64))
    phone_masked: Mapped[str | None] = mapped_column(String(11))
    occupation: Mapped[str | None] = mapped_column(String(32))
    visited_at: Mapped[datetime]
    token_issued_at: Mapped[datetime]


class HeadCount(Base):
    """A day's count by a people-counting camera or by hand, kept apart from QR scans."""

    __tablename__ = "station_head_counts"
    __table_args__ = (UniqueConstraint("position_id", "on_date", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    position_id: Mapped[int] = mapped_column(ForeignKey("station_positions.id"))
    on_date: Mapped[date] = mapped_column(index=True)
    source: Mapped[CountSource] = mapped_column(text_enum(CountSource))
    people: Mapped[int]
    recorded_at: Mapped[datetime]
    actor_label: Mapped[str] = mapped_column(String(100))


class Activity(Base):
    __tablename__ = "station_activities"
    __table_args__ = (Index("ix_station_activities_position_on", "position_id", "held_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    position_id: Mapped[int] = mapped_column(ForeignKey("station_positions.id"))
    held_on: Mapped[date]
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(128))
    attendance: Mapped[int]
    created_at: Mapped[datetime]


class Rating(Base):
    """1–5 on each of the five aspects; one per visit, so an online rating and a paper survey
    of the same visit count once. A paper survey with no visit has no visit id."""

    __tablename__ = "station_ratings"
    __table_args__ = (Index("ix_station_ratings_position_at", "position_id", "rated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    position_id: Mapped[int] = mapped_column(ForeignKey("station_positions.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("station_visits.id"), unique=True)
    rules: Mapped[int]
    service: Mapped[int]
    environment: Mapped[int]
    facilities: Mapped[int]
    effectiveness: Mapped[int]
    source: Mapped[str] = mapped_column(String(16))
    rated_at: Mapped[datetime]


class Feedback(Base):
    """Likes (点赞), comments and suggestions; one like per visit."""

    __tablename__ = "station_feedback"
    __table_args__ = (
        Index("ix_station_feedback_position_at", "position_id", "at"),
        Index(
            "uq_station_feedback_like_per_visit",
            "visit_id",
            unique=True,
            sqlite_where=text("kind = 'like'"),
            postgresql_where=text("kind = 'like'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    position_id: Mapped[int] = mapped_column(ForeignKey("station_positions.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("station_visits.id"))
    kind: Mapped[FeedbackKind] = mapped_column(text_enum(FeedbackKind))
    body: Mapped[str] = mapped_column(String(500))
    at: Mapped[datetime]


class Complaint(Base):
    __tablename__ = "station_complaints"
    __table_args__ = (Index("ix_station_complaints_position_at", "position_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    position_id: Mapped[int] = mapped_column(ForeignKey("station_positions.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("station_visits.id"))
    real_name: Mapped[bool]
    contact_name: Mapped[str | None] = mapped_column(String(64))
    contact_phone: Mapped[str | None] = mapped_column(String(11))
    body: Mapped[str] = mapped_column(String(1000))
    status: Mapped[ComplaintStatus] = mapped_column(text_enum(ComplaintStatus), index=True)
    received_at: Mapped[datetime]
    called_back_at: Mapped[datetime | None]
    callback_note: Mapped[str | None] = mapped_column(String(500))
    closed_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(500))


class Vehicle(Base):
    """A mobile service vehicle (流动服务车) and the volunteer team that runs it."""

    __tablename__ = "station_vehicles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    plate: Mapped[str] = mapped_column(String(16))
    team: Mapped[str] = mapped_column(String(128))
    manager_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]


class Trip(Base):
    """A vehicle's scheduled visit to a work site, and what it brought once done."""

    __tablename__ = "station_trips"

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("station_vehicles.id"), index=True)
    site_name: Mapped[str] = mapped_column(String(128))
    site_kind: Mapped[str] = mapped_column(String(32))
    district: Mapped[str] = mapped_column(String(64))
    scheduled_on: Mapped[date] = mapped_column(index=True)
    status: Mapped[TripStatus] = mapped_column(text_enum(TripStatus))
    services: Mapped[list[str]] = mapped_column(JSON)
    people_served: Mapped[int | None]
    volunteers: Mapped[int | None]
    note: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]


class RuleSetVersion(Base):
    """Weights and thresholds of the evaluation; never edited, a change is a new version."""

    __tablename__ = "station_rule_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))


class EvaluationRun(Base):
    __tablename__ = "station_evaluation_runs"
    __table_args__ = (UniqueConstraint("period_start", "period_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_label: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[date]
    period_end: Mapped[date]
    rule_set_id: Mapped[int] = mapped_column(ForeignKey("station_rule_sets.id"))
    decided_on: Mapped[date]
    evaluated: Mapped[int]
    green: Mapped[int]
    yellow: Mapped[int]
    red: Mapped[int]
    run_at: Mapped[datetime]
    actor_label: Mapped[str] = mapped_column(String(100))


class Score(Base):
    """One position's score in one run, with the facts it was computed from, so that it is
    reproduced from this row and the run's rule-set version alone. Appended, never changed."""

    __tablename__ = "station_scores"
    __table_args__ = (UniqueConstraint("run_id", "position_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("station_evaluation_runs.id"))
    position_id: Mapped[int] = mapped_column(ForeignKey("station_positions.id"), index=True)
    open_days: Mapped[int]
    scans: Mapped[int]
    counted: Mapped[int]
    activities: Mapped[int]
    ratings: Mapped[int]
    rating_rules: Mapped[int]
    rating_service: Mapped[int]
    rating_environment: Mapped[int]
    rating_facilities: Mapped[int]
    rating_effectiveness: Mapped[int]
    amenities: Mapped[int]
    complaints: Mapped[int]
    complaints_closed: Mapped[int]
    score_rules: Mapped[int]
    score_service: Mapped[int]
    score_environment: Mapped[int]
    score_facilities: Mapped[int]
    score_effectiveness: Mapped[int]
    total: Mapped[int]
    passed: Mapped[bool]
    status_before: Mapped[PositionStatus] = mapped_column(text_enum(PositionStatus))
    status_after: Mapped[PositionStatus] = mapped_column(text_enum(PositionStatus))
    card: Mapped[Card] = mapped_column(text_enum(Card))
    deadline: Mapped[date | None]


class Appeal(Base):
    """A position's appeal against the card a run gave it, and the decision."""

    __tablename__ = "station_appeals"
    __table_args__ = (UniqueConstraint("score_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("station_scores.id"))
    position_id: Mapped[int] = mapped_column(ForeignKey("station_positions.id"), index=True)
    reason: Mapped[str] = mapped_column(String(1000))
    status: Mapped[AppealStatus] = mapped_column(text_enum(AppealStatus))
    filed_at: Mapped[datetime]
    filed_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decision_note: Mapped[str | None] = mapped_column(String(500))


class CardNotice(Base):
    """What the deadlines job did for one yellow card, once per position, deadline and kind:
    `reminder` (its manager told a week ahead) and `reached` (the deadline passed while the card
    still stood: the next evaluation of a period that ends on or after it judges the
    rectification). The job may run any number of times."""

    __tablename__ = "station_card_notices"
    __table_args__ = (UniqueConstraint("position_id", "deadline", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    position_id: Mapped[int] = mapped_column(ForeignKey("station_positions.id"))
    deadline: Mapped[date]
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
