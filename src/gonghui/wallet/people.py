"""Insured persons, their wallets and usage location, and the 共济 relationships between them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gonghui.consents import service as consents
from gonghui.consents.rules import Purpose, Subject
from gonghui.core import audit
from gonghui.core.auth import Actor, Permission, Role
from gonghui.core.clock import business_date
from gonghui.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from gonghui.core.inputs import InputError, parse_id_number, parse_mobile
from gonghui.core.pii import IdentityVault, mask_id_number
from gonghui.core.settings import Settings
from gonghui.members import accounts, service
from gonghui.members.queries import members_by_hash
from gonghui.members.rules import ActivationSubject
from gonghui.wallet import queries, regions
from gonghui.wallet.models import Insured, Relationship, RelationshipEvent, UsageChange, Wallet
from gonghui.wallet.regions import is_open
from gonghui.wallet.rules import (
    Kinship,
    Refusal,
    RelationshipStatus,
    Scheme,
    WalletRefused,
    needs_face_check,
)
from gonghui.wallet.verification import FaceVerifier, hash_wallet_password

# Opens logins for insured relatives on their own request (the wallet's self-service door).
WALLET_DOOR = Actor(user_id=None, username="wallet", role=Role.ADMIN, display_name="医保钱包开通")


def wallet_of(session: Session, insured_id: int) -> Wallet | None:
    return session.scalars(select(Wallet).where(Wallet.insured_id == insured_id)).one_or_none()


def require_wallet(session: Session, insured_id: int) -> Wallet:
    wallet = wallet_of(session, insured_id)
    if wallet is None:
        raise WalletRefused(Refusal.NO_WALLET)
    return wallet


def register_insured(
    session: Session,
    *,
    name: str,
    id_number: str,
    scheme: Scheme,
    region_code: str,
    member_id: int | None = None,
    vault: IdentityVault,
    actor: Actor,
    now: datetime,
) -> Insured:
    """The agency records an insured person (as its own registry knows them); one who is on
    the union's roll is linked to their member record."""
    if actor.role is not None:
        actor.require(Permission.WALLET_OPERATE)
    try:
        parsed = parse_id_number(id_number, today=business_date(now))
    except InputError as error:
        raise InvalidInput("bad_id_number", str(error)) from None
    if not name.strip():
        raise InvalidInput("name_required", "请填写姓名")
    digest = vault.search_hash(parsed.value)
    if session.scalars(select(Insured.id).where(Insured.id_hash == digest)).first():
        raise Conflict("insured_exists", "该身份证号已登记参保信息")
    if member_id is None:  # a member of the roll is linked by their ID number
        member = members_by_hash(session, {digest}).get(digest)
        member_id = member.id if member is not None else None
    insured = Insured(
        name=name.strip(),
        id_hash=digest,
        id_cipher=vault.encrypt(parsed.value),
        id_masked=mask_id_number(parsed.value),
        birth_date=parsed.birth_date,
        scheme=scheme,
        region_id=regions.region_by_code(session, region_code).id,
        member_id=member_id,
        user_id=None,
        ended_on=None,
        created_at=now,
    )
    session.add(insured)
    session.flush()
    _audit(session, actor, now, "wallet.insured_registered", insured.id, {"scheme": scheme.value})
    return insured


def open_wallet(
    session: Session,
    insured: Insured,
    *,
    phone: str,
    usage_region_code: str,
    password: str,
    actor: Actor,
    now: datetime,
) -> Wallet:
    """Open a wallet: a real-name phone number, a usage location that has opened, and the
    医保码 password."""
    if wallet_of(session, insured.id) is not None:
        raise Conflict("wallet_exists", "医保钱包已开通")
    try:
        phone = parse_mobile(phone)
    except InputError as error:
        raise InvalidInput("bad_phone", str(error)) from None
    usage = regions.region_by_code(session, usage_region_code)
    if not is_open(usage, business_date(now)):
        raise WalletRefused(Refusal.REGION_NOT_OPEN, f"使用地 {usage.name} 尚未开通")
    wallet = Wallet(
        insured_id=insured.id,
        phone=phone,
        usage_region_id=usage.id,
        password_hash=hash_wallet_password(password),
        password_failures=0,
        last_password_failure=None,
        opened_at=now,
    )
    session.add(wallet)
    session.flush()
    session.add(
        UsageChange(
            wallet_id=wallet.id,
            from_region_id=None,
            to_region_id=usage.id,
            at=now,
            actor_label=actor.username,
        )
    )
    _audit(session, actor, now, "wallet.opened", insured.id, {"usage_region": usage.code})
    return wallet


