"""The setup checklist (系统设置): what a federation still lacks before it runs for real, each
step with the page that fixes it. Shown to the admin and staff until every step is done."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from gonghui.core.auth import ROLE_PERMISSIONS, Permission, Role
from gonghui.core.settings import DEVELOPMENT_SECRET, Settings
from gonghui.insurance import queries as insurance_queries
from gonghui.insurance import service as insurance_service
from gonghui.members import accounts, banks
from gonghui.members import queries as member_queries
from gonghui.stations import queries as station_queries
from gonghui.wallet import regions


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    done: bool
    detail: str
    link: str
    # What opening `link` takes: the checklist is shown to staff and the admin, and a step only
    # the admin or the insurance agency can do is named with who does it, not linked to a 403.
    permission: Permission

    @property
    def done_by(self) -> str:
        """Who may do this step ("医保经办或系统管理员"), for a viewer who may not."""
        return "或".join(
            role.label for role, granted in ROLE_PERMISSIONS.items() if self.permission in granted
        )


@dataclass(frozen=True)
class Checklist:
    steps: list[Step]

    @property
    def complete(self) -> bool:
        return all(step.done for step in self.steps)

    @property
    def remaining(self) -> int:
        return sum(not step.done for step in self.steps)


def checklist(session: Session, settings: Settings, today: date) -> Checklist:
    return Checklist(
        [
            _banks(session),
            _roll(session),
            *_insurance(session, today),
            _station_rules(session),
            _wallet(session, today),
            _keys(settings),
            _admins(session),
        ]
    )


def _banks(session: Session) -> Step:
    active = [view.name for view in banks.bank_views(session) if view.active]
    return Step(
        "banks",
        "登记合作银行",
        bool(active),
        f"合作中：{'、'.join(active)}"
        if active
        else "尚无合作银行：会员卡导入和保险计划都需要先登记银行",
        "/admin/banks",
        Permission.BANKS_MANAGE,
    )


def _roll(session: Session) -> Step:
    units = member_queries.unit_count(session)
    return Step(
        "roll",
        "导入单位、会员和会员卡",
        units > 0,
        f"名册上有 {units} 个单位" if units else "名册为空：下载模板填写后导入",
        "/imports",
        Permission.UNITS_MANAGE,
    )


def _insurance(session: Session, today: date) -> list[Step]:
    plans = insurance_service.all_plans(session)
    if not plans:
        return [
            Step(
                "plan",
                "建立补充医保计划",
                done=False,
                detail="尚无保险计划",
                link="/insurance/plans",
                permission=Permission.INSURANCE_MANAGE,
            ),
        ]
    units = member_queries.unit_count(session)
    enrolled: set[int] = set()
    for plan in plans:
        enrolled |= insurance_service.enrolled_unit_ids(session, plan, today)
    outside = units - len(enrolled)
    names = {view.id: view.name for view in banks.bank_views(session)}
    last_month_end = today.replace(day=1) - timedelta(days=1)
    short = sorted(
        {
            names[bank_id]
            for plan in plans
            for bank_id in insurance_queries.banks_short_of(session, plan, last_month_end)
        }
    )
    first = f"/insurance/plans/{plans[0].id}"
    return [
        Step(
            "plan",
            "建立补充医保计划",
            done=True,
            detail="、".join(p.code for p in plans),
            link="/insurance/plans",
            permission=Permission.INSURANCE_MANAGE,
        ),
        Step(
            "enrolment",
            "登记参保单位",
            bool(enrolled) and outside == 0,
            f"已参保 {len(enrolled)} 个单位"
            + (f"，另有 {outside} 个单位尚未参加任何计划" if outside else ""),
            first,
            Permission.INSURANCE_MANAGE,
        ),
        Step(
            "balances",
            f"银行报送上月（{last_month_end:%Y-%m}）日终余额",
            not short,
            f"尚未报送到 {last_month_end}：{'、'.join(short)}" if short else "各合作银行已报送",
            "/insurance/balances",
            Permission.BALANCES_IMPORT,
        ),
    ]


def _station_rules(session: Session) -> Step:
    published = station_queries.has_published_rule_set(session)
    return Step(
        "station_rules",
        "发布阵地考核规则",
        published,
        "已发布" if published else "尚未发布：首次考核将使用默认规则，请确认权重和阈值",
        "/stations/rules",
        Permission.STATIONS_MANAGE,
    )


def _wallet(session: Session, today: date) -> Step:
    opened = len(regions.open_regions(session, today))
    return Step(
        "wallet_regions",
        "开通医保钱包统筹区",
        opened > 0,
        f"已开通 {opened} 个统筹区" if opened else "尚未开通任何统筹区",
        "/wallet/regions",
        Permission.WALLET_OPERATE,
    )


def _keys(settings: Settings) -> Step:
    development = any(
        key.get_secret_value().startswith(DEVELOPMENT_SECRET)
        for key in (settings.secret_key, settings.data_key)
    )
    return Step(
        "keys",
        "设置正式密钥",
        not development,
        "仍在使用开发密钥：请设置 GONGHUI_SECRET_KEY 和 GONGHUI_DATA_KEY（各32位以上随机字符，"
        "数据密钥丢失将无法读取身份证号，请另行备份）"
        if development
        else "已设置",
        "/setup#keys",
        Permission.SETUP_VIEW,
    )


def _admins(session: Session) -> Step:
    admins = len(accounts.active_users_in_role(session, Role.ADMIN))
    return Step(
        "second_admin",
        "设置第二名系统管理员",
        admins >= 2,  # noqa: PLR2004 - one to act, one to stand in
        f"现有 {admins} 名系统管理员" + ("" if admins >= 2 else "：一人休假或离职时仍有人可管理"),  # noqa: PLR2004
        "/admin/users",
        Permission.USERS_MANAGE,
    )
