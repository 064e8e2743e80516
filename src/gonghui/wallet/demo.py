"""The wallet in the demo: the `member` persona (employee-insured in 烟台) with a funded
personal account, their mother in 成都 (resident-insured, login `relative`), bound, and one
transfer accepted and partly spent at a pharmacy, so that every page has something to show."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy.orm import Session

from gonghui.core.auth import SYSTEM, Actor, Role
from gonghui.core.clock import BUSINESS_TZ, business_date
from gonghui.core.inputs import id_check_character
from gonghui.core.pii import IdentityVault, vault_for
from gonghui.core.settings import Settings
from gonghui.members import accounts
from gonghui.members import queries as member_queries
from gonghui.members.demo import DEMO_PASSWORD
from gonghui.wallet import people, spending, transfers
from gonghui.wallet.rules import Kinship, Purpose, Scheme, Verification
from gonghui.wallet.verification import FakeFaceVerifier, Proof, face_verifier_for

RELATIVE_LOGIN = "relative"
DEMO_DOOR = Actor(user_id=None, username="demo", role=Role.ADMIN, display_name="演示数据")


def _mother_id() -> str:
    first17 = "51010419580412" + "226"
    return first17 + id_check_character(first17)


def load(session: Session, settings: Settings, *, now: datetime) -> None:
    # The story happens at 10:00 the day before, so that a demo loaded at night is not
    # refused by the night window.
    now = datetime.combine(business_date(now) - timedelta(days=1), time(10), BUSINESS_TZ)
    member = member_queries.member_of_user(session, "member")
    if member is None:
        return
    vault = vault_for(settings)
    giver = people.register_insured(
        session, name=member.name, id_number=vault.decrypt(member.id_cipher),
        scheme=Scheme.EMPLOYEE, region_code="370600", member_id=member.id, vault=vault,
        actor=SYSTEM, now=now,
    )  # fmt: skip
    mother = people.register_insured(
        session, name="王桂兰", id_number=_mother_id(), scheme=Scheme.RESIDENT,
        region_code="510100", vault=vault, actor=SYSTEM, now=now,
    )  # fmt: skip
    people.open_wallet(
        session, giver, phone=member.phone, usage_region_code="370600",
        password=DEMO_PASSWORD, actor=SYSTEM, now=now,
    )  # fmt: skip
    people.open_wallet(
        session, mother, phone="13700000003", usage_region_code="510100",
        password=DEMO_PASSWORD, actor=SYSTEM, now=now,
    )  # fmt: skip
    user = accounts.create_user(
        session, username=RELATIVE_LOGIN, password=DEMO_PASSWORD, role=Role.INSURED,
        display_name="王桂兰", actor=DEMO_DOOR, now=now,
    )  # fmt: skip
    mother.user_id = user.id
    transfers.fund_personal_account(
        session, giver.id, 300_000, idempotency_key="demo-fund", actor=SYSTEM, now=now
    )
    giver_actor = Actor(
        user_id=None, username="member", role=Role.MEMBER, display_name=member.name,
        member_id=member.id,
    )  # fmt: skip
    mother_actor = accounts.actor_for(user)
    _bind_and_send(session, settings, vault, giver_actor, mother_actor, now)


def _bind_and_send(
    session: Session,
    settings: Settings,
    vault: IdentityVault,
    giver: Actor,
    mother: Actor,
    now: datetime,
) -> None:
    verifier = face_verifier_for(settings)
    relationship = people.declare_relationship(
        session, actor=giver, recipient_name="王桂兰", recipient_id_number=_mother_id(),
        kinship=Kinship.PARENT.value, commitment=True, vault=vault, now=now,
    )  # fmt: skip
    people.confirm_relationship(
        session, relationship.id, actor=mother, commitment=True,
        face_sample=FakeFaceVerifier.PASS, verifier=verifier, now=now,
    )  # fmt: skip
    sent = transfers.submit_transfer(
        session, actor=giver, recipient_id=relationship.recipient_id, amount_fen=50_000,
        proof=Proof(Verification.FACE, FakeFaceVerifier.PASS), verifier=verifier,
        idempotency_key="demo-send", now=now,
    )  # fmt: skip
    transfers.accept_transfer(
        session, int(sent["transfer_id"]), actor=mother, idempotency_key="demo-accept", now=now
    )
    spending.pay_from_wallet(
        session, actor=mother, amount_fen=12_000, purpose=Purpose.PHARMACY, payee="成都某定点药房",
        idempotency_key="demo-pay", now=now,
    )  # fmt: skip
