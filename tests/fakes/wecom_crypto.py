"""Independent implementation of WeCom's callback crypto (企业微信回调加解密).

The product uses wechatpy for this; the fake deliberately does NOT, so a bug or
a misconfiguration in the product's crypto path cannot be masked by the same
library being used on both sides of the wire. Everything here follows the spec
(DOC 91144, see /work/shared/reference/wecom.md section 1) using only
``cryptography`` and the standard library:

* AES key = base64decode(EncodingAESKey + "="), 32 bytes -> AES-256-CBC
* IV = first 16 bytes of the key
* PKCS#7 padding to a **32-byte** block (not the AES block size of 16)
* plaintext = 16 random bytes + 4-byte big-endian msg length + msg + receiveid
* msg_signature = sha1("".join(sorted([token, timestamp, nonce, encrypted])))
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import string
import struct
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "BLOCK_SIZE",
    "WeComCryptoError",
    "decrypt",
    "encrypt",
    "make_aes_key",
    "make_nonce",
    "signature",
]

#: WeCom pads to 32 bytes, which is why a generic AES/PKCS#7 helper gets it wrong.
BLOCK_SIZE = 32
_RANDOM_PREFIX_LEN = 16
_LENGTH_FIELD = struct.Struct(">I")


class WeComCryptoError(ValueError):
    """Raised when a ciphertext or key does not follow the WeCom format."""


def _key_bytes(aes_key: str) -> bytes:
    """Decode a 43-char EncodingAESKey; WeCom drops the single trailing '='."""
    if len(aes_key) != 43:
        raise WeComCryptoError(f"EncodingAESKey must be 43 chars, got {len(aes_key)}")
    key = base64.b64decode(aes_key + "=", validate=True)
    if len(key) != 32:
        raise WeComCryptoError("EncodingAESKey must decode to 32 bytes")
    return key


def _cipher(key: bytes) -> Cipher[modes.CBC]:
    """AES-256-CBC with IV = key[:16], exactly as the spec demands."""
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def _pad(data: bytes) -> bytes:
    """PKCS#7 to a 32-byte block; a full block of padding when already aligned."""
    amount = BLOCK_SIZE - len(data) % BLOCK_SIZE
    return data + bytes([amount]) * amount


def _unpad(data: bytes) -> bytes:
    """Strict PKCS#7 removal so that a wrong key is reported, not silently accepted."""
    if not data:
        raise WeComCryptoError("empty plaintext")
    amount = data[-1]
    if not 1 <= amount <= BLOCK_SIZE or data[-amount:] != bytes([amount]) * amount:
        raise WeComCryptoError("bad PKCS#7 padding (wrong key?)")
    return data[:-amount]


def encrypt(aes_key: str, msg: str, receive_id: str) -> str:
    """Encrypt ``msg`` for ``receive_id`` (CorpID for a self-built app) and return base64."""
    body = msg.encode("utf-8")
    plain = os.urandom(_RANDOM_PREFIX_LEN) + _LENGTH_FIELD.pack(len(body)) + body + receive_id.encode("utf-8")
    encryptor = _cipher(_key_bytes(aes_key)).encryptor()
    raw = encryptor.update(_pad(plain)) + encryptor.finalize()
    return base64.b64encode(raw).decode("ascii")


def decrypt(aes_key: str, encrypted: str) -> tuple[str, str]:
    """Decrypt a base64 ciphertext and return ``(msg, receive_id)``.

    The receive_id is returned rather than checked so that callers can assert on
    it explicitly (the product must reject a foreign corp; the fake just reports).
    """
    raw = base64.b64decode(encrypted, validate=True)
    if not raw or len(raw) % BLOCK_SIZE:
        raise WeComCryptoError("ciphertext length is not a multiple of 32")
    decryptor = _cipher(_key_bytes(aes_key)).decryptor()
    plain = _unpad(decryptor.update(raw) + decryptor.finalize())
    header_end = _RANDOM_PREFIX_LEN + _LENGTH_FIELD.size
    if len(plain) < header_end:
        raise WeComCryptoError("plaintext too short")
    (length,) = _LENGTH_FIELD.unpack(plain[_RANDOM_PREFIX_LEN:header_end])
    if header_end + length > len(plain):
        raise WeComCryptoError("declared length exceeds plaintext")
    msg = plain[header_end : header_end + length].decode("utf-8")
    receive_id = plain[header_end + length :].decode("utf-8")
    return msg, receive_id


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """msg_signature: sha1 hex of the lexicographically sorted concatenation."""
    joined = "".join(sorted([token, str(timestamp), str(nonce), encrypted]))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()


def signed_params(token: str, encrypted: str, *, tamper_signature: bool = False) -> dict[str, str]:
    """msg_signature/timestamp/nonce of a callback as WeCom sends them; tampering flips one hex digit."""
    timestamp = str(int(time.time()))
    nonce = make_nonce()
    sig = signature(token, timestamp, nonce, encrypted)
    if tamper_signature:
        sig = ("0" if sig[0] != "0" else "1") + sig[1:]
    return {"msg_signature": sig, "timestamp": timestamp, "nonce": nonce}


def make_aes_key() -> str:
    """Return a random valid 43-char EncodingAESKey (base64 of 32 bytes, no '=')."""
    return base64.b64encode(os.urandom(32)).decode("ascii").rstrip("=")


def make_nonce(length: int = 10) -> str:
    """Random alphanumeric nonce, like the ones WeCom puts in callback URLs."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))