def activate_relative(
    session: Session,
    *,
    name: str,
    id_number: str,
    phone: str,
    code: str,
    password: str,
    usage_region_code: str,
    vault: IdentityVault,
    door: accounts.ActivationDoor,
    now: datetime,
) -> Wallet:
    """An insured person who is not a member opens their wallet and a login of their own:
    name and ID number must match the agency's registry, and the one-time code the agency
    issued must be right (throttled and locked as a member's activation is); the phone
    becomes the login."""
    mismatch = accounts.ActivationRefused("姓名、身份证号或激活码不正确")
    subject = ActivationSubject.INSURED
    accounts.check_activation_throttle(session, subject, phone, door, now=now)
    insured = None
    try:
        parsed = parse_id_number(id_number, today=business_date(now))
        insured = session.scalars(
            select(Insured).where(Insured.id_hash == vault.search_hash(parsed.value))
        ).one_or_none()
    except InputError:
        pass
    outcome = accounts.check_activation_code(
        session,
        subject,
        insured.id if insured else None,
        code,
        identity_matches=insured is not None and insured.name == name.strip(),
        phone=phone,
        door=door,
        now=now,
    )
    if insured is None or outcome is not accounts.CodeCheck.ACCEPTED:
        if insured is not None and outcome is accounts.CodeCheck.NOW_LOCKED:
            service.notify_staff(
                session,
                Role.INSURANCE_AGENCY,
                None,
                title="医保钱包开通已锁定",
                body=(
                    f"参保人{insured.name}（{insured.id_masked}）的钱包开通因激活码多次输错已锁定。"
                    "如确为本人办理，请核实身份后在参保登记页重新发放激活码。"
                ),
                link="/wallet/insured",
                now=now,
            )
        raise mismatch
    if insured.user_id is not None or insured.member_id is not None:
        raise Conflict("already_activated", "已开通，请直接登录（会员请用会员账号登录）")
    me = Actor(user_id=None, username=phone, role=Role.INSURED, display_name=insured.name)
    wallet = open_wallet(
        session,
        insured,
        phone=phone,
        usage_region_code=usage_region_code,
        password=password,
        actor=me,
        now=now,
    )
    user = accounts.create_user(
        session,
        username=wallet.phone,
        password=password,
        role=Role.INSURED,
        display_name=insured.name,
        actor=WALLET_DOOR,
        now=now,
    )
    insured.user_id = user.id
    session.flush()
    return wallet


def issue_activation_code(
    session: Session, insured_id: int, *, actor: Actor, settings: Settings, now: datetime
) -> tuple[Insured, str]:
    """The agency issues the one-time code with which a relative opens their wallet."""
    actor.require(Permission.WALLET_OPERATE)
    insured = session.get(Insured, insured_id)
    if insured is None:
        raise NotFound("参保人")
    if insured.user_id is not None or insured.member_id is not None:
        raise Conflict("already_activated", "该参保人已开通或是会员（用会员账号登录），无需激活码")
    if insured.ended_on is not None:
        raise InvalidInput("insurance_ended", "该参保人已终止参保，不能开通钱包")
    code = accounts.issue_activation_code(
        session, ActivationSubject.INSURED, insured.id, actor=actor, settings=settings, now=now
    )
    return insured, code


def change_usage_location(
    session: Session, region_code: str, *, actor: Actor, now: datetime
) -> Wallet:
    insured = queries.own_insured(session, actor)
    wallet = require_wallet(session, insured.id)
    target = regions.region_by_code(session, region_code)
    if not is_open(target, business_date(now)):
        raise WalletRefused(Refusal.REGION_NOT_OPEN, f"{target.name}尚未开通医保钱包")
    if target.id == wallet.usage_region_id:
        raise InvalidInput("same_usage_location", "新使用地与当前使用地相同")
    session.add(
        UsageChange(
            wallet_id=wallet.id,
            from_region_id=wallet.usage_region_id,
            to_region_id=target.id,
            at=now,
            actor_label=actor.username,
        )
    )
    wallet.usage_region_id = target.id
    _audit(session, actor, now, "wallet.usage_changed", insured.id, {"usage_region": target.code})
    session.flush()
    return wallet


def _audit(
    session: Session, actor: Actor, now: datetime, action: str, target: int, after: dict[str, str]
) -> None:
    audit.record(
        session,
        actor=actor,
        at=now,
        action=action,
        target_type="wallet_insured",
        target_id=target,
        after=after,
    )


