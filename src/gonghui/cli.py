"""The `gonghui` command: serve, migrate, demo data, users, imports and exports, retirement."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gonghui import backup, pii_cli
from gonghui.auditing import cli as audit_cli
from gonghui.cli_support import (
    CLI_ACTOR,
    CLI_SECURITY_ACTOR,
    console,
    errors,
    fail,
    load_settings,
    unit_of_work,
)
from gonghui.core import audit
from gonghui.core.auth import ADMIN_ROLES, Role
from gonghui.core.clock import clock_from, machine_now
from gonghui.core.db import engine_for, session_factory, transaction
from gonghui.core.metrics import use_multiprocess
from gonghui.core.migrate import upgrade
from gonghui.core.pii import vault_for
from gonghui.demo import load_demo
from gonghui.insurance import cli as insurance_cli
from gonghui.jobs import cli as jobs_cli
from gonghui.jobs.cli import jobs_app
from gonghui.members import accounts, banks, demo, queries, second_factor
from gonghui.members.cli import banks_app
from gonghui.members.exports import export_xlsx
from gonghui.members.imports import ImportKind, import_file
from gonghui.retirement import cli as retirement_cli
from gonghui.stations import cli as stations_cli
from gonghui.wallet import cli as wallet_cli

app = typer.Typer(help="职工服务平台 gonghui", no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="数据库", no_args_is_help=True)
demo_app = typer.Typer(help="演示数据", no_args_is_help=True)
users_app = typer.Typer(help="用户", no_args_is_help=True)
members_app = typer.Typer(help="会员名册：导入与导出", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(users_app, name="users")
app.add_typer(members_app, name="members")
app.add_typer(banks_app, name="banks")
app.add_typer(jobs_app, name="jobs")
app.command("worker")(jobs_cli.worker)
app.add_typer(retirement_cli.app, name="retirement")
app.add_typer(insurance_cli.app, name="insurance")
app.add_typer(stations_cli.app, name="stations")
app.add_typer(wallet_cli.app, name="wallet")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(pii_cli.app, name="pii")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="监听地址")] = None,
    port: Annotated[int | None, typer.Option(help="端口")] = None,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="同时启动后台任务进程（make run 用）")
    ] = False,
    workers: Annotated[int, typer.Option(min=1, max=32, help="网站进程数（生产环境）")] = 1,
) -> None:
    """启动网站与 API。"""
    # Imported here so that the other commands start without loading the web stack.
    import uvicorn  # noqa: PLC0415

    settings = load_settings()
    # Before the web processes start, so that they inherit where to write their figures.
    use_multiprocess(settings)
    console.print(f"职工服务平台已启动：http://{host or settings.host}:{port or settings.port}/")
    with _worker_beside() if with_worker else nullcontext():
        uvicorn.run(
            "gonghui.web.asgi:app",
            factory=True,
            workers=workers,
            host=host or settings.host,
            port=port or settings.port,
            log_level="info",
            # uvicorn's records go to the root logger, written by ours (JSON in production).
            log_config=None,
            # X-Forwarded-For is believed only from GONGHUI_TRUSTED_PROXIES, by the app itself
            # (`TrustedProxies`); uvicorn's own handling would believe any peer on loopback.
            proxy_headers=False,
            server_header=False,
            # A stop lets requests in flight finish (systemd waits, then kills).
            timeout_graceful_shutdown=20,
        )


@contextmanager
def _worker_beside() -> Iterator[None]:
    """The worker as a child process for as long as the server runs (one command for a
    developer or a demo; production runs each under systemd)."""
    child = subprocess.Popen([sys.executable, "-m", "gonghui", "worker"])
    try:
        yield
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """把数据库迁移到最新版本。"""
    settings = load_settings()
    outcome = upgrade(settings)
    console.print(outcome.message)


@demo_app.command("load")
def demo_load(
    members: Annotated[int, typer.Option(min=1, max=2_000_000, help="会员人数")] = (
        demo.DEFAULT_MEMBERS
    ),
    seed: Annotated[int, typer.Option(help="随机种子（同一种子生成同样的数据）")] = 2025,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="数据库已有数据时跳过")] = False,
) -> None:
    """载入演示工会：约200个单位、会员、两家银行的会员卡、各角色的演示账号，以及一年的补充医保数据。"""
    settings = load_settings()
    engine = engine_for(settings)
    factory = session_factory(engine)
    now = clock_from(settings).now()
    with transaction(factory) as session:
        if not demo.is_empty(session):
            if if_empty:
                console.print("数据库已有数据，跳过演示数据载入")
                _print_logins()
                return
            fail("数据库已有数据；演示数据只能载入空库（可删除 var/gonghui.db 后重试）")
        with _progress() as bar:
            task = bar.add_task("生成会员", total=members)
            summary = load_demo(
                session,
                settings,
                now=now,
                members=members,
                seed=seed,
                progress=lambda _what, done, _total: bar.update(task, completed=done),
            )
    engine.dispose()
    insurance = summary.insurance
    console.print(
        f"已载入演示数据：{members} 名会员；补充医保 {insurance.months_assessed} 个月考核、"
        f"{insurance.balance_rows:,} 条日终余额、{insurance.claims} 件理赔"
    )
    _print_logins()


def _print_logins() -> None:
    table = Table(title=f"演示账号（密码均为 {demo.DEMO_PASSWORD}）")
    table.add_column("用户名")
    table.add_column("角色")
    for persona in demo.PERSONAS:
        table.add_row(persona.username, persona.role.label)
    console.print(table)
    console.print(
        "会员自助开通账号需要激活码：以 officer 登录，在“会员”中打开一名会员，点“发放激活码”，"
        "再到 /activate 用姓名、身份证号、手机号和激活码开通。"
    )


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option(help="用户名")],
    role: Annotated[Role, typer.Option(help="角色")],
    password: Annotated[
        str, typer.Option(prompt="密码", hide_input=True, confirmation_prompt=True, help="密码")
    ],
    display_name: Annotated[str, typer.Option(help="姓名")] = "",
    unit: Annotated[str, typer.Option(help="所属单位的统一社会信用代码")] = "",
    bank: Annotated[str, typer.Option(help="所属银行代码，如 YTB")] = "",
) -> None:
    """创建工作人员、银行或管理员账号（系统、安全、审计管理员各用各的账号）；首次登录须修改密码。"""
    with unit_of_work() as (session, settings):
        unit_row = queries.units_by_credit_code(session, {unit.upper()}).get(unit.upper())
        if unit and unit_row is None:
            fail(f"统一社会信用代码 {unit} 对应的单位不存在")
        bank_row = banks.bank_by_code(session, bank) if bank else None
        accounts.create_user(
            session,
            username=username,
            password=password,
            role=role,
            display_name=display_name,
            unit=unit_row,
            bank=bank_row,
            actor=CLI_SECURITY_ACTOR if role in ADMIN_ROLES else CLI_ACTOR,
            now=clock_from(settings).now(),
        )
    console.print(f"已创建用户 {username}（{role.label}），首次登录须修改初始密码")


@users_app.command("reset-2fa")
def users_reset_2fa(username: Annotated[str, typer.Option(help="用户名")]) -> None:
    """重置一个账号的两步验证（手机丢失时）；其全部登录会话随之结束。"""
    with unit_of_work() as (session, _settings):
        user_id = accounts.user_id_by_username(session, username)
        if user_id is None:
            fail(f"用户 {username} 不存在")
        second_factor.reset(session, user_id, actor=CLI_SECURITY_ACTOR, at=machine_now())
    console.print(f"已重置用户 {username} 的两步验证")


@members_app.command("import")
def members_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """导入单位、会员或会员卡（按表头识别）；有任何错误则逐行列出，不写入任何数据。"""
    with unit_of_work() as (session, settings), _progress() as bar:
        task = bar.add_task(f"导入 {file.name}", total=None)
        report = import_file(
            session,
            file.read_bytes(),
            actor=CLI_ACTOR,
            now=clock_from(settings).now(),
            vault=vault_for(settings),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(report.summary)


@members_app.command("export")
def members_export(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="输出的 XLSX 文件")],
    kind: Annotated[ImportKind, typer.Option(help="导出内容")] = ImportKind.MEMBERS,
) -> None:
    """按导入模板的格式导出到 XLSX，可再次导入。"""
    if file.suffix.lower() != ".xlsx":
        fail("导出文件名应以 .xlsx 结尾")
    with unit_of_work() as (session, settings):
        vault = vault_for(settings)
        content = export_xlsx(session, CLI_ACTOR, vault, kind, clock_from(settings).now())
        if kind is not ImportKind.UNITS:
            audit.record(
                session,
                actor=CLI_ACTOR,
                at=clock_from(settings).now(),
                action=audit.ID_EXPORTED,
                target_type="export",
                target_id=kind.value,
                after={"client": "cli", "file": str(file)},
            )
    file.write_bytes(content)
    console.print(f"已导出{kind.label}到 {file}")


@app.command("backup")
def backup_command(
    file: Annotated[
        Path, typer.Argument(dir_okay=False, help="备份文件，如 gonghui-2025-03-01.tar.gz")
    ],
) -> None:
    """备份数据库和存储目录（含 SHA-256 校验清单）；平台运行时也可备份。"""
    settings = load_settings()
    if file.exists():
        fail(f"{file} 已存在，请换一个文件名")
    try:
        manifest = backup.backup(settings, file, now=clock_from(settings).now(), say=errors.print)
    except backup.BackupError as error:
        fail(str(error))
    rows = sum(manifest.tables.values())
    console.print(
        f"已备份到 {file}：{len(manifest.tables)} 张表 {rows:,} 行，{len(manifest.files)} 个文件"
    )


@app.command("restore")
def restore_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="备份文件")],
) -> None:
    """从备份恢复到空的数据库和空的存储目录（否则拒绝），恢复后逐表核对行数。"""
    settings = load_settings()
    try:
        manifest = backup.restore(settings, file, say=errors.print)
    except backup.BackupError as error:
        fail(str(error))
    console.print(
        f"已从 {file} 恢复（备份于 {manifest.created_at}，版本 {'、'.join(manifest.revisions)}）；"
        "行数与文件校验和均与备份一致"
    )


def main() -> None:  # pragma: no cover - console entry point
    app(prog_name="gonghui")
    sys.exit(0)
