"""A family for wallet tests: member A (employee-insured in 烟台) gives to their mother (resident-
insured in 成都, 四川) and their son (under 16, in 烟台); each has a wallet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from gonghui.core.auth import SYSTEM, Actor, Role
from gonghui.core.pii import IdentityVault
from gonghui.wallet import people, transfers
from gonghui.wallet.models import Insured
from gonghui.wallet.rules import Kinship, Scheme, Verification
from gonghui.wallet.verification import FakeFaceVerifier, Proof
from tests.world import World, make_id

WALLET_PASSWORD = "135790"
MOTHER_ID = make_id(region="510104", birth="19550308", sequence="224")
SON_ID = make_id(region="370602", birth="20150601", sequence="317")
FACE = Proof(Verification.FACE, FakeFaceVerifier.PASS)
PASSWORD = Proof(Verification.PASSWORD, WALLET_PASSWORD)


@dataclass(frozen=True)
class Family:
    giver: Insured
    mother: Insured
    son: Insured
    giver_actor: Actor
    mother_actor: Actor
    son_actor: Actor


def insured_actor(insured: Insured, name: str) -> Actor:
    """An insured person acting with their own login (user ids far from the world's)."""
    return Actor(user_id=900_000 + insured.id, username=name, role=Role.INSURED, display_name=name)


def build_family(
    db: Session, world: World, vault: IdentityVault, now: datetime, *, bind: bool = True
) -> Family:
    giver = people.register_insured(
        db,
        name="林建国",
        id_number=world.member_a_id_number,
        scheme=Scheme.EMPLOYEE,
        region_code="370600",
        member_id=world.member_a,
        vault=vault,
        actor=SYSTEM,
        now=now,
    )
    mother = people.register_insured(
        db, name="王桂兰", id_number=MOTHER_ID, scheme=Scheme.RESIDENT, region_code="510100",
        vault=vault, actor=SYSTEM, now=now,
    )  # fmt: skip
    son = people.register_insured(
        db, name="林小宇", id_number=SON_ID, scheme=Scheme.RESIDENT, region_code="370600",
        vault=vault, actor=SYSTEM, now=now,
    )  # fmt: skip
    giver_actor = Actor(
        user_id=None, username="lin", role=Role.MEMBER, display_name="林建国",
        member_id=world.member_a,
    )  # fmt: skip
    mother_actor, son_actor = insured_actor(mother, "mother"), insured_actor(son, "son")
    for person, phone, usage in (
        (giver, "13800000001", "370600"),
        (mother, "13700000003", "510100"),
        (son, "13700000004", "370600"),
    ):
        people.open_wallet(
            db, person, phone=phone, usage_region_code=usage, password=WALLET_PASSWORD,
            actor=SYSTEM, now=now,
        )  # fmt: skip
    family = Family(giver, mother, son, giver_actor, mother_actor, son_actor)
    _link_logins(db, family)
    if bind:
        bind_mother(db, family, vault, now)
    return family


def _link_logins(db: Session, family: Family) -> None:
    # Users need rows for the foreign key; the actors' ids point at these.
    from gonghui.members.models import User  # noqa: PLC0415 - test set-up only

    for insured, actor in ((family.mother, family.mother_actor), (family.son, family.son_actor)):
        user = User(
            id=actor.user_id,
            username=actor.username,
            password_hash="x",
            display_name=actor.display_name,
            role=Role.INSURED,
            created_at=insured.created_at,
        )
        db.add(user)
        db.flush()
        insured.user_id = user.id
    db.flush()


def bind_mother(db: Session, family: Family, vault: IdentityVault, now: datetime) -> None:
    relationship = people.declare_relationship(
        db, actor=family.giver_actor, recipient_name="王桂兰", recipient_id_number=MOTHER_ID,
        kinship=Kinship.PARENT.value, commitment=True, vault=vault, now=now,
    )  # fmt: skip
    people.confirm_relationship(
        db,
        relationship.id,
        actor=family.mother_actor,
        commitment=True,
        face_sample=FakeFaceVerifier.PASS,
        verifier=verifier(),
        now=now,
    )


def verifier() -> FakeFaceVerifier:
    from gonghui.core.settings import Settings  # noqa: PLC0415

    return FakeFaceVerifier(Settings())


def fund(db: Session, family: Family, fen: int, now: datetime, key: str = "fund-1") -> None:
    transfers.fund_personal_account(
        db, family.giver.id, fen, idempotency_key=key, actor=SYSTEM, now=now
    )


@dataclass(frozen=True)
class Ring:
    """People who each give to the next two: wallets overlap, as in a large family."""

    actors: list[Actor]
    insured_ids: list[int]
    relatives: dict[int, list[int]]


def build_ring(
    db: Session, vault: IdentityVault, now: datetime, people_count: int, fund_fen: int
) -> Ring:
    from gonghui.members.models import User  # noqa: PLC0415 - test set-up only

    actors, ids = [], []
    for number in range(people_count):
        id_number = make_id(birth="19700101", sequence=f"{number:03d}")
        insured = people.register_insured(
            db, name=f"参保人{number}", id_number=id_number,
            scheme=Scheme.EMPLOYEE, region_code="370600", vault=vault, actor=SYSTEM, now=now,
        )  # fmt: skip
        people.open_wallet(
            db, insured, phone=f"137{number:08d}", usage_region_code="510100",
            password=WALLET_PASSWORD, actor=SYSTEM, now=now,
        )  # fmt: skip
        user = User(
            username=f"ring{number}", password_hash="x", display_name=insured.name,
            role=Role.INSURED, created_at=now,
        )  # fmt: skip
        db.add(user)
        db.flush()
        insured.user_id = user.id
        actors.append(Actor(user.id, user.username, Role.INSURED, insured.name))
        ids.append(insured.id)
        transfers.fund_personal_account(
            db, insured.id, fund_fen, idempotency_key=f"ring-fund-{number}", actor=SYSTEM, now=now
        )
    relatives: dict[int, list[int]] = {}
    for number in range(people_count):
        targets = [(number + step) % people_count for step in (1, 2)]
        relatives[number] = targets
        for target in targets:
            relationship = people.declare_relationship(
                db, actor=actors[number], recipient_name=f"参保人{target}",
                recipient_id_number=make_id(birth="19700101", sequence=f"{target:03d}"),
                kinship=Kinship.SIBLING.value, commitment=True, vault=vault, now=now,
            )  # fmt: skip
            people.confirm_relationship(
                db, relationship.id, actor=actors[target], commitment=True,
                face_sample=FakeFaceVerifier.PASS, verifier=verifier(), now=now,
            )  # fmt: skip
    return Ring(actors, ids, relatives)
