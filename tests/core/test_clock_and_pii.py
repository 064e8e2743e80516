from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidTag

from gonghui.core.clock import FixedClock, SystemClock, business_date, clock_from
from gonghui.core.pii import IdentityVault, mask_id_number, mask_phone
from gonghui.core.settings import Settings


def test_the_business_date_is_the_date_in_beijing() -> None:
    # 2025-01-31 17:30 UTC is already 1 February in Asia/Shanghai.
    assert business_date(datetime(2025, 1, 31, 17, 30, tzinfo=UTC)) == date(2025, 2, 1)
    assert business_date(datetime(2025, 1, 31, 15, 59, tzinfo=UTC)) == date(2025, 1, 31)


def test_the_clock_can_be_pinned_or_shifted_by_settings() -> None:
    pinned = clock_from(Settings(clock_fixed=datetime(2025, 2, 10, 22, 30, tzinfo=UTC)))
    assert pinned.now() == datetime(2025, 2, 10, 22, 30, tzinfo=UTC)
    shifted = clock_from(Settings(clock_offset_seconds=3600))
    assert isinstance(shifted, SystemClock)
    assert abs(shifted.now() - datetime.now(UTC) - timedelta(hours=1)) < timedelta(seconds=5)
    assert FixedClock(datetime(2025, 1, 1, 8, tzinfo=UTC)).now().tzinfo is UTC


def test_id_numbers_hash_deterministically_and_decrypt_only_with_the_key() -> None:
    vault = IdentityVault("key-one")
    number = "11010519491231002X"
    assert vault.search_hash(number) == vault.search_hash(number.lower())
    assert vault.search_hash(number) != IdentityVault("key-two").search_hash(number)
    sealed = vault.encrypt(number)
    assert number not in sealed
    assert vault.encrypt(number) != sealed, "each encryption uses a fresh nonce"
    assert vault.decrypt(sealed) == number
    with pytest.raises(InvalidTag):
        IdentityVault("key-two").decrypt(sealed)


def test_masks_keep_only_region_and_last_four() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_phone("13800138000") == "138****8000"
