"""Pages for the federation's staff who run the positions: create, edit and import them, give
them a manager, close them, decide appeals against cards and publish the evaluation's rule set.

The pages of a position's own work and of the service vehicles live in `web_work.py`, with a
router of its own that `web/app.py` registers beside this one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response

from gonghui.core.auth import Actor, Permission
from gonghui.core.errors import DomainError, ImportRejected, InvalidInput
from gonghui.edge.deps import Csrf, Db, Id, Now, flash, permitted, read_upload, render
from gonghui.edge.responses import download
from gonghui.stations import appeals, evaluation, imports, manage_queries, queries, service
from gonghui.stations.forms import RULE_LABELS, PositionForm, read_rule_set
from gonghui.stations.models import Position
from gonghui.stations.records import HEADERS, REQUIRED
from gonghui.stations.rules import AMENITY_LABELS, MANUAL_TRANSITIONS, TYPE_LABELS, PositionStatus
from gonghui.stations.scoring import RuleSet
from gonghui.stations.web_work import (
    Manager,
    Posted,
    chosen_manager,
    redirect,
    station_managers,
)

router = APIRouter(include_in_schema=False)
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


# --- Positions: create, edit, manager, status ----------


def _position_page(
    request: Request,
    db: Db,
    actor: Actor,
    form: PositionForm,
    position: Position | None = None,
    *,
    errors: dict[str, str] | None = None,
    status_form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "position": position,
        "form": form,
        "types": TYPE_LABELS,
        "amenities": AMENITY_LABELS,
        "errors": errors or {},
        "status_form": status_form or {},
    }
    if position is not None:
        context["managers"] = station_managers(db)
        context["transitions"] = sorted(MANUAL_TRANSITIONS[position.status])
    return render(
        request, "stations/manage/position.html", context, actor=actor, status_code=status_code
    )


@router.get("/stations/new")
def new_position(request: Request, db: Db, actor: Manager) -> Response:
    return _position_page(request, db, actor, PositionForm(texts={"stars": "0"}))


@router.post("/stations", dependencies=[Csrf])
def create_position(request: Request, db: Db, now: Now, actor: Manager, posted: Posted) -> Response:
    form = PositionForm.read(posted)
    try:
        record = form.record()
        if manage_queries.code_taken(db, record.code):
            raise InvalidInput(
                "code_taken", f"阵地编号 {record.code} 已存在：修改已有阵地请在其页面点“编辑”"
            )
        position, _created = service.save_position(db, record, actor=actor, now=now)
    except DomainError as refusal:
        db.rollback()
        errors = {"position": refusal.message}
        return _position_page(
            request, db, actor, form, errors=errors, status_code=refusal.http_status
        )
    flash(request, f"已新建阵地：{position.name}")
    return redirect(f"/stations/positions/{position.id}")


@router.get("/stations/positions/{position_id}/edit")
def edit_position(request: Request, position_id: Id, db: Db, actor: Manager) -> Response:
    position = queries.position_for(db, actor, position_id)
    return _position_page(request, db, actor, PositionForm.of(position), position)


@router.post("/stations/positions/{position_id}/edit", dependencies=[Csrf])
def update_position(
    request: Request, position_id: Id, db: Db, now: Now, actor: Manager, posted: Posted
) -> Response:
    position = queries.position_for(db, actor, position_id)
    form = PositionForm.read(posted, code=position.code)
    try:
        service.save_position(db, form.record(), actor=actor, now=now)
    except DomainError as refusal:
        db.rollback()
        errors = {"position": refusal.message}
        return _position_page(
            request, db, actor, form, position, errors=errors, status_code=refusal.http_status
        )
    flash(request, "阵地信息已保存")
    return redirect(f"/stations/positions/{position.id}")


@router.post("/stations/positions/{position_id}/manager", dependencies=[Csrf])
def assign_manager(
    request: Request,
    position_id: Id,
    db: Db,
    now: Now,
    actor: Manager,
    manager_user_id: Annotated[str, Form()] = "",
) -> Response:
    position = queries.position_for(db, actor, position_id)
    try:
        chosen = chosen_manager(db, manager_user_id)
    except DomainError as refusal:
        db.rollback()
        errors = {"manager": refusal.message}
        form = PositionForm.of(position)
        return _position_page(
            request, db, actor, form, position, errors=errors, status_code=refusal.http_status
        )
    if chosen != position.manager_user_id:
        service.assign_manager(db, position, chosen, actor=actor, now=now)
    name = station_managers(db).get(chosen) if chosen else None
    flash(request, f"阵地管理员：{name}" if name else "已取消该阵地的管理员")
    return redirect(f"/stations/positions/{position.id}/edit")


@router.post("/stations/positions/{position_id}/status", dependencies=[Csrf])
def change_status(
    request: Request,
    position_id: Id,
    db: Db,
    now: Now,
    actor: Manager,
    status: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    position = queries.position_for(db, actor, position_id)
    try:
        try:
            new = PositionStatus(status)
        except ValueError:
            raise InvalidInput("bad_status", "请选择新的阵地状态") from None
        service.change_status(db, position, new, reason, actor=actor, now=now)
    except DomainError as refusal:
        db.rollback()
        return _position_page(
            request,
            db,
            actor,
            PositionForm.of(position),
            position,
            errors={"status": refusal.message},
            status_form={"status": status, "reason": reason},
            status_code=refusal.http_status,
        )
    flash(request, f"阵地状态已变更为“{new.label}”")
    return redirect(f"/stations/positions/{position.id}")


# --- Import from the published template ----------


def _import_page(
    request: Request, actor: Actor, *, status_code: int = 200, **context: Any
) -> Response:
    context |= {"headers": HEADERS, "required": set(REQUIRED)}
    return render(
        request, "stations/manage/imports.html", context, actor=actor, status_code=status_code
    )


@router.get("/stations/imports")
def import_page(request: Request, actor: Manager) -> Response:
    return _import_page(request, actor)


@router.post("/stations/imports", dependencies=[Csrf])
def import_upload(
    request: Request,
    db: Db,
    now: Now,
    actor: Manager,
    file: Annotated[UploadFile, File()],
) -> Response:
    try:
        content = read_upload(file, MAX_UPLOAD_BYTES)
        report = imports.import_positions(db, content, actor=actor, now=now)
    except ImportRejected as rejected:
        db.rollback()
        return _import_page(
            request, actor, rejected=rejected, filename=file.filename, status_code=422
        )
    except DomainError as refusal:
        db.rollback()
        return _import_page(
            request,
            actor,
            error=refusal.message,
            filename=file.filename,
            status_code=refusal.http_status,
        )
    flash(request, f"导入成功：{report.summary}")
    return redirect("/stations")


@router.get(
    "/stations/imports/template.xlsx", dependencies=[Depends(permitted(Permission.STATIONS_MANAGE))]
)
def import_template() -> Response:
    return download(imports.template(), "阵地导入模板.xlsx")


# --- Appeals, decided by staff ----------


def _appeals_page(
    request: Request,
    db: Db,
    actor: Actor,
    *,
    errors: dict[int, str] | None = None,
    forms: dict[int, dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "pending": manage_queries.appeals_visible(db, actor, pending=True),
        "decided": manage_queries.appeals_visible(db, actor, pending=False),
        "errors": errors or {},
        "forms": forms or {},
    }
    return render(
        request, "stations/manage/appeals.html", context, actor=actor, status_code=status_code
    )


@router.get("/stations/appeals")
def appeals_page(request: Request, db: Db, actor: Manager) -> Response:
    return _appeals_page(request, db, actor)


@router.post("/stations/appeals/{appeal_id}/decision", dependencies=[Csrf])
def decide_appeal(
    request: Request,
    appeal_id: Id,
    db: Db,
    now: Now,
    actor: Manager,
    outcome: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    appeal = queries.appeal_for(db, actor, appeal_id)
    try:
        if outcome not in {"grant", "dismiss"}:
            raise InvalidInput("bad_outcome", "请选择处理结果：申诉成立（撤销红黄牌）或维持原判")
        appeals.decide_appeal(db, appeal, grant=outcome == "grant", note=note, actor=actor, now=now)
    except DomainError as refusal:
        db.rollback()
        return _appeals_page(
            request,
            db,
            actor,
            errors={appeal.id: refusal.message},
            forms={appeal.id: {"outcome": outcome, "note": note}},
            status_code=refusal.http_status,
        )
    flash(request, f"申诉已处理：{appeal.status.label}")
    return redirect("/stations/appeals")


# --- The evaluation's rule set ----------


def _rules_page(
    request: Request,
    db: Db,
    actor: Actor,
    form: dict[str, str] | None = None,
    *,
    error: str = "",
    status_code: int = 200,
) -> Response:
    versions = manage_queries.rule_versions(db, actor)
    current = RuleSet.from_dict(versions[0].values) if versions else RuleSet()
    if form is None:
        form = {name: str(value) for name, value in current.as_dict().items()}
    context = {
        "versions": versions,
        "current": current.as_dict(),
        "labels": RULE_LABELS,
        "form": form,
        "error": error,
    }
    return render(
        request, "stations/manage/rules.html", context, actor=actor, status_code=status_code
    )


@router.get("/stations/rules")
def rules_page(request: Request, db: Db, actor: Manager) -> Response:
    return _rules_page(request, db, actor)


@router.post("/stations/rules", dependencies=[Csrf])
def publish_rules(request: Request, db: Db, now: Now, actor: Manager, posted: Posted) -> Response:
    try:
        rules = read_rule_set(posted)
        versions = manage_queries.rule_versions(db, actor)
        if versions and RuleSet.from_dict(versions[0].values) == rules:
            raise InvalidInput(
                "rules_unchanged", f"与现行第{versions[0].version}版规则相同，无需发布新版本"
            )
        version = evaluation.publish_rule_set(db, rules, posted.text("note"), actor=actor, now=now)
    except DomainError as refusal:
        db.rollback()
        return _rules_page(
            request,
            db,
            actor,
            dict(posted),
            error=refusal.message,
            status_code=refusal.http_status,
        )
    flash(request, f"已发布考核规则第{version.version}版，此后的考核按此版计分")
    return redirect("/stations/rules")
