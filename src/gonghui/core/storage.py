"""Uploaded files, stored once by the SHA-256 of their content."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from gonghui.core.errors import InvalidInput

# The types people photograph or scan documents into, told by their first bytes, never by
# the name or the browser's say-so.
_SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
}
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    content_type: str
    size: int


def sniff_document(content: bytes) -> str:
    if not content:
        raise InvalidInput("empty_file", "文件为空")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise InvalidInput("file_too_large", "单个文件不能超过10MB")
    for signature, content_type in _SIGNATURES.items():
        if content.startswith(signature):
            return content_type
    raise InvalidInput("bad_file_type", "只接受 PDF、JPG 或 PNG 文件")


class ContentStore:
    def __init__(self, root: Path) -> None:
        self.root = root / "documents"

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, content: bytes) -> StoredFile:
        """Store a checked document; the same content twice is stored once."""
        content_type = sniff_document(content)
        sha256 = hashlib.sha256(content).hexdigest()
        target = self.path_of(sha256)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_bytes(content)
            temporary.replace(target)
        return StoredFile(sha256, content_type, len(content))

    def read(self, sha256: str) -> bytes:
        return self.path_of(sha256).read_bytes()
