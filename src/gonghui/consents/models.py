"""Consent records: who gave which version of which consent, when, and when they withdrew."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gonghui.consents.rules import Purpose, Subject
from gonghui.core.db import Base, text_enum


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_subject", "subject", "subject_id", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[Subject] = mapped_column(text_enum(Subject))
    subject_id: Mapped[int]
    purpose: Mapped[Purpose] = mapped_column(text_enum(Purpose))
    version: Mapped[int]
    given_at: Mapped[datetime]
    given_by: Mapped[str] = mapped_column(String(100))
    given_from: Mapped[str] = mapped_column(String(64))
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by: Mapped[str | None] = mapped_column(String(100))
