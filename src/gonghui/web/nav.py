"""The navigation each role sees, built from permissions so that it never shows a door the
role cannot open. Modules add their entries here."""

from __future__ import annotations

from dataclasses import dataclass

from gonghui.core.auth import Actor, Permission


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    any_of: frozenset[Permission] = frozenset()

    def visible_to(self, actor: Actor) -> bool:
        return not self.any_of or any(actor.can(permission) for permission in self.any_of)


NAV: list[NavItem] = [
    NavItem("首页", "/home"),
    NavItem("我的档案", "/me", frozenset({Permission.OWN_PROFILE})),
    NavItem("我的数据", "/me/data", frozenset({Permission.OWN_PROFILE, Permission.WALLET_USE})),
    NavItem("消息", "/messages", frozenset({Permission.OWN_PROFILE})),
    NavItem("补充医保", "/insurance/me", frozenset({Permission.OWN_PROFILE})),
    NavItem("理赔", "/insurance/claims", frozenset({Permission.CLAIMS_VIEW})),
    NavItem("退休测算", "/retirement/me", frozenset({Permission.OWN_PROFILE})),
    NavItem("医保钱包", "/wallet", frozenset({Permission.WALLET_USE})),
    NavItem("附近阵地", "/stations/find", frozenset({Permission.OWN_PROFILE})),
    NavItem("会员", "/members", frozenset({Permission.MEMBERS_VIEW})),
    NavItem("单位", "/units", frozenset({Permission.UNITS_VIEW})),
    NavItem("会员卡", "/cards", frozenset({Permission.CARDS_VIEW})),
    NavItem("入会申请", "/join/applications", frozenset({Permission.MEMBERS_MANAGE})),
    NavItem(
        "导入导出",
        "/imports",
        frozenset({Permission.UNITS_MANAGE, Permission.MEMBERS_MANAGE, Permission.CARDS_MANAGE}),
    ),
    NavItem("保险计划", "/insurance/plans", frozenset({Permission.INSURANCE_MANAGE})),
    NavItem("余额文件", "/insurance/balances", frozenset({Permission.BALANCES_IMPORT})),
    NavItem("余额考核", "/insurance/assessments", frozenset({Permission.INSURANCE_FIGURES})),
    NavItem("医保数据", "/insurance/dashboard", frozenset({Permission.INSURANCE_DASHBOARD})),
    NavItem("服务阵地", "/stations", frozenset({Permission.STATIONS_VIEW})),
    NavItem("阵地考核", "/stations/evaluations", frozenset({Permission.STATIONS_VIEW})),
    NavItem("阵地概览", "/stations/dashboard", frozenset({Permission.STATIONS_VIEW})),
    NavItem("延迟退休影响", "/retirement/impact", frozenset({Permission.MEMBERS_VIEW})),
    NavItem("钱包开通", "/wallet/regions", frozenset({Permission.WALLET_OPERATE})),
    NavItem("参保登记", "/wallet/insured", frozenset({Permission.WALLET_OPERATE})),
    NavItem("钱包监测", "/wallet/monitor", frozenset({Permission.WALLET_OPERATE})),
    NavItem("统筹区清算", "/wallet/settlement", frozenset({Permission.WALLET_OPERATE})),
    NavItem("合作银行", "/admin/banks", frozenset({Permission.BANKS_MANAGE})),
    NavItem("系统设置", "/setup", frozenset({Permission.SETUP_VIEW})),
    NavItem("用户", "/admin/users", frozenset({Permission.USERS_MANAGE})),
    NavItem("安全管理", "/admin/security", frozenset({Permission.SECURITY_MANAGE})),
    NavItem("接口令牌", "/admin/tokens", frozenset({Permission.TOKENS_MANAGE})),
    NavItem("审计日志", "/admin/audit", frozenset({Permission.AUDIT_READ})),
    NavItem("任务", "/admin/jobs", frozenset({Permission.JOBS_MANAGE})),
]


def nav_for(actor: Actor | None) -> list[NavItem]:
    if actor is None:
        return []
    return [item for item in NAV if item.visible_to(actor)]
