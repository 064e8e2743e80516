"""Every kind of task a person may start: the module's own service, called with the starter as
its actor (so its permission checks and audit rows are the same as from the page), and what
the starter reads when it is done."""

from __future__ import annotations

from gonghui.core.clock import business_date
from gonghui.core.inputs import InputError, input_error, parse_month
from gonghui.insurance import assessment
from gonghui.insurance import service as insurance_service
from gonghui.insurance.balances import Source, import_balances
from gonghui.jobs.tasks import (
    ASSESSMENT,
    BALANCE_IMPORT,
    EVALUATION,
    IMPACT_EXPORT,
    ROLL_IMPORT,
    TaskContext,
    TaskKind,
    TaskOutcome,
)
from gonghui.members import queries as member_queries
from gonghui.members.tasks import import_roll_file
from gonghui.retirement import queries as retirement_queries
from gonghui.retirement.export import impact_xlsx
from gonghui.stations import evaluation


def _assessment(context: TaskContext) -> TaskOutcome:
    parameters = context.parameters
    try:
        month = parse_month(str(parameters["period"]), "考核月份")
    except InputError as error:
        raise input_error("bad_period", error) from None
    summary = assessment.assess(
        context.session,
        insurance_service.plan_by_code(context.session, parameters.get("plan_code")),
        month,
        actor=context.actor,
        now=context.now,
        store=context.balance_store,
        allow_missing_banks=bool(parameters.get("allow_missing_banks")),
        progress=context.progress,
    )
    late = (
        f"；{'、'.join(summary.banks_missing)} 的余额未报送至期末" if summary.banks_missing else ""
    )
    return TaskOutcome(
        f"{summary.period} 考核完成：{summary.cards_assessed} 张卡，达标 {summary.eligible}{late}",
        url="/insurance/assessments",
    )


def _upload(context: TaskContext) -> bytes:
    """The uploaded file the request kept for the task (see `keep_upload`)."""
    return (context.settings.storage_dir / str(context.parameters["upload"])).read_bytes()


def _balance_import(context: TaskContext) -> TaskOutcome:
    content = _upload(context)
    context.progress(0, 1, "检查并写入余额")
    bank = member_queries.bank_for(
        context.session, context.actor, int(context.parameters["bank_id"])
    )
    report = import_balances(
        context.session,
        content,
        bank=bank,
        filename=str(context.parameters.get("filename", "")),
        source=Source.UPLOAD,
        actor=context.actor,
        now=context.now,
        store=context.balance_store,
    )
    context.progress(1, 1, "完成")
    return TaskOutcome(report.summary, url="/insurance/balances")


def _evaluation(context: TaskContext) -> TaskOutcome:
    context.progress(0, 1, "计算阵地得分")
    summary = evaluation.evaluate(
        context.session, str(context.parameters["period"]), actor=context.actor, now=context.now
    )
    context.progress(1, 1, "完成")
    return TaskOutcome(
        f"{summary.period} 考核完成：共{summary.evaluated}个阵地，达标{summary.green}个，"
        f"黄牌{summary.yellow}个，红牌{summary.red}个",
        url=f"/stations/evaluations/{summary.run_id}",
    )


def _impact_export(context: TaskContext) -> TaskOutcome:
    context.progress(0, 2, "统计会员")
    scoped = retirement_queries.impact_for(
        context.session,
        context.actor,
        business_date(context.now),
        unit_code=str(context.parameters.get("unit", "")),
        industry=str(context.parameters.get("industry", "")),
    )
    context.progress(1, 2, "生成表格")
    name = f"延迟退休影响分析-{scoped.report.as_of}.xlsx"
    stored = context.save_file(name, impact_xlsx(scoped))
    context.progress(2, 2, "完成")
    return TaskOutcome(
        f"已生成 {name}（{scoped.report.total.members} 名会员）",
        url=f"/jobs/tasks/{context.task_id}/result",
        file=stored,
    )


KINDS: dict[str, TaskKind] = {
    kind.name: kind
    for kind in (
        TaskKind(ASSESSMENT, "日均余额考核", "步", _assessment),
        TaskKind(BALANCE_IMPORT, "导入余额文件", "步", _balance_import),
        TaskKind(EVALUATION, "阵地考核", "步", _evaluation),
        TaskKind(IMPACT_EXPORT, "导出延迟退休影响分析", "步", _impact_export),
        TaskKind(ROLL_IMPORT, "导入单位、会员或会员卡", "行", import_roll_file),
    )
}
