"""The environment was installed by the pinned installer, not by whatever pip `venv` shipped."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pinned(lock: str, package: str) -> str:
    text = (ROOT / lock).read_text(encoding="utf-8")
    found = re.search(rf"^{re.escape(package)}==(\S+)", text, flags=re.MULTILINE)
    assert found, f"{package} is not pinned in {lock}"
    return found.group(1)


def test_the_installer_is_the_pinned_pip() -> None:
    assert version("pip") == _pinned("requirements-pip.lock", "pip")


def test_the_installer_lock_is_hash_checked() -> None:
    text = (ROOT / "requirements-pip.lock").read_text(encoding="utf-8")
    assert "--hash=sha256:" in text


def test_the_test_tools_are_the_locked_versions() -> None:
    # coverage arrives through pytest-cov's ">=" requirement: the lock, not the index, decides it.
    for package in ("coverage", "pytest", "pytest-cov"):
        assert version(package) == _pinned("requirements-dev.lock", package)
