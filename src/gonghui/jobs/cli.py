"""`gonghui worker` and `gonghui jobs …`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gonghui.cli_support import console, fail, load_settings
from gonghui.core.clock import beijing
from gonghui.core.metrics import use_multiprocess
from gonghui.jobs import queries
from gonghui.jobs.catalogue import JOBS
from gonghui.jobs.runner import JobBusy
from gonghui.jobs.worker import Queue

jobs_app = typer.Typer(help="定时任务与后台任务", no_args_is_help=True)


def worker(
    threads: Annotated[int, typer.Option(min=1, max=8, help="同时运行的任务数")] = 1,
) -> None:
    """运行后台任务：按北京时间的计划执行定时任务，并处理网页和接口排队的任务。"""
    settings = load_settings()
    use_multiprocess(settings)  # its job figures reach the web processes' /metrics
    queue = Queue(settings)
    console.print(f"后台任务进程已启动（{queue.runner.worker}），按 Ctrl+C 停止")
    queue.run_worker(threads=threads)


@jobs_app.command("list")
def list_jobs() -> None:
    """各任务的计划、最近一次运行和下次运行时间（北京时间）。"""
    queue = Queue(load_settings())
    with queue.runner.factory() as session:
        overview = queries.overview(session, queue.clock.now())
    table = Table(title="定时任务")
    for column in ("任务", "计划", "最近运行", "结果", "下次运行"):
        table.add_column(column)
    for line in overview:
        last = line.last
        table.add_row(
            f"{line.label}\n{line.name}",
            line.schedule_label + ("（已暂停）" if line.paused else ""),
            beijing(last.started_at) if last else "—",
            f"{last.status.label}：{last.summary or last.error.splitlines()[-1:]}" if last else "—",
            beijing(line.next_run) if line.next_run else "—",
        )
    console.print(table)


@jobs_app.command("run")
def run_job(name: Annotated[str, typer.Argument(help="任务名，如 wallet.release_due")]) -> None:
    """立即在本进程运行一个任务（记录在任务记录中）。"""
    if name not in JOBS:
        fail(f"没有名为 {name} 的任务；可用：{'、'.join(JOBS)}")
    queue = Queue(load_settings())
    try:
        with queue.beating():
            run = queue.runner.run(name, trigger="manual")
    except JobBusy as busy:
        fail(str(busy))
    except Exception as error:  # noqa: BLE001 - recorded on the run; the operator sees why
        fail(f"{name} 运行失败：{error}")
    console.print(f"{JOBS[name].label}：{run.summary}")


@jobs_app.command("run-tasks")
def run_tasks() -> None:
    """立即在本进程运行所有排队中的任务（网页或接口发起的考核、导入、导出等），不必等待后台任务进程。"""
    queue = Queue(load_settings())
    waiting = queue.tasks.waiting()
    with queue.beating():
        for task_id in waiting:
            status = queue.tasks.run(task_id)
            label = status.label if status else "已由其他进程运行"
            console.print(f"任务 {task_id}：{label}")
    if not waiting:
        console.print("没有排队中的任务")
