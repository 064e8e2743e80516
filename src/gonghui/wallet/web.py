"""Pages of the wallet for the insured: balance and history, relatives, send with verification,
accept, pay, usage location; and the self-service opening for relatives who are not members."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import BUSINESS_TZ, business_date
from gonghui.core.errors import DomainError, InvalidInput, NotFound
from gonghui.core.inputs import MAX_ID, InputError, input_error, parse_amount
from gonghui.core.money import format_fen
from gonghui.edge.deps import (
    Csrf,
    Db,
    Id,
    MaybeActor,
    Now,
    Vault,
    client_address,
    flash,
    get_settings,
    permitted,
    render,
)
from gonghui.members import accounts
from gonghui.wallet import people, queries, regions, spending, transfers
from gonghui.wallet.regions_data import PROVINCES
from gonghui.wallet.rules import KINSHIP_LABELS, PURPOSE_LABELS, Purpose, Verification
from gonghui.wallet.verification import FaceVerifier, Proof, face_verifier_for, run_money_request

router = APIRouter(include_in_schema=False)
WalletUser = Annotated[Actor, Depends(permitted(Permission.WALLET_USE))]


def verifier_of(request: Request) -> FaceVerifier:
    verifier: FaceVerifier | None = getattr(request.app.state, "face_verifier", None)
    if verifier is None:
        verifier = face_verifier_for(request.app.state.settings)
        request.app.state.face_verifier = verifier
    return verifier


# What a refused transfer form shows again (never the password).
KEPT_FIELDS = ("amount", "recipient", "method")


def _back(path: str = "/wallet") -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _yuan(text: str) -> int:
    # A negative or zero amount is the wallet rule's refusal (amount_invalid), not bad input.
    try:
        return parse_amount(text, allow_negative=True)
    except InputError as error:
        raise input_error("bad_amount", error) from None


@router.get("/wallet")
def wallet_home(request: Request, db: Db, now: Now, actor: WalletUser) -> Response:
    try:
        me = queries.own_insured(db, actor)
    except NotFound:
        return render(request, "wallet/none.html", {}, actor=actor)
    found = queries.wallet_with_region(db, me)
    context = {
        "me": me,
        "wallet": found[0] if found else None,
        "usage": found[1] if found else None,
        "balances": queries.balances_of(db, me),
        "relatives": queries.relationships_of(db, me),
        "transfers": queries.transfers_of(db, me),
        "history": queries.history_of(db, me),
        "kinships": KINSHIP_LABELS,
        "now": now,
        "purposes": PURPOSE_LABELS,
        "open_regions": regions.open_region_choices(db, business_date(now)),
        "provinces": PROVINCES,
        "kept": {key: request.query_params.get(key, "")[:20] for key in KEPT_FIELDS},
        "key": secrets.token_urlsafe(16),
        "fake_face": verifier_of(request).name == "fake",
        "tz": BUSINESS_TZ,
    }
    return render(request, "wallet/home.html", context, actor=actor)


def _refused(request: Request, db: Db, error: DomainError) -> RedirectResponse:
    db.rollback()  # nothing of a refused request stays
    flash(request, error.message, "error")
    return _back()


def _money_move(
    request: Request,
    db: Db,
    now: datetime,
    operation: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], str],
    keep: dict[str, str] | None = None,
) -> RedirectResponse:
    """A money move from a form: committed and told in `done`'s words, or refused in the
    refusal's (which `run_money_request` has recorded under the form's key). A refused form's
    `keep` values come back in the page's address, so the form shows them again (never the
    password)."""
    try:
        result = run_money_request(db, operation, now)
    except DomainError as error:
        db.rollback()
        flash(request, error.message, "error")
        return _back("/wallet?" + urlencode(keep) if keep else "/wallet")
    flash(request, done(result))
    return _back()


@router.post("/wallet/relatives", dependencies=[Csrf])
def declare(
    request: Request,
    db: Db,
    now: Now,
    vault: Vault,
    actor: WalletUser,
    name: Annotated[str, Form()] = "",
    id_number: Annotated[str, Form()] = "",
    kinship: Annotated[str, Form()] = "",
    commitment: Annotated[str, Form()] = "",
) -> Response:
    try:
        relationship = people.declare_relationship(
            db, actor=actor, recipient_name=name, recipient_id_number=id_number, kinship=kinship,
            commitment=commitment == "yes", vault=vault, now=now,
        )  # fmt: skip
    except DomainError as error:
        return _refused(request, db, error)
    flash(request, f"已提交共济关系（{relationship.status.label}）")
    return _back()


@router.post("/wallet/relatives/{relationship_id}/confirm", dependencies=[Csrf])
def confirm(
    request: Request,
    relationship_id: Id,
    db: Db,
    now: Now,
    actor: WalletUser,
    face_sample: Annotated[str, Form()] = "",
    commitment: Annotated[str, Form()] = "",
) -> Response:
    try:
        people.confirm_relationship(
            db, relationship_id, actor=actor, commitment=commitment == "yes",
            face_sample=face_sample, verifier=verifier_of(request), now=now,
        )  # fmt: skip
    except DomainError as error:
        return _refused(request, db, error)
    flash(request, "共济关系已生效")
    return _back()


@router.post("/wallet/relatives/{relationship_id}/dissolve", dependencies=[Csrf])
def dissolve(
    request: Request,
    relationship_id: Id,
    db: Db,
    now: Now,
    actor: WalletUser,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    if confirm != "yes":
        # One tap must not take back a relative's quota: the page says what returns to whom
        # beside the box to tick.
        return _refused(request, db, InvalidInput("confirm_required", "请勾选确认后再解除共济关系"))
    try:
        me = queries.own_insured(db, actor)
        line = next(
            (x for x in queries.relationships_of(db, me) if x.relationship.id == relationship_id),
            None,
        )
        returned = spending.dissolve_relationship(
            db, relationship_id, actor=actor, reason="", now=now
        )
    except DomainError as error:
        return _refused(request, db, error)
    giver = me.name if line is None or line.i_give else line.other_name
    back = returned + (line.pending_fen if line else 0)  # the voided transfer returns too
    flash(
        request,
        f"共济关系已解除，{format_fen(back)} 已退回{giver}的个人账户"
        if back
        else "共济关系已解除，没有未使用的共济额度需要退回",
    )
    return _back()


@router.post("/wallet/transfers", dependencies=[Csrf])
def send(
    request: Request,
    db: Db,
    now: Now,
    actor: WalletUser,
    recipient_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    amount: Annotated[str, Form()],
    method: Annotated[Verification, Form()],
    idempotency_key: Annotated[str, Form()],
    password: Annotated[str, Form()] = "",
    face_sample: Annotated[str, Form()] = "",
) -> Response:
    secret = password if method is Verification.PASSWORD else face_sample
    return _money_move(
        request,
        db,
        now,
        lambda: transfers.submit_transfer(
            db, actor=actor, recipient_id=recipient_id, amount_fen=_yuan(amount),
            proof=Proof(method, secret), verifier=verifier_of(request),
            idempotency_key=idempotency_key, now=now,
        ),
        lambda result: f"转账成功，{format_fen(result['amount_fen'])} 待对方接收",
        keep={"amount": amount[:20], "recipient": str(recipient_id), "method": method.value},
    )  # fmt: skip


@router.post("/wallet/transfers/{transfer_id}/accept", dependencies=[Csrf])
def accept(
    request: Request,
    transfer_id: Id,
    db: Db,
    now: Now,
    actor: WalletUser,
    idempotency_key: Annotated[str, Form()],
) -> Response:
    return _money_move(
        request,
        db,
        now,
        lambda: transfers.accept_transfer(
            db, transfer_id, actor=actor, idempotency_key=idempotency_key, now=now
        ),
        lambda _result: "已接收，额度已存入您的医保钱包",
    )


@router.post("/wallet/payments", dependencies=[Csrf])
def pay(
    request: Request,
    db: Db,
    now: Now,
    actor: WalletUser,
    amount: Annotated[str, Form()],
    purpose: Annotated[Purpose, Form()],
    payee: Annotated[str, Form()],
    idempotency_key: Annotated[str, Form()],
) -> Response:
    return _money_move(
        request,
        db,
        now,
        lambda: spending.pay_from_wallet(
            db, actor=actor, amount_fen=_yuan(amount), purpose=purpose, payee=payee,
            idempotency_key=idempotency_key, now=now,
        ),
        lambda _result: f"支付成功：{payee}",
    )  # fmt: skip


@router.post("/wallet/usage", dependencies=[Csrf])
def change_usage(
    request: Request, db: Db, now: Now, actor: WalletUser, region: Annotated[str, Form()]
) -> Response:
    try:
        people.change_usage_location(db, region, actor=actor, now=now)
    except DomainError as error:
        return _refused(request, db, error)
    flash(request, "使用地已变更")
    return _back()


@router.get("/wallet/activate")
def activate_page(request: Request, db: Db, now: Now, actor: MaybeActor) -> Response:
    context = {
        "open_regions": regions.open_regions(db, business_date(now)),
        "provinces": PROVINCES,
        "form": {},
    }
    return render(request, "wallet/activate.html", context, actor=actor)


@router.post("/wallet/activate", dependencies=[Csrf])
def activate(
    request: Request,
    db: Db,
    now: Now,
    vault: Vault,
    actor: MaybeActor,
    name: Annotated[str, Form(max_length=64)] = "",
    id_number: Annotated[str, Form(max_length=32)] = "",
    phone: Annotated[str, Form(max_length=32)] = "",
    code: Annotated[str, Form(max_length=32)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    region: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    door = accounts.ActivationDoor(client_address(request), get_settings(request))
    try:
        people.activate_relative(
            db, name=name, id_number=id_number, phone=phone, code=code, password=password,
            usage_region_code=region, vault=vault, door=door, now=now,
        )  # fmt: skip
    except DomainError as error:
        if not accounts.refusal_is_counted(error):
            db.rollback()  # a counted attempt stays, for the throttle and the lock
        context = {
            "open_regions": regions.open_regions(db, business_date(now)),
            "provinces": PROVINCES,
            "form": {"name": name, "phone": phone, "region": region},
            "error": error.message,
        }
        return render(
            request, "wallet/activate.html", context, actor=actor, status_code=error.http_status
        )
    flash(request, "医保钱包已开通，请用手机号和密码登录")
    return _back("/login")
