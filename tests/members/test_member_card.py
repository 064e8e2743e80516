"""The electronic member card: a signed QR code that a station or partner verifies."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from gonghui.members import cardcode
from tests.conftest import NOW
from tests.world import login

KEY = cardcode.derive_key("k" * 32)


def test_a_scanner_sees_the_masked_name_the_unit_and_that_the_card_is_valid(
    client: TestClient,
) -> None:
    login(client, "member")
    page = client.get("/me/card").text
    assert "<svg" in page
    url = html.unescape(re.search(r'href="(http[^"]*/card/verify\?t=[^"]+)"', page).group(1))
    client.cookies.clear()
    verified = client.get(url.split("testserver", 1)[1]).text
    assert "有效会员" in verified
    assert "烟台甲机械有限公司" in verified
    token = url.split("t=", 1)[1]
    member_id, issued, mac = token.split(".")
    forged = f"{int(member_id) + 1}.{issued}.{mac}"
    refused = client.get("/card/verify", params={"t": forged})
    assert refused.status_code == 422
    assert "无效或已被篡改" in refused.text


def test_a_card_code_lasts_ten_minutes() -> None:
    token = cardcode.issue(KEY, 7, NOW)
    assert cardcode.verify(KEY, token, NOW + timedelta(minutes=10)).member_id == 7
    with pytest.raises(cardcode.CardRefused, match="已过期"):
        cardcode.verify(KEY, token, NOW + timedelta(minutes=10, seconds=1))
    with pytest.raises(cardcode.CardRefused, match="无效或已被篡改"):
        cardcode.verify(cardcode.derive_key("other" * 8), token, NOW)


@pytest.mark.parametrize(
    ("name", "masked"), [("王涛", "王*"), ("欧阳明月", "欧***"), ("李", "李*")]
)
def test_the_scanner_reads_only_the_family_name(name: str, masked: str) -> None:
    assert cardcode.masked_name(name) == masked