def move_relationship(
    session: Session,
    relationship: Relationship,
    new: RelationshipStatus,
    *,
    actor_label: str,
    now: datetime,
    note: str,
) -> None:
    """A relationship's state change, guarded against a concurrent one, with its history."""
    old = relationship.status
    changed = session.execute(
        update(Relationship)
        .where(Relationship.id == relationship.id, Relationship.status == old)
        .values(status=new)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("relationship_changed", "共济关系刚被变更，请刷新后重试")
    session.add(
        RelationshipEvent(
            relationship_id=relationship.id,
            from_status=old,
            to_status=new,
            at=now,
            actor_label=actor_label,
            note=note[:200],
        )
    )
    session.refresh(relationship)


def declare_relationship(
    session: Session,
    *,
    actor: Actor,
    recipient_name: str,
    recipient_id_number: str,
    kinship: str,
    commitment: bool,
    vault: IdentityVault,
    now: datetime,
) -> Relationship:
    """The giver declares a close relative with the commitment letter; a recipient under 16 is
    bound at once, an older one confirms with face authentication."""
    giver = queries.own_insured(session, actor)
    require_wallet(session, giver.id)
    recipient = _recipient(session, recipient_name, recipient_id_number, vault, now)
    _check_declaration(session, giver, recipient, kinship, commitment)
    # Ticking the letter is the giver's consent to its wording now in force (recorded once per
    # version; given again after a withdrawal).
    consents.give(
        session, Subject.INSURED, giver.id, Purpose.WALLET_COMMITMENT, actor=actor, now=now
    )
    adult = needs_face_check(recipient.birth_date, business_date(now))
    relationship = Relationship(
        giver_id=giver.id,
        recipient_id=recipient.id,
        kinship=Kinship(kinship),
        status=RelationshipStatus.PROPOSED,
        face_verified=False,
        declared_at=now,
        confirmed_at=None if adult else now,
        dissolved_at=None,
        dissolution_reason=None,
    )
    session.add(relationship)
    session.flush()
    session.add(
        RelationshipEvent(
            relationship_id=relationship.id,
            from_status=None,
            to_status=RelationshipStatus.PROPOSED,
            at=now,
            actor_label=actor.username,
            note="共济人提交承诺书",
        )
    )
    if not adult:
        move_relationship(
            session,
            relationship,
            RelationshipStatus.ACTIVE,
            actor_label=actor.username,
            now=now,
            note="被共济人未满16周岁，直接绑定",
        )
    _audit(session, actor, now, "wallet.relationship_declared", relationship.id, {"kin": kinship})
    return relationship


def _recipient(
    session: Session, name: str, id_number: str, vault: IdentityVault, now: datetime
) -> Insured:
    unknown = NotFound("该亲属的参保信息（请核对姓名与身份证号）")
    try:
        parsed = parse_id_number(id_number, today=business_date(now))
    except InputError:
        raise unknown from None
    recipient = session.scalars(
        select(Insured).where(Insured.id_hash == vault.search_hash(parsed.value))
    ).one_or_none()
    if recipient is None or recipient.name != name.strip():
        raise unknown
    return recipient


def _check_declaration(
    session: Session, giver: Insured, recipient: Insured, kinship: str, commitment: bool
) -> None:
    if giver.scheme is not Scheme.EMPLOYEE:
        raise WalletRefused(Refusal.NOT_EMPLOYEE_INSURED)
    if giver.id == recipient.id:
        raise WalletRefused(Refusal.SELF_RELATIONSHIP)
    if kinship not in Kinship.__members__.values():
        raise WalletRefused(Refusal.NOT_CLOSE_RELATIVE)
    if not commitment:
        raise WalletRefused(Refusal.COMMITMENT_REQUIRED)
    if giver.ended_on is not None or recipient.ended_on is not None:
        raise WalletRefused(Refusal.INSURANCE_ENDED)
    live = session.scalars(
        select(Relationship.id).where(
            Relationship.giver_id == giver.id,
            Relationship.recipient_id == recipient.id,
            Relationship.status != RelationshipStatus.DISSOLVED,
        )
    ).first()
    if live is not None:
        raise WalletRefused(Refusal.DUPLICATE_RELATIONSHIP)


def confirm_relationship(
    session: Session,
    relationship_id: int,
    *,
    actor: Actor,
    commitment: bool,
    face_sample: str,
    verifier: FaceVerifier,
    now: datetime,
) -> Relationship:
    relationship = queries.relationship_for(session, actor, relationship_id)
    me = queries.own_insured(session, actor)
    if relationship.recipient_id != me.id:
        raise Forbidden("只有被共济人本人可以确认")
    if relationship.status is not RelationshipStatus.PROPOSED:
        raise Conflict("relationship_not_proposed", "该共济关系不在待确认状态")
    if not commitment:
        raise WalletRefused(Refusal.COMMITMENT_REQUIRED)
    if not face_sample:
        raise WalletRefused(Refusal.FACE_REQUIRED)
    if not verifier.matches(me.id, face_sample):
        raise WalletRefused(Refusal.VERIFICATION_FAILED, "人脸比对未通过")
    relationship.face_verified, relationship.confirmed_at = True, now
    session.flush()
    move_relationship(
        session,
        relationship,
        RelationshipStatus.ACTIVE,
        actor_label=actor.username,
        now=now,
        note=f"被共济人确认，人脸核验通过（{verifier.name}）",
    )
    _audit(session, actor, now, "wallet.relationship_confirmed", relationship.id, {})
    return relationship
