"""Domain errors: a stable code for machines, a Chinese message for people.

They are mapped to HTTP in one place (`gonghui.edge.errors`) and to exit codes in the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class DomainError(Exception):
    http_status: ClassVar[int] = 400
    # The form fields the refusal is about, marked when its form comes back.
    fields: tuple[str, ...] = ()

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class InvalidInput(DomainError):
    http_status = 422


class NotFound(DomainError):
    http_status = 404

    def __init__(self, what: str = "记录") -> None:
        super().__init__("not_found", f"{what}不存在或您无权查看")


class TooLarge(DomainError):
    http_status = 413


class Forbidden(DomainError):
    http_status = 403

    def __init__(self, message: str = "您没有执行此操作的权限") -> None:
        super().__init__("forbidden", message)


class Unauthenticated(DomainError):
    http_status = 401

    def __init__(self, message: str = "请先登录") -> None:
        super().__init__("unauthenticated", message)


class Conflict(DomainError):
    http_status = 409


class Throttled(DomainError):
    http_status = 429


@dataclass(frozen=True)
class LineError:
    """One bad line of an imported file; line 1 is the header."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"第{self.line}行：{self.reason}" if self.line else self.reason


class ImportRejected(DomainError):
    """A file import refused as a whole, with its bad lines: the first `MAX_REPORTED` of them
    and a count of the rest, so that a file bad on every line cannot make an answer of
    megabytes."""

    http_status = 422
    MAX_REPORTED: ClassVar[int] = 200

    def __init__(self, errors: list[LineError]) -> None:
        # The count matches what is listed: one item per bad line, however many reasons it has.
        lines = {error.line for error in errors}
        counted = f"共{len(errors)}处错误" if 0 in lines else f"共{len(lines)}行有错误"
        super().__init__("import_rejected", f"导入失败：{counted}，未写入任何数据")
        self.total = len(errors)
        self.errors = errors[: self.MAX_REPORTED]
        if self.total > self.MAX_REPORTED:
            more = self.total - self.MAX_REPORTED
            self.errors.append(LineError(0, f"……以及另外 {more} 处错误"))
