"""The README's member-app section shows the member's pages as a phone shows them (issue 14)."""

from __future__ import annotations

import re
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHONE_WIDTH = 390


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_the_readme_shows_home_claim_wallet_and_finder_at_phone_width() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The member's app", 1)[1].split("\n### ", 1)[0]
    shown = re.findall(r"!\[[^\]]*\]\((docs/screens/[^)]+\.png)\)", section)
    names = {Path(path).stem for path in shown}
    assert {"member-home", "claim", "wallet", "finder"} <= names
    for path in shown:
        width, height = _png_size(ROOT / path)
        # Saved by the browser tests (tests/browser/conftest.py: screen) at 390 × 844 and
        # stretched to the page's whole height.
        assert width == PHONE_WIDTH, f"{path} is {width} px wide"
        assert height >= 844, f"{path} is shorter than the phone's screen"
