"""Protection of 居民身份证号 at rest.

Each ID number is kept twice, neither in clear:
- an HMAC-SHA256 under the data key: deterministic, so exact search and uniqueness work with
  an ordinary index, yet useless without the key (the ID space is small enough that a plain
  hash could be brute-forced);
- an AES-GCM ciphertext under a key derived from the same data key, for the few roles that must
  read the number in full.
The masked form shown everywhere else is stored beside them, so lists never decrypt; birth date
and sex, which the rules need, are derived once at entry and kept as their own columns.

With `GONGHUI_CRYPTO=sm` (commercial cryptography, GB/T 39786-2021) the same two are made with
the national algorithms instead: HMAC-SM3 (GB/T 32905) and SM4-GCM (GB/T 32907). A ciphertext
says which cipher sealed it (`sm4:` before it; untagged is AES-GCM, as every row written before
the option existed), so a database can be read while `gonghui pii rekey` moves it from one
scheme to the other. The search hash carries no tag (it must fit and match the indexed column):
after a rekey, the vault's scheme and the database's must agree, which `rekey` records.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gonghui.core.settings import CryptoScheme, Settings

_NONCE_BYTES = 12
_TAG_BYTES = 16
_AAD = b"id-number"
_SM4_PREFIX = "sm4:"


def _derive(key: bytes, purpose: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=SHA256(), length=length, salt=None, info=purpose).derive(key)


class _Sm4Gcm:
    """SM4 in GCM mode with the same nonce, tag and associated data as the AES-GCM side."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def encrypt(self, nonce: bytes, plain: bytes, aad: bytes) -> bytes:
        encryptor = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        return encryptor.update(plain) + encryptor.finalize() + encryptor.tag

    def decrypt(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        body, tag = sealed[:-_TAG_BYTES], sealed[-_TAG_BYTES:]
        decryptor = Cipher(algorithms.SM4(self._key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(aad)
        return decryptor.update(body) + decryptor.finalize()


class IdentityVault:
    def __init__(self, data_key: str, scheme: CryptoScheme = CryptoScheme.DEFAULT) -> None:
        raw = data_key.encode()
        self.scheme = scheme
        self._aes = AESGCM(_derive(raw, b"gonghui id-number encryption"))
        self._sm4 = _Sm4Gcm(_derive(raw, b"gonghui id-number sm4 encryption", 16))
        if scheme is CryptoScheme.SM:
            self._hash_key = _derive(raw, b"gonghui id-number sm3 search hash")
        else:
            self._hash_key = _derive(raw, b"gonghui id-number search hash")

    def search_hash(self, id_number: str) -> str:
        message = id_number.upper().encode()
        if self.scheme is CryptoScheme.SM:
            mac = crypto_hmac.HMAC(self._hash_key, hashes.SM3())
            mac.update(message)
            return mac.finalize().hex()
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()

    def encrypt(self, id_number: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        plain = id_number.upper().encode()
        if self.scheme is CryptoScheme.SM:
            sealed = self._sm4.encrypt(nonce, plain, _AAD)
            return _SM4_PREFIX + base64.b64encode(nonce + sealed).decode()
        return base64.b64encode(nonce + self._aes.encrypt(nonce, plain, _AAD)).decode()

    def decrypt(self, token: str) -> str:
        """Whichever scheme sealed the token (its tag says), so a rekey can read either."""
        if token.startswith(_SM4_PREFIX):
            blob = base64.b64decode(token.removeprefix(_SM4_PREFIX))
            return self._sm4.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _AAD).decode()
        blob = base64.b64decode(token)
        return self._aes.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _AAD).decode()

    @staticmethod
    def scheme_of(token: str) -> CryptoScheme:
        return CryptoScheme.SM if token.startswith(_SM4_PREFIX) else CryptoScheme.DEFAULT


def vault_for(settings: Settings) -> IdentityVault:
    return IdentityVault(settings.data_key.get_secret_value(), settings.crypto)


def mask_id_number(id_number: str) -> str:
    """``370602********123X``: region and last four stay, birth date and sequence go."""
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]
