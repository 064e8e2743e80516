"""The spine's JSON API under /api/v1/members: the roll (units, members, cards, imports) and the
partner banks. The paths it had before the prefix answer from `api_moved.py` for one release."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import JSONResponse

from gonghui.core.audit import ID_VIEWED
from gonghui.core.auth import Actor, Permission
from gonghui.edge.deps import ApiActor, Db, Id, Now, PageNo, Vault, api_permitted, read_upload
from gonghui.edge.viewlog import record_view
from gonghui.jobs.starting import TaskOut, accepted, queue_upload, too_big_for_request
from gonghui.jobs.tasks import ROLL_IMPORT
from gonghui.members import banks, queries, service
from gonghui.members.imports import import_file
from gonghui.members.schemas import (
    BankIn,
    BankOut,
    BankUpdateIn,
    CardOut,
    ImportResultOut,
    MemberOut,
    PageOut,
    StatusChangeIn,
    UnitOut,
)
from gonghui.members.service import Outcome

router = APIRouter(prefix="/members", tags=["members"])
# A member's id is `{member_id:int}` in the paths, so that `/cards`, `/banks`, `/units` and `/me`
# never read as one, whichever route is declared first.

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


@router.get("/units", response_model=PageOut[UnitOut])
def list_units(
    db: Db,
    actor: Annotated[Actor, Depends(api_permitted(Permission.UNITS_VIEW))],
    q: str = "",
    page: PageNo = 1,
) -> PageOut[UnitOut]:
    results = queries.search_units(db, actor, q, page)
    return PageOut.of(results, [UnitOut.of(unit) for unit in results.items])


@router.get("/units/{unit_id}", response_model=UnitOut)
def get_unit(
    unit_id: Id,
    db: Db,
    actor: Annotated[Actor, Depends(api_permitted(Permission.UNITS_VIEW))],
) -> UnitOut:
    return UnitOut.of(queries.unit_for(db, actor, unit_id))


def _log_full_ids(request: Request, db: Db, actor: Actor, now: Now, member_ids: list[int]) -> None:
    """Every answer that carries full ID numbers is an audited view of each of them."""
    if actor.can(Permission.FULL_ID_VIEW) and member_ids:
        record_view(
            request,
            db,
            actor=actor,
            now=now,
            action=ID_VIEWED,
            target_type="member",
            target_ids=member_ids,
        )


@router.get("", response_model=PageOut[MemberOut])
def list_members(
    request: Request,
    db: Db,
    now: Now,
    vault: Vault,
    actor: Annotated[Actor, Depends(api_permitted(Permission.MEMBERS_VIEW))],
    q: str = "",
    page: PageNo = 1,
) -> PageOut[MemberOut]:
    """Search by name, phone or a full ID number; ID numbers are masked unless the role
    keeps the roll."""
    results = queries.search_members(db, actor, vault, queries.RollFilter(q), page)
    _log_full_ids(request, db, actor, now, [member.id for member in results.items])
    return PageOut.of(results, [MemberOut.of(member, actor, vault) for member in results.items])


@router.get("/me", response_model=MemberOut)
def my_member_record(db: Db, vault: Vault, actor: ApiActor) -> MemberOut:
    actor.require(Permission.OWN_PROFILE)
    return MemberOut.of(queries.own_member(db, actor), actor, vault)


@router.get("/{member_id:int}", response_model=MemberOut)
def get_member(
    request: Request,
    member_id: Id,
    db: Db,
    now: Now,
    vault: Vault,
    actor: Annotated[Actor, Depends(api_permitted(Permission.MEMBERS_VIEW))],
) -> MemberOut:
    member = queries.member_for(db, actor, member_id)
    _log_full_ids(request, db, actor, now, [member.id])
    return MemberOut.of(member, actor, vault)


@router.post("/{member_id:int}/status", response_model=MemberOut)
def change_member_status(
    request: Request,
    member_id: Id,
    change: StatusChangeIn,
    db: Db,
    now: Now,
    vault: Vault,
    actor: Annotated[Actor, Depends(api_permitted(Permission.MEMBERS_MANAGE))],
) -> MemberOut:
    member = queries.member_for(db, actor, member_id)
    service.change_membership_status(db, member, change.status, change.reason, actor=actor, now=now)
    _log_full_ids(request, db, actor, now, [member.id])
    return MemberOut.of(member, actor, vault)


@router.get("/cards", response_model=PageOut[CardOut])
def list_cards(
    db: Db,
    actor: Annotated[Actor, Depends(api_permitted(Permission.CARDS_VIEW))],
    q: str = "",
    page: PageNo = 1,
) -> PageOut[CardOut]:
    """Cards the caller may see; a bank's token sees its own bank's cards only."""
    results = queries.search_cards(db, actor, q, page)
    return PageOut.of(results, [CardOut.of(card) for card in results.items])


@router.post(
    "/imports",
    response_model=ImportResultOut,
    responses={
        202: {
            "model": TaskOut,
            "description": "文件超过同步导入上限，已排队由后台任务导入；`Location` 为任务地址",
        }
    },
)
def import_roll_file(
    request: Request,
    db: Db,
    now: Now,
    vault: Vault,
    actor: ApiActor,
    file: Annotated[UploadFile, File()],
) -> ImportResultOut | JSONResponse:
    """Import units, members or cards (told apart by their headers); all-or-nothing, with
    every bad line in `error.details` on refusal. A file over the synchronous limit
    (`GONGHUI_SYNC_IMPORT_MAX_BYTES`) is queued for the worker: 202 with the task's URL."""
    content = read_upload(file, MAX_UPLOAD_BYTES)
    if too_big_for_request(request, content):
        return accepted(
            request, queue_upload(request, db, ROLL_IMPORT, content, {}, actor=actor, now=now)
        )
    report = import_file(db, content, actor=actor, now=now, vault=vault)
    return ImportResultOut(
        kind=report.kind.value,
        rows=report.rows,
        created=report.counts[Outcome.CREATED],
        updated=report.counts[Outcome.UPDATED],
        unchanged=report.counts[Outcome.UNCHANGED],
        summary=report.summary,
    )


