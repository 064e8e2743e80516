"""Roles, permissions and the acting person. Who may do what is decided here, in one table."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gonghui.core.errors import Forbidden


class Role(StrEnum):
    MEMBER = "member"
    UNIT_OFFICER = "unit_officer"
    FEDERATION_STAFF = "federation_staff"
    BANK_OPERATOR = "bank_operator"
    INSURER_ADJUSTER = "insurer_adjuster"
    STATION_MANAGER = "station_manager"
    INSURANCE_AGENCY = "insurance_agency"
    # An insured person who is not a member (a member's relative): the wallet only.
    INSURED = "insured"
    # 三权分立 (GB/T 22239-2019, level 3): three administrators, none of whom holds another's
    # powers. The system administrator keeps the historical value "admin".
    ADMIN = "admin"
    SECURITY_ADMIN = "security_admin"
    AUDIT_ADMIN = "audit_admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.MEMBER: "会员",
    Role.UNIT_OFFICER: "单位工会干部",
    Role.FEDERATION_STAFF: "总工会工作人员",
    Role.BANK_OPERATOR: "合作银行操作员",
    Role.INSURER_ADJUSTER: "保险公司理赔员",
    Role.STATION_MANAGER: "阵地管理员",
    Role.INSURANCE_AGENCY: "医保经办",
    Role.INSURED: "参保人",
    Role.ADMIN: "系统管理员",
    Role.SECURITY_ADMIN: "安全管理员",
    Role.AUDIT_ADMIN: "审计管理员",
}

ADMIN_ROLES = frozenset({Role.ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN})
# Accounts that reach other people's records or money: a second factor in production, the
# staff password rules and a password that expires.
PRIVILEGED_ROLES = ADMIN_ROLES | {
    Role.FEDERATION_STAFF,
    Role.INSURER_ADJUSTER,
    Role.INSURANCE_AGENCY,
    Role.BANK_OPERATOR,
}
# Everyone but members and insured people signs in at work: the staff password rules and the
# idle timeout apply to them.
STAFF_ROLES = frozenset(Role) - {Role.MEMBER, Role.INSURED}


class Permission(StrEnum):
    OWN_PROFILE = "own_profile"
    UNITS_VIEW = "units_view"
    UNITS_MANAGE = "units_manage"
    MEMBERS_VIEW = "members_view"
    MEMBERS_MANAGE = "members_manage"
    FULL_ID_VIEW = "full_id_view"
    CARDS_VIEW = "cards_view"
    CARDS_MANAGE = "cards_manage"
    BALANCES_IMPORT = "balances_import"
    CLAIMS_VIEW = "claims_view"
    CLAIMS_SUBMIT = "claims_submit"
    CLAIMS_ADJUDICATE = "claims_adjudicate"
    INSURANCE_FIGURES = "insurance_figures"
    # The federation-wide figures (payouts by unit and month); a bank has only the one above,
    # for its own pass rates.
    INSURANCE_DASHBOARD = "insurance_dashboard"
    INSURANCE_MANAGE = "insurance_manage"
    BANKS_MANAGE = "banks_manage"
    SETUP_VIEW = "setup_view"
    JOBS_MANAGE = "jobs_manage"
    # System administrator: accounts (create, end sessions) and configuration (jobs, setup).
    USERS_MANAGE = "users_manage"
    # Security administrator: who holds which role, bank API tokens, second-factor resets and
    # the password policy.
    ROLES_MANAGE = "roles_manage"
    TOKENS_MANAGE = "tokens_manage"
    SECURITY_MANAGE = "security_manage"
    # Audit administrator: reads and exports the audit log, and nothing else.
    AUDIT_READ = "audit_read"
    WALLET_USE = "wallet_use"
    WALLET_OPERATE = "wallet_operate"
    STATIONS_VIEW = "stations_view"
    STATIONS_OPERATE = "stations_operate"
    STATIONS_MANAGE = "stations_manage"


_STAFF = frozenset(
    {
        Permission.UNITS_VIEW,
        Permission.UNITS_MANAGE,
        Permission.MEMBERS_VIEW,
        Permission.MEMBERS_MANAGE,
        Permission.FULL_ID_VIEW,
        Permission.CARDS_VIEW,
        Permission.CARDS_MANAGE,
        Permission.BALANCES_IMPORT,
        Permission.INSURANCE_MANAGE,
        Permission.BANKS_MANAGE,
        Permission.SETUP_VIEW,
        Permission.CLAIMS_VIEW,
        Permission.INSURANCE_FIGURES,
        Permission.INSURANCE_DASHBOARD,
        Permission.STATIONS_VIEW,
        Permission.STATIONS_OPERATE,
        Permission.STATIONS_MANAGE,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.MEMBER: frozenset(
        {
            Permission.OWN_PROFILE,
            Permission.CLAIMS_VIEW,
            Permission.CLAIMS_SUBMIT,
            Permission.WALLET_USE,
        }
    ),
    # A unit officer keeps their own unit's roll, so they need the full ID numbers in it.
    Role.UNIT_OFFICER: frozenset(
        {
            Permission.UNITS_VIEW,
            Permission.MEMBERS_VIEW,
            Permission.MEMBERS_MANAGE,
            Permission.FULL_ID_VIEW,
            Permission.CARDS_VIEW,
            # Zero legwork: the unit's union files a claim for a member who cannot.
            Permission.CLAIMS_VIEW,
            Permission.CLAIMS_SUBMIT,
        }
    ),
    Role.FEDERATION_STAFF: _STAFF,
    # A bank sees and issues its own cards; it never sees full ID numbers.
    Role.BANK_OPERATOR: frozenset(
        {
            Permission.CARDS_VIEW,
            Permission.CARDS_MANAGE,
            Permission.BALANCES_IMPORT,
            Permission.INSURANCE_FIGURES,
        }
    ),
    Role.INSURER_ADJUSTER: frozenset(
        {
            Permission.CLAIMS_VIEW,
            Permission.CLAIMS_ADJUDICATE,
            Permission.INSURANCE_FIGURES,
            Permission.INSURANCE_DASHBOARD,
        }
    ),
    # 谁建设谁管理谁负责: a station manager runs their own positions and vehicles only.
    Role.STATION_MANAGER: frozenset({Permission.STATIONS_VIEW, Permission.STATIONS_OPERATE}),
    # 医保经办: region roll-out, the insured registry, wallet monitoring and settlement.
    Role.INSURANCE_AGENCY: frozenset({Permission.WALLET_OPERATE}),
    Role.INSURED: frozenset({Permission.WALLET_USE}),
    # The system administrator also runs the federation's business, as before the split; what
    # it lost is the audit log and the security powers.
    Role.ADMIN: _STAFF
    | {
        Permission.USERS_MANAGE,
        Permission.WALLET_OPERATE,
        Permission.JOBS_MANAGE,
    },
    Role.SECURITY_ADMIN: frozenset(
        {Permission.ROLES_MANAGE, Permission.TOKENS_MANAGE, Permission.SECURITY_MANAGE}
    ),
    Role.AUDIT_ADMIN: frozenset({Permission.AUDIT_READ}),
}


@dataclass(frozen=True)
class Actor:
    """Whoever acts: a logged-in user, a bank system holding a token, or the system itself."""

    user_id: int | None
    username: str
    role: Role | None
    display_name: str
    unit_id: int | None = None
    member_id: int | None = None
    bank_id: int | None = None
    token_id: int | None = None

    def can(self, permission: Permission) -> bool:
        return self.role is not None and permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise Forbidden

    @property
    def is_federation_wide(self) -> bool:
        """Staff of the federation and admins see every unit; everyone else is scoped."""
        return self.role in {Role.FEDERATION_STAFF, Role.ADMIN}


SYSTEM = Actor(user_id=None, username="system", role=None, display_name="系统")


_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Verifying against this when the username is unknown keeps the timing of a failed login the
# same whether or not the account exists.
DUMMY_PASSWORD_HASH = _hasher.hash("not-a-real-password")

MIN_PASSWORD_LENGTH = 8
# Staff passwords: at least this long and of three of the four character classes, and none of
# the last few again (GB/T 22239-2019 8.1.4.1 a asks for complexity and periodic change).
MIN_STAFF_PASSWORD_LENGTH = 10
_STAFF_PASSWORD_CLASSES = 3
PASSWORD_HISTORY = 5


def _character_classes(password: str) -> int:
    return sum(
        (
            any(char.islower() and char.isascii() for char in password),
            any(char.isupper() and char.isascii() for char in password),
            any(char.isdigit() for char in password),
            any(not (char.isascii() and char.isalnum()) for char in password),
        )
    )


def password_problem(password: str, role: Role) -> str | None:
    """Why a new password is refused for an account of `role`, in words; None when it is fine."""
    if role not in STAFF_ROLES:
        if len(password) < MIN_PASSWORD_LENGTH:
            return f"密码至少{MIN_PASSWORD_LENGTH}位"
        return None
    if len(password) < MIN_STAFF_PASSWORD_LENGTH:
        return f"工作人员密码至少{MIN_STAFF_PASSWORD_LENGTH}位"
    if _character_classes(password) < _STAFF_PASSWORD_CLASSES:
        return "工作人员密码须包含大写字母、小写字母、数字、符号中的至少三类"
    return None


API_TOKEN_PREFIX = "ghk_"  # noqa: S105 - a prefix, not a secret


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_api_token(token: str) -> str:
    # Tokens are 256 random bits, so a plain SHA-256 is enough to make the stored value useless
    # to a reader of the database (no salt or slow hash needed, unlike passwords).
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_equal(left: str, right: str) -> bool:
    return hmac.compare_digest(left.encode(), right.encode())
