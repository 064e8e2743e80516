"""The wallet JSON API under /api/v1/wallet. Money moves need an `Idempotency-Key` header."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date
from gonghui.core.inputs import InputError, input_error, parse_amount
from gonghui.core.money import yuan_string
from gonghui.edge.deps import Db, Id, IdempotencyKey, Now, PageNo, Vault, api_permitted
from gonghui.edge.errors import refusals
from gonghui.wallet import people, queries, regions, spending, transfers
from gonghui.wallet.models import Region
from gonghui.wallet.schemas import (
    BalancesOut,
    ConfirmIn,
    DissolvedOut,
    DissolveIn,
    HistoryOut,
    InsuredIn,
    InsuredOut,
    PaymentIn,
    PaymentOut,
    RegionOut,
    RelativeIn,
    RelativeOut,
    SettlementLineOut,
    SettlementOut,
    TransferIn,
    TransferOut,
    yuan_fields,
)
from gonghui.wallet.verification import Proof, run_money_request
from gonghui.wallet.web import verifier_of

router = APIRouter(prefix="/wallet", tags=["wallet"])
User = Annotated[Actor, Depends(api_permitted(Permission.WALLET_USE))]
Operator = Annotated[Actor, Depends(api_permitted(Permission.WALLET_OPERATE))]


def _fen(text: str) -> int:
    # A negative or zero amount is the wallet rule's refusal (amount_invalid), not bad input.
    try:
        return parse_amount(text, allow_negative=True)
    except InputError as error:
        raise input_error("bad_amount", error) from None


@router.get("/regions", response_model=list[RegionOut])
def list_regions(db: Db) -> list[RegionOut]:
    """Every pooling region and the date its wallet opened (public, as on the NHSA app)."""
    return [
        RegionOut(
            code=r.code,
            name=r.name,
            province_code=r.province_code,
            level=r.level.value,
            wallet_opened_on=r.wallet_opened_on.isoformat() if r.wallet_opened_on else None,
        )
        for r in regions.all_regions(db)
    ]


def _insured_out(line: queries.RegistryLine) -> InsuredOut:
    person = line.insured
    return InsuredOut(
        id=person.id,
        name=person.name,
        id_masked=person.id_masked,
        scheme=person.scheme,
        region=line.region_code,
        member_linked=person.member_id is not None,
        wallet_open=line.wallet_open,
        ended_on=person.ended_on.isoformat() if person.ended_on else None,
    )


@router.get("/insured", response_model=list[InsuredOut])
def insured_registry(
    db: Db, vault: Vault, actor: Operator, q: str = "", page: PageNo = 1
) -> list[InsuredOut]:
    """The agency's insured registry, 50 a page: by name or a whole ID number."""
    return [_insured_out(line) for line in queries.registry(db, actor, vault, q, page).items]


@router.post("/insured", response_model=InsuredOut, status_code=201)
def register_insured(
    body: InsuredIn, db: Db, now: Now, vault: Vault, actor: Operator
) -> InsuredOut:
    """Record an insured person (a member of the roll is linked by their ID number)."""
    person = people.register_insured(
        db,
        name=body.name,
        id_number=body.id_number,
        scheme=body.scheme,
        region_code=body.region,
        vault=vault,
        actor=actor,
        now=now,
    )
    region = db.get(Region, person.region_id)
    assert region is not None  # noqa: S101 - the person's region is a foreign key
    return _insured_out(queries.RegistryLine(person, region.code, region.name, wallet_open=False))


def _relative_out(line: queries.RelativeLine) -> RelativeOut:
    relationship = line.relationship
    return RelativeOut(
        relationship_id=relationship.id,
        insured_id=line.other_id,
        name=line.other_name,
        direction="give" if line.i_give else "receive",
        kinship=line.kinship,
        status=relationship.status,
    )


def _relative(db: Db, actor: Actor, relationship_id: int) -> RelativeOut:
    me = queries.own_insured(db, actor)
    lines = queries.relationships_of(db, me)
    return _relative_out(next(x for x in lines if x.relationship.id == relationship_id))


@router.get("/relatives", response_model=list[RelativeOut])
def my_relatives(db: Db, actor: User) -> list[RelativeOut]:
    """Every 共济关系 the person gives or receives in, dissolved ones included (history)."""
    me = queries.own_insured(db, actor)
    return [_relative_out(line) for line in queries.relationships_of(db, me)]


