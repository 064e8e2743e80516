"""Pages of the insurance module for members, unit officers and adjusters: cover and claims."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile as StarletteUpload

from gonghui.core import audit
from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date
from gonghui.core.errors import DomainError, InvalidInput
from gonghui.core.inputs import whole_number_or_none
from gonghui.core.money import parse_yuan
from gonghui.core.storage import MAX_DOCUMENT_BYTES, ContentStore, sniff_document
from gonghui.edge.deps import (
    Csrf,
    Db,
    Id,
    MaybeId,
    Now,
    PageActor,
    PageNo,
    Vault,
    flash,
    permitted,
    read_upload,
    render,
)
from gonghui.edge.responses import download
from gonghui.edge.viewlog import record_view
from gonghui.insurance import claims, queries, service
from gonghui.insurance.claims_rules import (
    DOCUMENT_HINTS,
    REJECTION_LABELS,
    ClaimStatus,
    DocumentKind,
    RejectionCode,
    missing_documents,
    next_step,
    whose,
)
from gonghui.insurance.forms import MONEY_FIELDS, MONEY_HELP, read_claim_form
from gonghui.insurance.models import Claim, Plan
from gonghui.insurance.queries import QueueFilter, QueueOrder
from gonghui.insurance.store import BalanceStore
from gonghui.members import queries as member_queries
from gonghui.members.queries import Member

router = APIRouter(include_in_schema=False)

ClaimsViewer = Annotated[Actor, Depends(permitted(Permission.CLAIMS_VIEW))]
ClaimsFiler = Annotated[Actor, Depends(permitted(Permission.CLAIMS_SUBMIT))]
Adjuster = Annotated[Actor, Depends(permitted(Permission.CLAIMS_ADJUDICATE))]
QUEUE = (ClaimStatus.UNDER_REVIEW, ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED)


def balance_store(request: Request) -> BalanceStore:
    store: BalanceStore = request.app.state.balance_store
    return store


def document_store(request: Request) -> ContentStore:
    store: ContentStore = request.app.state.documents
    return store


Balances = Annotated[BalanceStore, Depends(balance_store)]
Documents = Annotated[ContentStore, Depends(document_store)]


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("/insurance/me")
def my_cover(request: Request, db: Db, now: Now, store: Balances, actor: PageActor) -> Response:
    actor.require(Permission.OWN_PROFILE)
    member = member_queries.own_member(db, actor)
    plan = service.plan_by_code(db)
    today = business_date(now)
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    cards = member_queries.cards_of(db, actor, member)
    standings = [
        (
            queries.card_standing(db, plan, card.card_no, last_month, store=store),
            queries.month_so_far(db, plan, card.card_no, today, store=store),
        )
        for card in cards
    ]
    coverages = queries.coverages_of(db, plan, member.id)
    context = {
        "member": member,
        "plan": plan,
        "standings": standings,
        "coverages": coverages,
        "covered_now": any(c.starts_on <= today <= c.ends_on for c in coverages),
        "claims": queries.claims_visible(db, actor).items,
        "notifications": member_queries.notifications_for(db, actor, limit=10),
    }
    return render(request, "insurance/me.html", context, actor=actor)


@router.get("/insurance/claims")
def claim_list(
    request: Request,
    db: Db,
    now: Now,
    actor: ClaimsViewer,
    status: str = "",
    q: Annotated[str, Query(max_length=50)] = "",
    overdue: bool = False,
    order: QueueOrder = QueueOrder.DEADLINE,
    page: PageNo = 1,
) -> Response:
    chosen = [ClaimStatus(status)] if status in ClaimStatus.__members__.values() else []
    statuses = chosen or (list(QUEUE) if actor.can(Permission.CLAIMS_ADJUDICATE) else [])
    wanted = QueueFilter(statuses, q, overdue, order)
    today = business_date(now)
    results = queries.claim_queue(db, actor, wanted, today, page)
    rows = [(claim, queries.clock_of(claim, today)) for claim in results.items]
    names = queries.member_names(db, [claim.member_id for claim in results.items])
    return render(
        request,
        "insurance/claims.html",
        {
            "results": results,
            "rows": rows,
            "names": names,
            "status": status,
            "statuses": list(ClaimStatus),
            "wanted": wanted,
            "orders": list(QueueOrder),
            "query": {"status": status, "q": q, "overdue": "1" if overdue else "", "order": order},
        },
        actor=actor,
    )


def _claim_member(db: Db, actor: Actor, member_id: int | None) -> Member:
    """The member a claim is for: oneself, or (for a unit officer) a member of the unit."""
    if member_id is None:
        return member_queries.own_member(db, actor)
    return member_queries.member_for(db, actor, member_id)


def _claim_form_context(db: Db, actor: Actor, member: Member, today: date) -> dict[str, object]:
    return {
        "member": member,
        "cards": member_queries.cards_of(db, actor, member),
        "money_fields": MONEY_FIELDS,
        "money_help": MONEY_HELP,
        "kinds": list(DocumentKind),
        "hints": DOCUMENT_HINTS,
        "form": {},
        "cover": queries.cover_of(db, member, today),
        "owner": whose(oneself=actor.member_id == member.id),
    }


@router.get("/insurance/claims/new")
def new_claim_page(
    request: Request,
    db: Db,
    now: Now,
    vault: Vault,
    actor: ClaimsFiler,
    member_id: MaybeId = None,
    q: str = "",
    page: PageNo = 1,
) -> Response:
    if member_id is None and actor.member_id is None:
        # A unit officer files for a member of the unit: first, which one.
        found = member_queries.search_members(db, actor, vault, member_queries.RollFilter(q), page)
        context = {"results": found, "q": q}
        return render(request, "insurance/claim_pick.html", context, actor=actor)
    member = _claim_member(db, actor, member_id)
    context = _claim_form_context(db, actor, member, business_date(now))
    return render(request, "insurance/claim_new.html", context, actor=actor)


async def form_fields(request: Request) -> dict[str, str]:
    return {key: value for key, value in (await request.form()).items() if isinstance(value, str)}


@router.post("/insurance/claims", dependencies=[Csrf])
def create_claim(
    request: Request,
    db: Db,
    now: Now,
    actor: ClaimsFiler,
    fields: Annotated[dict[str, str], Depends(form_fields)],
) -> Response:
    member_id = whole_number_or_none(fields.get("member_id", ""))
    member = _claim_member(db, actor, member_id)
    context = _claim_form_context(db, actor, member, business_date(now)) | {"form": fields}
    plan = service.plan_by_code(db)
    try:
        form = read_claim_form(fields)
        if fields.get("action") == "estimate":
            sheet = {**form.settlement.fields(), "fund_paid": form.settlement.fund_paid_fen}
            context["trial"] = claims.trial(
                db, plan, member.id, form.stay.admitted_on, sheet, actor=actor
            )
            return render(request, "insurance/claim_new.html", context, actor=actor)
        claim = claims.open_claim(
            db,
            plan,
            member_id=member.id,
            card_id=form.card_id,
            stay=form.stay,
            invoice_no=form.invoice_no,
            settlement=form.settlement,
            actor=actor,
            now=now,
        )
    except DomainError as refusal:
        db.rollback()
        context["error"] = refusal.message
        return render(
            request,
            "insurance/claim_new.html",
            context,
            actor=actor,
            status_code=refusal.http_status,
        )
    flash(request, "理赔申请已保存，请上传材料后提交")
    return _redirect(f"/insurance/claims/{claim.id}")


@router.get("/insurance/claims/{claim_id}")
def claim_detail(request: Request, claim_id: Id, db: Db, now: Now, actor: ClaimsViewer) -> Response:
    claim = queries.claim_for(db, actor, claim_id)
    if actor.member_id != claim.member_id:
        # The claim page carries the 医保结算单 figures: medical data, sensitive PI.
        record_view(
            request,
            db,
            actor=actor,
            now=now,
            action=audit.CLAIM_VIEWED,
            target_type="claim",
            target_ids=[claim.id],
            detail={"member_id": claim.member_id},
        )
    return _claim_page(request, db, now, actor, claim)


def _claim_page(
    request: Request,
    db: Db,
    now: datetime,
    actor: Actor,
    claim: Claim,
    status_code: int = 200,
    **extra: object,
) -> Response:
    documents = claims.documents_of(db, claim)
    plan = service.plan_by_id(db, claim.plan_id)
    events = claims.events_of(db, claim)
    return render(
        request,
        "insurance/claim.html",
        {
            "claim": claim,
            "member_name": queries.member_names(db, [claim.member_id]).get(claim.member_id, ""),
            "documents": documents,
            "missing": missing_documents(document.kind for document in documents),
            "events": events,
            "next_step": next_step(claim.status),
            "clock": queries.clock_of(claim, business_date(now)),
            "estimate": _live_estimate(db, plan, claim),
            "kinds": list(DocumentKind),
            "hints": DOCUMENT_HINTS,
            "codes": REJECTION_LABELS,
            "can_file": actor.can(Permission.CLAIMS_SUBMIT),
            "can_decide": actor.can(Permission.CLAIMS_ADJUDICATE),
            "max_mb": MAX_DOCUMENT_BYTES // (1024 * 1024),
            **extra,
        },
        actor=actor,
        status_code=status_code,
    )


def _live_estimate(db: Db, plan: Plan, claim: Claim) -> object:
    if claim.status is not ClaimStatus.UNDER_REVIEW:
        return None
    return claims.estimate(db, plan, claim.member_id, claim.admitted_on, claims.claim_fields(claim))


async def chosen_files(request: Request) -> list[tuple[DocumentKind, StarletteUpload]]:
    """The files of one upload: any number per document kind (`file_<kind>`, `multiple` on
    the page), or one file with its `kind` chosen from a list, as older forms send it."""
    form = await request.form()
    found: list[tuple[DocumentKind, StarletteUpload]] = []
    for kind in DocumentKind:
        for item in form.getlist(f"file_{kind.value}"):
            if isinstance(item, StarletteUpload) and item.filename:
                found.append((kind, item))  # noqa: PERF401 - two conditions read better
    single, kind_text = form.get("file"), form.get("kind")
    if isinstance(single, StarletteUpload) and single.filename and isinstance(kind_text, str):
        if kind_text not in DocumentKind.__members__.values():
            raise InvalidInput("bad_kind", "请选择材料类型")
        found.append((DocumentKind(kind_text), single))
    return found


def _checked_document(kind: DocumentKind, upload: StarletteUpload) -> bytes:
    content = read_upload(upload, MAX_DOCUMENT_BYTES)
    try:
        sniff_document(content)
    except DomainError as refusal:
        raise _file_refusal(kind, upload, refusal) from None
    return content


def _file_refusal(
    kind: DocumentKind, upload: StarletteUpload, refusal: DomainError
) -> InvalidInput:
    return InvalidInput(refusal.code, f"{kind.label}“{upload.filename}”：{refusal.message}")


@router.post("/insurance/claims/{claim_id}/documents", dependencies=[Csrf])
def upload_documents(
    request: Request,
    claim_id: Id,
    db: Db,
    now: Now,
    store: Documents,
    actor: ClaimsFiler,
    files: Annotated[list[tuple[DocumentKind, StarletteUpload]], Depends(chosen_files)],
) -> Response:
    """Every chosen file in one go, all or none: a refused file is named and nothing of the
    upload is kept, so the member chooses again knowing which one."""
    claim = queries.claim_for(db, actor, claim_id)
    if not files:
        return _claim_page(
            request, db, now, actor, claim, 422, upload_error="请至少选择一个材料文件"
        )
    try:
        # Every file is checked before any is stored: the store is written at once, and a
        # file stored beside one refused later would stay on disk with no row naming it.
        contents = [_checked_document(kind, upload) for kind, upload in files]
        for (kind, upload), content in zip(files, contents, strict=True):
            try:
                claims.attach_document(
                    db, claim, kind, upload.filename or "", content,
                    store=store, actor=actor, now=now,
                )  # fmt: skip
            except DomainError as refusal:
                raise _file_refusal(kind, upload, refusal) from None
    except DomainError as refusal:
        db.rollback()
        claim = queries.claim_for(db, actor, claim_id)
        return _claim_page(
            request, db, now, actor, claim, refusal.http_status, upload_error=refusal.message
        )
    flash(request, f"已上传 {len(files)} 个文件：" + "、".join(sorted({k.label for k, _ in files})))
    return _redirect(f"/insurance/claims/{claim.id}")


@router.post("/insurance/claims/{claim_id}/submit", dependencies=[Csrf])
def submit(request: Request, claim_id: Id, db: Db, now: Now, actor: ClaimsFiler) -> Response:
    claim = queries.claim_for(db, actor, claim_id)
    missing = claims.submit_claim(db, claim, actor=actor, now=now)
    flash(
        request,
        "已提交，"
        + ("请补充：" + "、".join(k.label for k in missing) if missing else "材料齐全，已进入审核"),
    )
    return _redirect(f"/insurance/claims/{claim.id}")


@router.post("/insurance/claims/{claim_id}/withdraw", dependencies=[Csrf])
def withdraw(request: Request, claim_id: Id, db: Db, now: Now, actor: ClaimsFiler) -> Response:
    claim = queries.claim_for(db, actor, claim_id)
    claims.withdraw_claim(db, claim, actor=actor, now=now)
    flash(request, "申请已撤回")
    return _redirect(f"/insurance/claims/{claim.id}")


@router.post("/insurance/claims/{claim_id}/decision", dependencies=[Csrf])
def decide(
    request: Request,
    claim_id: Id,
    db: Db,
    now: Now,
    actor: Adjuster,
    outcome: Annotated[str, Form()],
    amount: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    claim = queries.claim_for(db, actor, claim_id)
    reason = RejectionCode(code) if code in RejectionCode.__members__.values() else None
    try:
        amount_fen = parse_yuan(amount) if outcome == "partial" and amount.strip() else None
    except ValueError as error:
        raise InvalidInput("bad_amount", str(error)) from None
    if outcome == "reject":
        claims.reject_claim(db, claim, reason=reason, note=note, actor=actor, now=now)
    elif outcome == "partial":
        if amount_fen is None:
            raise InvalidInput("amount_required", "部分核准请填写核准金额")
        claims.approve_part_of_claim(
            db, claim, amount_fen=amount_fen, reason=reason, note=note, actor=actor, now=now
        )
    else:
        claims.approve_claim(db, claim, note=note, actor=actor, now=now)
    flash(request, f"已核定：{claim.status.label}")
    return _redirect(f"/insurance/claims/{claim.id}")


@router.post("/insurance/claims/{claim_id}/payment", dependencies=[Csrf])
def pay(
    request: Request,
    claim_id: Id,
    db: Db,
    now: Now,
    actor: Adjuster,
    reference: Annotated[str, Form()] = "",
) -> Response:
    claim = queries.claim_for(db, actor, claim_id)
    claims.record_payment(db, claim, reference, actor=actor, now=now)
    flash(request, "已登记支付")
    return _redirect(f"/insurance/claims/{claim.id}")


@router.get("/insurance/documents/{document_id}")
def document(
    request: Request, document_id: Id, db: Db, now: Now, store: Documents, actor: ClaimsViewer
) -> Response:
    found, claim = queries.document_for(db, actor, document_id)
    if actor.member_id != claim.member_id:
        record_view(
            request,
            db,
            actor=actor,
            now=now,
            action=audit.DOCUMENT_VIEWED,
            target_type="claim_document",
            target_ids=[found.id],
            detail={"claim_id": claim.id, "member_id": claim.member_id, "kind": found.kind.value},
        )
    return download(store.read(found.sha256), found.filename, found.content_type, inline=True)
