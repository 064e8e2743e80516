"""Protection of 居民身份证号 at rest.

Each ID number is kept twice, neither in clear:
- an HMAC-SHA256 under the data key: deterministic, so exact search and uniqueness work with
  an ordinary index, yet useless without the key (the ID space is small enough that a plain
  hash could be brute-forced);
- an AES-GCM ciphertext under a key derived from the same data key, for the few roles that must
  read the number in full.
The masked form shown everywhere else is stored beside them, so lists never decrypt; birth date
and sex, which the rules need, are derived once at entry and kept as their own columns.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE_BYTES = 12


def _derive(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose).derive(key)


class IdentityVault:
    def __init__(self, data_key: str) -> None:
        raw = data_key.encode()
        self._hash_key = _derive(raw, b"gonghui id-number search hash")
        self._cipher = AESGCM(_derive(raw, b"gonghui id-number encryption"))

    def search_hash(self, id_number: str) -> str:
        return hmac.new(self._hash_key, id_number.upper().encode(), hashlib.sha256).hexdigest()

    def encrypt(self, id_number: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._cipher.encrypt(nonce, id_number.upper().encode(), b"id-number")
        return base64.b64encode(nonce + sealed).decode()

    def decrypt(self, token: str) -> str:
        blob = base64.b64decode(token)
        return self._cipher.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], b"id-number").decode()


def mask_id_number(id_number: str) -> str:
    """``370602********123X``: region and last four stay, birth date and sequence go."""
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]