@router.post("/relatives", response_model=RelativeOut, status_code=201, responses=refusals(404))
def declare_relative(body: RelativeIn, db: Db, now: Now, vault: Vault, actor: User) -> RelativeOut:
    """Declare a close relative (Civil Code art. 1045) with the commitment; one under 16 is bound
    at once, an older one confirms with face verification."""
    relationship = people.declare_relationship(
        db,
        actor=actor,
        recipient_name=body.name,
        recipient_id_number=body.id_number,
        kinship=body.kinship.value,
        commitment=body.commitment,
        vault=vault,
        now=now,
    )
    return _relative(db, actor, relationship.id)


@router.post("/relatives/{relationship_id}/confirm", response_model=RelativeOut)
def confirm_relative(
    relationship_id: Id, body: ConfirmIn, request: Request, db: Db, now: Now, actor: User
) -> RelativeOut:
    people.confirm_relationship(
        db,
        relationship_id,
        actor=actor,
        commitment=body.commitment,
        face_sample=body.face_sample,
        verifier=verifier_of(request),
        now=now,
    )
    return _relative(db, actor, relationship_id)


@router.post("/relatives/{relationship_id}/dissolve", response_model=DissolvedOut)
def dissolve_relative(
    relationship_id: Id, body: DissolveIn, db: Db, now: Now, actor: User
) -> DissolvedOut:
    """Either party ends it: a pending transfer goes back, and the unspent quota with it."""
    returned = spending.dissolve_relationship(
        db, relationship_id, actor=actor, reason=body.reason, now=now
    )
    return DissolvedOut(relationship_id=relationship_id, returned=yuan_string(returned))


@router.get("/history", response_model=list[HistoryOut])
def my_history(db: Db, actor: User) -> list[HistoryOut]:
    """The last 50 movements of the person's own money (personal account and wallet quota)."""
    me = queries.own_insured(db, actor)
    return [
        HistoryOut(
            at=line.at.isoformat(),
            label=line.label,
            memo=line.memo,
            amount=yuan_string(line.amount_fen),
        )
        for line in queries.history_of(db, me)
    ]


@router.get("/me", response_model=BalancesOut)
def my_balances(db: Db, actor: User) -> BalancesOut:
    me = queries.own_insured(db, actor)
    balances = queries.balances_of(db, me)
    found = queries.wallet_with_region(db, me)
    return BalancesOut(
        insured_id=me.id,
        personal=yuan_string(balances.personal_fen),
        held=yuan_string(balances.held_fen),
        quota=yuan_string(balances.quota_fen),
        usage_region=found[1].code if found else None,
    )


@router.post("/transfers", response_model=TransferOut)
def submit_transfer(
    body: TransferIn, request: Request, db: Db, now: Now, actor: User, key: IdempotencyKey
) -> TransferOut:
    """Send to a close relative; held until they accept or 06:00 Beijing time the next day."""
    result = run_money_request(
        db,
        lambda: transfers.submit_transfer(
            db,
            actor=actor,
            recipient_id=body.recipient_id,
            amount_fen=_fen(body.amount),
            proof=Proof(body.method, body.secret),
            verifier=verifier_of(request),
            idempotency_key=key,
            now=now,
        ),
        now,
    )
    return TransferOut(**yuan_fields(result))


@router.post("/transfers/{transfer_id}/accept", response_model=TransferOut)
def accept_transfer(
    transfer_id: Id, db: Db, now: Now, actor: User, key: IdempotencyKey
) -> TransferOut:
    result = run_money_request(
        db,
        lambda: transfers.accept_transfer(
            db, transfer_id, actor=actor, idempotency_key=key, now=now
        ),
        now,
    )
    return TransferOut(**yuan_fields(result))


@router.post("/payments", response_model=PaymentOut)
def pay(body: PaymentIn, db: Db, now: Now, actor: User, key: IdempotencyKey) -> PaymentOut:
    """Pay a designated institution or a contribution from the quota relatives gave."""
    result = run_money_request(
        db,
        lambda: spending.pay_from_wallet(
            db,
            actor=actor,
            amount_fen=_fen(body.amount),
            purpose=body.purpose,
            payee=body.payee,
            idempotency_key=key,
            now=now,
        ),
        now,
    )
    return PaymentOut(**yuan_fields(result))


@router.get("/settlement", response_model=SettlementOut)
def settlement(db: Db, now: Now, actor: Operator, month: str = "") -> SettlementOut:
    first = queries.settlement_month(month, business_date(now))
    pairs, provinces = queries.settlement(db, actor, first)

    def out(line: queries.SettlementLine) -> SettlementLineOut:
        return SettlementLineOut(
            spent_region=line.spent_code,
            giver_region=line.giver_code,
            amount=yuan_string(line.amount_fen),
        )

    return SettlementOut(
        month=first.isoformat()[:7],
        regions=[out(x) for x in pairs],
        provinces=[out(x) for x in provinces],
    )
