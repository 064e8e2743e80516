"""A federation's first day, from an empty database to a paid claim and an evaluated station,
as its operators would do it: the `gonghui` command in a shell, then a browser's requests to
the pages and the API of a running server. No demo, and no call into the package: what this
test does is what the README's "Setting up a real federation" tells a newcomer to do.

The server runs on a fixed clock: 5 March 2025 for the insurance scheme (February has ended,
so it can be assessed and March is covered), then, restarted on the same database, 2 April
2025 to evaluate the stations for March.
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
from openpyxl import load_workbook

ADMIN_PASSWORD = "first-day-admin-9"
SECURITY_PASSWORD = "first-day-security-9"
STAFF_PASSWORD = "first-day-staff-9"
OFFICER_PASSWORD = "first-day-officer-9"
ADJUSTER_PASSWORD = "first-day-adjuster-9"
MARCH_5 = "2025-03-05T02:00:00+00:00"  # 10:00 in Beijing
APRIL_2 = "2025-04-02T02:00:00+00:00"
UNIT_A, UNIT_B = "91370602FD1A10000D", "91370602FD2B20000X"
MEMBER_ID = "370602198506122319"
CARD = "6223110000000011"
PDF = b"%PDF-1.4\n% first-day claim document\n"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Federation:
    """The operator's shell and the server, on one database and storage folder."""

    def __init__(self, folder: Path) -> None:
        self.env = {
            **os.environ,
            "GONGHUI_ENVIRONMENT": "test",
            "GONGHUI_DATABASE_URL": f"sqlite:///{folder / 'gonghui.db'}",
            "GONGHUI_STORAGE_DIR": str(folder / "storage"),
            "GONGHUI_CLOCK_FIXED": MARCH_5,
            "GONGHUI_LOG_LEVEL": "WARNING",
        }
        self.url = ""
        # Passwords as their holders changed them at first sign-in.
        self.passwords: dict[str, str] = {}

    def gonghui(self, *arguments: str, expect: int = 0) -> str:
        done = subprocess.run(  # noqa: S603 - our own command, arguments from this test
            [sys.executable, "-m", "gonghui", *arguments],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode == expect, output
        return output

    @contextmanager
    def serving(self, clock: str) -> Iterator[None]:
        self.env["GONGHUI_CLOCK_FIXED"] = clock
        port = _free_port()
        server = subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, "-m", "gonghui", "serve", "--port", str(port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx2.get(self.url + "/health", timeout=1).status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
            yield
        finally:
            server.terminate()
            server.wait(timeout=10)

    def browser(self, username: str, password: str) -> Browser:
        password = self.passwords.get(username, password)
        browser = Browser(httpx2.Client(base_url=self.url, timeout=60))
        page = browser.post("/login", {"username": username, "password": password}, start="/login")
        assert page.status_code == 303, page.text
        first = browser.client.get("/home")
        if first.status_code == 303 and first.headers["location"] == "/account/password":
            # The operator set this password: its holder replaces it before anything else.
            new = password.upper()
            changed = browser.post(
                "/account/password",
                {"current_password": password, "new_password": new, "new_password_again": new},
                start="/account/password",
            )
            assert changed.status_code == 303, changed.text
            self.passwords[username] = new
        return browser


class Browser:
    """What a person's browser sends: pages, and forms with the page's CSRF token."""

    def __init__(self, client: httpx2.Client) -> None:
        self.client = client

    def get(self, path: str) -> httpx2.Response:
        response = self.client.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        return response

    def token(self, path: str) -> str:
        found = CSRF.search(self.get(path).text)
        assert found, f"no form on {path}"
        return found.group(1)

    def post(
        self,
        path: str,
        data: dict[str, str | list[str]],
        *,
        start: str = "/home",
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> httpx2.Response:
        fields = {**data, "csrf_token": self.token(start)}
        return self.client.post(path, data=fields, files=files, follow_redirects=False)

    def submit_task(
        self, federation: Federation, path: str, data: dict[str, str | list[str]], **kwargs: object
    ) -> str:
        """A form that queues a task: its page, the worker's run (the operator's `gonghui jobs
        run-tasks`), then the page the finished task links to; returns the task page's text
        and the result page's."""
        response = self.post(path, data, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 303, f"{path}: {response.status_code} {response.text}"
        task_page = response.headers["location"]
        assert "排队中" in self.get(task_page).text
        federation.gonghui("jobs", "run-tasks")
        done = self.get(task_page).text
        link = re.findall(r'data-testid="task-link" href="([^"]+)"', done)
        assert link, done
        return done + self.get(link[0]).text

    def submit(self, path: str, data: dict[str, str | list[str]], **kwargs: object) -> str:
        """A form that succeeds: Post/Redirect/Get, and the page it leads to."""
        response = self.post(path, data, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 303, f"{path}: {response.status_code} {response.text}"
        return self.get(response.headers["location"]).text


def _filled(template: bytes, rows: list[list[object]]) -> bytes:
    """The downloaded template with our rows under its header, as a clerk fills it in."""
    book = load_workbook(io.BytesIO(template))
    sheet = book.active
    assert sheet is not None
    sheet.delete_rows(2, sheet.max_row)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _import(browser: Browser, path: str, template: str, rows: list[list[object]]) -> str:
    content = _filled(browser.get(template).content, rows)
    return browser.submit(path, {}, start=path, files={"file": ("名册.xlsx", content, XLSX)})


def operator_sets_up_the_database(federation: Federation) -> None:
    assert "已创建数据库" in federation.gonghui("db", "upgrade")
    assert "已是最新版本" in federation.gonghui("db", "upgrade")
    federation.gonghui(
        "users", "create", "--username", "admin", "--role", "admin",
        "--password", ADMIN_PASSWORD, "--display-name", "系统管理员",
    )  # fmt: skip
    # 三权分立: API tokens are the security administrator's, on an account of its own.
    federation.gonghui(
        "users", "create", "--username", "security", "--role", "security_admin",
        "--password", SECURITY_PASSWORD, "--display-name", "安全管理员",
    )  # fmt: skip
    # Without a registered bank, nothing that names one can work, and it says so.
    refused = federation.gonghui(
        "insurance", "plan", "create", "--code", "YT2025", "--name", "烟台职工补充住院医疗",
        "--insurer", "某保险公司", "--bank", "YTB", "--effective-from", "2025-01-01",
        expect=1,
    )  # fmt: skip
    assert "银行代码 YTB 不存在" in refused
    federation.gonghui("banks", "add", "--code", "YTB", "--name", "烟台银行", "--prefix", "622311")


def admin_registers_a_bank_and_imports_the_roll(admin: Browser) -> None:
    home = admin.get("/home").text
    assert 'data-testid="setup"' in home
    assert "建立补充医保计划" in home
    # The second bank is registered on its page; a clash is refused on the same form.
    clash = admin.post(
        "/admin/banks", {"code": "QLB", "name": "齐鲁银行", "prefixes": "6223"},
        start="/admin/banks",
    )  # fmt: skip
    assert clash.status_code == 409
    assert "齐鲁银行" in clash.text
    assert "卡号前缀已属于其他银行" in clash.text
    banks_page = admin.submit(
        "/admin/banks", {"code": "QLB", "name": "齐鲁银行", "prefixes": "623168"},
        start="/admin/banks",
    )  # fmt: skip
    assert "623168" in banks_page
    units = [
        ["烟台甲机械有限公司", UNIT_A, "制造业", "芝罘区", "芝罘区总工会"],
        ["烟台乙建设有限公司", UNIT_B, "建筑业", "莱山区", "莱山区总工会"],
    ]
    assert "新增2" in _import(admin, "/imports", "/imports/templates/units.xlsx", units)
    members = [["林建国", MEMBER_ID, "13800000001", UNIT_A, "生产操作岗", "在职"]]
    assert "新增1" in _import(admin, "/imports", "/imports/templates/members.xlsx", members)
    cards = [[CARD, MEMBER_ID, "烟台银行", "2024-06-01"]]
    assert "新增1" in _import(admin, "/imports", "/imports/templates/cards.xlsx", cards)


def admin_creates_the_plan_and_enrols_the_units(admin: Browser) -> None:
    plan_page = admin.submit(
        "/insurance/plans",
        {
            "code": "YT2025",
            "name": "烟台职工补充住院医疗",
            "insurer": "某保险公司",
            "bank_id": ["1", "2"],
            "effective_from": "2025-01-01",
            "threshold": "2000",
            "cap": "50000",
            "period": "month",
            "day_count": "calendar",
            "eligible_fields": ["policy_self_pay"],
        },
        start="/insurance/plans",
    )
    plan_id = re.findall(r'action="/insurance/plans/(\d+)/units"', plan_page)[0]
    plan_path = f"/insurance/plans/{plan_id}"
    plan_page = admin.submit(
        plan_path + "/units", {"action": "enrol", "scope": "all", "on": "2025-01-01"},
        start=plan_path,
    )  # fmt: skip
    assert "今日参保单位 <strong>2</strong>" in plan_page


def operator_creates_the_people_who_run_it(federation: Federation) -> None:
    for username, role, password, extra in (
        ("officer", "unit_officer", OFFICER_PASSWORD, ["--unit", UNIT_A]),
        ("adjuster", "insurer_adjuster", ADJUSTER_PASSWORD, []),
        ("staff", "federation_staff", STAFF_PASSWORD, []),
    ):
        federation.gonghui(
            "users", "create", "--username", username, "--role", role,
            "--password", password, "--display-name", username, *extra,
        )  # fmt: skip


def bank_sends_february_and_staff_assess_it(federation: Federation) -> None:
    security = federation.browser("security", SECURITY_PASSWORD)
    # The bank's system sends February through the API with a token the security
    # administrator issues.
    tokens = security.post(
        "/admin/tokens", {"bank_id": "1", "name": "日终余额"}, start="/admin/tokens"
    )
    token = re.findall(r'data-testid="new-token">([^<]+)<', tokens.text)[0]
    days = [
        {"card_no": CARD, "date": f"2025-02-{day:02d}", "balance": "3000.00"}
        for day in range(1, 29)
    ]
    sent = httpx2.post(
        federation.url + "/api/v1/insurance/balances",
        headers={"Authorization": f"Bearer {token}"},
        json={"rows": days},
        timeout=60,
    )
    assert sent.status_code == 200, sent.text
    staff = federation.browser("staff", STAFF_PASSWORD)
    runs = staff.submit_task(
        federation, "/insurance/assessments", {"period": "2025-02"}, start="/insurance/assessments"
    )
    assert "2025-02 考核完成：1 张卡，达标 1" in runs


def member_agrees_to_medical_documents(federation: Federation, officer: Browser) -> None:
    """The member opens their account with the officer's one-time code and agrees, on its own,
    to the processing of medical documents (PIPL art. 29) before any claim is filed."""
    member_path = re.findall(r'href="(/members/\d+)"', officer.get("/members").text)[0]
    issued = officer.post(f"{member_path}/activation-code", {}, start=member_path)
    code = re.search(r'data-testid="activation-code">([^<]+)<', issued.text)
    assert code is not None, issued.text
    member = Browser(httpx2.Client(base_url=federation.url, timeout=60))
    password = "Lin-Jianguo-2025"
    account = {"name": "林建国", "id_number": MEMBER_ID, "phone": "13800000001"}
    fields = {**account, "code": code.group(1), "password": password, "password_again": password}
    activated = member.post("/activate", fields, start="/activate")
    assert activated.status_code == 303, activated.text
    signed_in = member.post(
        "/login", {"username": "13800000001", "password": password}, start="/login"
    )
    assert signed_in.status_code == 303, signed_in.text
    given = member.post(
        "/me/consents/medical_documents", {"decision": "give"}, start="/me/consents"
    )
    assert given.status_code == 303, given.text
    assert "已同意" in member.get("/me/consents").text


def officer_files_a_claim(officer: Browser) -> str:
    """The unit's union files the claim for its member, with the six documents."""
    member_path = re.findall(r'href="(/members/\d+)"', officer.get("/members").text)[0]
    member_id = member_path.rsplit("/", 1)[1]
    form_path = f"/insurance/claims/new?member_id={member_id}"
    card_id = re.findall(
        r'<option value="(\d+)"[^>]*>烟台银行 ' + CARD, officer.get(form_path).text
    )
    claim = officer.submit(
        "/insurance/claims",
        {
            "member_id": member_id,
            "card_id": card_id[0],
            "hospital": "烟台毓璜顶医院",
            "admitted_on": "2025-03-01",
            "discharged_on": "2025-03-04",
            "diagnosis": "急性阑尾炎",
            "invoice_no": "3706202503040001",
            "total": "8000.00",
            "fund_paid": "4000.00",
            "policy_self_pay": "3000.00",
            "action": "create",
        },
        start=form_path,
    )
    claim_path = re.findall(r'action="(/insurance/claims/\d+)/documents"', claim)[0]
    kinds = ("id_card", "bank_card", "invoice", "fee_list", "discharge_summary", "settlement_sheet")
    for kind in kinds:
        officer.submit(
            claim_path + "/documents",
            {"kind": kind},
            start=claim_path,
            files={"file": (f"{kind}.pdf", PDF, "application/pdf")},
        )
    claim = officer.submit(claim_path + "/submit", {}, start=claim_path)
    assert 'data-testid="claim-status">审核中' in claim
    return claim_path


def adjuster_approves_and_pays(adjuster: Browser, claim_path: str) -> None:
    decided = adjuster.submit(claim_path + "/decision", {"outcome": "approve"}, start=claim_path)
    assert 'data-testid="claim-amount">¥3,000.00' in decided
    paid = adjuster.submit(
        claim_path + "/payment", {"reference": "YTB2025030600001"}, start=claim_path
    )
    assert 'data-testid="claim-status">已赔付' in paid


def staff_import_a_position_and_a_visitor_scans_in(federation: Federation) -> None:
    staff = federation.browser("staff", STAFF_PASSWORD)
    position = [
        "ZF-0001", "芝罘区职工之家", "职工之家", "烟台市芝罘区南大街100号", "芝罘区",
        "37.5393", "121.3987", "08:00-20:00", "否", "芝罘区总工会", "王芳",
        "13800000000", "冷热饮水、桌椅", "120", "24", "3", "否", "否", "2024-01-01",
    ]  # fmt: skip
    _import(staff, "/stations/imports", "/stations/imports/template.xlsx", [position])
    positions = staff.get("/stations").text
    assert "芝罘区职工之家" in positions
    position_path = re.findall(r'href="(/stations/positions/\d+)"', positions)[0]
    scan = re.findall(r'checkin\?t=([^"&]+)"', staff.get(position_path + "/door").text)[0]
    visit = httpx2.post(
        federation.url + "/api/v1/stations/checkins",
        json={"token": scan, "phone": "13900000009", "occupation": "快递员"},
        timeout=30,
    )
    assert visit.status_code == 200, visit.text


def staff_evaluate_march(federation: Federation, staff: Browser) -> None:
    result = staff.submit_task(
        federation, "/stations/evaluations", {"period": "2025-03"}, start="/stations/evaluations"
    )
    assert "2025-03 考核完成：共1个阵地" in result
    assert "芝罘区职工之家" in result


def test_a_federation_starts_from_nothing_to_a_paid_claim_and_an_evaluated_station(
    tmp_path: Path,
) -> None:
    federation = Federation(tmp_path)
    operator_sets_up_the_database(federation)
    with federation.serving(MARCH_5):
        admin = federation.browser("admin", ADMIN_PASSWORD)
        admin_registers_a_bank_and_imports_the_roll(admin)
        admin_creates_the_plan_and_enrols_the_units(admin)
    operator_creates_the_people_who_run_it(federation)
    with federation.serving(MARCH_5):
        bank_sends_february_and_staff_assess_it(federation)
        officer = federation.browser("officer", OFFICER_PASSWORD)
        member_agrees_to_medical_documents(federation, officer)
        claim_path = officer_files_a_claim(officer)
        adjuster_approves_and_pays(federation.browser("adjuster", ADJUSTER_PASSWORD), claim_path)
        staff_import_a_position_and_a_visitor_scans_in(federation)
    with federation.serving(APRIL_2):
        staff_evaluate_march(federation, federation.browser("staff", STAFF_PASSWORD))
