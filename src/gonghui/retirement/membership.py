"""How a member's record on the roll maps onto the retirement rules."""

from __future__ import annotations

from typing import Final

from gonghui.core.inputs import Sex
from gonghui.members.rules import EmploymentStatus, PostType
from gonghui.retirement.rules import Category


def category_of(sex: Sex, post_type: PostType) -> Category:
    """The reform's category from the roll: a woman's original age follows her post
    (办法 第一条: 原法定退休年龄为五十周岁的女职工 are those on 生产、操作岗位).

    The roll's post type may be out of date, so the pages let a member correct the result.
    """
    if sex is Sex.MALE:
        return Category.MALE
    if post_type is PostType.MANAGEMENT_TECHNICAL:
        return Category.FEMALE55
    return Category.FEMALE50


# ASSUMPTION: members on 内退 (early_leave) are still employees until they reach the statutory
# age, so the reform moves their retirement too and they count as "at work" in the impact
# report; retired and rehired members have already drawn their pension and are left out.
AT_WORK: Final = frozenset({EmploymentStatus.EMPLOYED, EmploymentStatus.EARLY_LEAVE})
