"""网上入会: a worker who is not on the roll applies through their employer's union; the unit's
officer approves (the member joins the roll) or returns the application with a reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import Actor, Role
from gonghui.core.clock import business_date
from gonghui.core.errors import Conflict, InvalidInput
from gonghui.core.inputs import InputError, parse_credit_code, parse_id_number, parse_mobile
from gonghui.core.pii import IdentityVault, mask_id_number
from gonghui.members import service
from gonghui.members.models import Member, MemberApplication, Unit
from gonghui.members.rules import ApplicationStatus, EmploymentStatus, PostType

MAX_EMPLOYERS_SHOWN = 10


@dataclass(frozen=True)
class Application:
    """What the applicant typed, as the form keeps it."""

    name: str
    id_number: str
    phone: str
    employer: str  # a credit code, or the exact name chosen from the list
    post_type: str


def find_employers(session: Session, query: str) -> Sequence[Unit]:
    """Employers whose union takes members online: by credit code, or by part of the name."""
    text = query.strip()
    if len(text) < 2:  # noqa: PLR2004 - one character matches half the roll
        return []
    return session.scalars(
        select(Unit)
        .where(or_(Unit.credit_code == text.upper(), Unit.name.contains(text)))
        .order_by(Unit.name)
        .limit(MAX_EMPLOYERS_SHOWN)
    ).all()


def _employer(session: Session, text: str, problems: dict[str, str]) -> Unit | None:
    value = text.strip()
    if not value:
        problems["employer"] = "请填写工作单位的统一社会信用代码或全称"
        return None
    try:
        code = parse_credit_code(value)
        unit = session.scalars(select(Unit).where(Unit.credit_code == code)).one_or_none()
    except InputError:
        unit = session.scalars(select(Unit).where(Unit.name == value)).one_or_none()
    if unit is None:
        problems["employer"] = "没有找到该单位，请核对信用代码或从列表中选择单位全称"
    return unit


def apply_to_join(
    session: Session, form: Application, *, vault: IdentityVault, now: datetime
) -> MemberApplication:
    """Record an application; every problem with it is reported at once, by field."""
    problems: dict[str, str] = {}
    name = form.name.strip()
    if not name or len(name) > 64:  # noqa: PLR2004 - the column's width
        problems["name"] = "请填写姓名（不超过64字）"
    id_number = phone = None
    try:
        id_number = parse_id_number(form.id_number, today=business_date(now))
    except InputError as error:
        problems["id_number"] = str(error)
    try:
        phone = parse_mobile(form.phone)
    except InputError as error:
        problems["phone"] = str(error)
    if form.post_type not in {kind.value for kind in PostType}:
        problems["post_type"] = "请选择岗位类型"
    unit = _employer(session, form.employer, problems)
    if problems or id_number is None or phone is None or unit is None:
        raise ApplicationRefused(problems)
    id_hash = vault.search_hash(id_number.value)
    if session.scalars(select(Member.id).where(Member.id_hash == id_hash)).first() or (
        session.scalars(
            select(MemberApplication.id).where(
                MemberApplication.id_hash == id_hash,
                MemberApplication.status == ApplicationStatus.PENDING,
            )
        ).first()
    ):
        # One message for both: the form must not tell a stranger who is on the roll.
        raise ApplicationRefused(
            {"id_number": "该身份证号已在会员名册中或已有待审核的申请，请联系所在单位工会"}
        )
    application = MemberApplication(
        unit_id=unit.id,
        name=name,
        id_hash=id_hash,
        id_cipher=vault.encrypt(id_number.value),
        id_masked=mask_id_number(id_number.value),
        phone=phone,
        post_type=PostType(form.post_type),
        status=ApplicationStatus.PENDING,
        submitted_at=now,
    )
    session.add(application)
    session.flush()
    service.notify_staff(
        session,
        Role.UNIT_OFFICER,
        unit.id,
        title="新的入会申请",
        body=f"{name} 申请加入本单位工会，请审核",
        link="/join/applications",
        now=now,
    )
    applicant = Actor(user_id=None, username=phone, role=None, display_name=name)
    audit.record(
        session,
        actor=applicant,
        at=now,
        action="member_application.submitted",
        target_type="member_application",
        target_id=application.id,
        after={"unit_id": unit.id, "id_masked": application.id_masked},
    )
    return application


class ApplicationRefused(InvalidInput):
    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("bad_application", "；".join(problems.values()))
        self.problems = problems


def _decide(
    application: MemberApplication, status: ApplicationStatus, actor: Actor, now: datetime
) -> None:
    if application.status is not ApplicationStatus.PENDING:
        raise Conflict("application_decided", f"该申请{application.status.label}，不能再处理")
    application.status = status
    application.decided_at = now
    application.decided_by = f"{actor.display_name}（{actor.username}）"[:100]


def approve_application(
    session: Session,
    application: MemberApplication,
    *,
    actor: Actor,
    vault: IdentityVault,
    now: datetime,
) -> Member:
    """The applicant joins the roll as an in-service member of the unit."""
    _decide(application, ApplicationStatus.APPROVED, actor, now)
    id_number = parse_id_number(vault.decrypt(application.id_cipher), today=business_date(now))
    record = service.MemberRecord(
        name=application.name,
        id_number=id_number,
        phone=application.phone,
        unit_id=application.unit_id,
        post_type=application.post_type,
        employment_status=EmploymentStatus.EMPLOYED,
    )
    if service.save_member(session, record, actor=actor, now=now, vault=vault) is not (
        service.Outcome.CREATED
    ):
        raise Conflict("already_member", "该申请人已在会员名册中，无需再入会")
    member = session.scalars(select(Member).where(Member.id_hash == application.id_hash)).one()
    application.member_id = member.id
    audit.record(
        session,
        actor=actor,
        at=now,
        action="member_application.approved",
        target_type="member_application",
        target_id=application.id,
        after={"member_id": member.id},
    )
    return member


def return_application(
    session: Session, application: MemberApplication, reason: str, *, actor: Actor, now: datetime
) -> None:
    """Sent back with the reason the applicant is told (by SMS, from the page)."""
    text = reason.strip()
    if not text:
        raise InvalidInput("reason_required", "退回申请请填写原因，申请人会收到这条说明")
    if len(text) > 200:  # noqa: PLR2004 - the column's width
        raise InvalidInput("reason_too_long", "退回原因不能超过200字")
    _decide(application, ApplicationStatus.RETURNED, actor, now)
    application.reason = text
    audit.record(
        session,
        actor=actor,
        at=now,
        action="member_application.returned",
        target_type="member_application",
        target_id=application.id,
        after={"reason": text},
    )