BankManager = Annotated[Actor, Depends(api_permitted(Permission.BANKS_MANAGE))]


def _bank_out(db: Db, bank_id: int) -> BankOut:
    return next(BankOut.of(view) for view in banks.bank_views(db) if view.id == bank_id)


@router.get("/banks", response_model=list[BankOut])
def list_banks(db: Db, _actor: BankManager) -> list[BankOut]:
    """The partner banks, retired ones included (with their date)."""
    return [BankOut.of(view) for view in banks.bank_views(db)]


@router.post("/banks", response_model=BankOut, status_code=201)
def register_bank(body: BankIn, db: Db, now: Now, actor: BankManager) -> BankOut:
    """Register a partner bank with the card number prefixes it issues (none may overlap
    another bank's)."""
    bank = banks.register_bank(
        db, code=body.code, name=body.name, prefixes=body.prefixes, actor=actor, now=now
    )
    return _bank_out(db, bank.id)


@router.post("/banks/{bank_id}", response_model=BankOut)
def update_bank(
    bank_id: Id,
    body: BankUpdateIn,
    db: Db,
    now: Now,
    actor: BankManager,
) -> BankOut:
    """Rename a bank and replace its prefixes; cards already issued are not touched."""
    bank = queries.bank_for(db, actor, bank_id)
    banks.update_bank(db, bank, name=body.name, prefixes=body.prefixes, actor=actor, now=now)
    return _bank_out(db, bank.id)


@router.post("/banks/{bank_id}/retire", response_model=BankOut)
def retire_bank(bank_id: Id, db: Db, now: Now, actor: BankManager) -> BankOut:
    """End the partnership from today: history kept, no new cards, the bank's tokens stop."""
    bank = queries.bank_for(db, actor, bank_id)
    banks.retire_bank(db, bank, actor=actor, now=now)
    return _bank_out(db, bank.id)
