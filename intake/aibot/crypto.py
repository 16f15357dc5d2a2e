"""Callback crypto of the WeCom AI bot (智能机器人, API mode with a callback URL).

The scheme is the self-built app's (DOC 91144): msg_signature = sha1 of the
sorted (token, timestamp, nonce, ciphertext); AES-256-CBC with key =
base64(EncodingAESKey + "="), IV = key[:16], PKCS#7 padding to a 32-byte block;
plaintext = 16 random bytes + 4-byte big-endian length + msg + receiveid. What
differs for the AI bot (DOC 101033, and Tencent's JSON library
``callback_json_python3/WXBizJsonMsgCrypt.py``):

* the POST body is JSON ``{"encrypt": ".."}``, not XML;
* the encrypted passive reply is JSON ``{"encrypt", "msgsignature", "timestamp",
  "nonce"}`` and must reuse the nonce of the callback URL;
* the receive id is ``""`` for an internal (企业自建) AI bot.

wechatpy has no JSON envelope, and its decryptor does not check the padding,
so this is done here with ``cryptography`` and checked strictly: a forged,
misaddressed or garbled callback raises :class:`CallbackRejected` (the web
layer answers 403 and logs it), never a 500.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import struct
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from intake.wecom.crypto import CallbackRejected

__all__ = ["AibotCrypto", "CallbackRejected", "signature"]

#: WeCom pads to 32 bytes, not to the AES block size of 16.
_BLOCK = 32
_RANDOM_PREFIX = 16
_LENGTH = struct.Struct(">I")


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """msg_signature: sha1 hex of the lexicographically sorted concatenation."""
    joined = "".join(sorted([token, str(timestamp), str(nonce), encrypted]))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()


def _aes_key(encoding_aes_key: str) -> bytes:
    if len(encoding_aes_key) != 43:
        raise ValueError(f"EncodingAESKey must be 43 characters, got {len(encoding_aes_key)}")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise ValueError("EncodingAESKey is not base64") from exc
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return key


class AibotCrypto:
    """Verifies, decrypts and encrypts the AI bot's JSON callbacks for one bot.

    A bad key is a configuration error and raises ``ValueError`` at construction.
    """

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str = "") -> None:
        self._token = token
        self._key = _aes_key(encoding_aes_key)
        self._receive_id = receive_id

    # ------------------------------------------------------------------ inbound

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The GET handshake: return the decrypted echostr, to echo back verbatim within 1 s."""
        self._check_signature(msg_signature, timestamp, nonce, echostr)
        return self._decrypt(echostr)

    def decrypt(self, body: str | bytes, msg_signature: str, timestamp: str, nonce: str) -> str:
        """Return the plaintext JSON of an encrypted POST body ``{"encrypt": ".."}``."""
        try:
            envelope = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CallbackRejected(f"body is not JSON: {exc}") from exc
        encrypted = envelope.get("encrypt") if isinstance(envelope, dict) else None
        if not isinstance(encrypted, str) or not encrypted:
            raise CallbackRejected("body has no 'encrypt' string")
        self._check_signature(msg_signature, timestamp, nonce, encrypted)
        return self._decrypt(encrypted)

    # ------------------------------------------------------------------ outbound

    def encrypt_reply(self, plaintext: str, nonce: str, timestamp: str | None = None) -> str:
        """The encrypted passive reply: JSON ``{"encrypt","msgsignature","timestamp","nonce"}``.

        ``nonce`` must be the one from the callback URL (DOC 101033). The
        timestamp is a string of seconds, as Tencent's JSON library writes it.
        """
        ts = timestamp if timestamp is not None else str(int(time.time()))
        encrypted = self._encrypt(plaintext)
        return json.dumps({
            "encrypt": encrypted,
            "msgsignature": signature(self._token, ts, nonce, encrypted),
            "timestamp": ts,
            "nonce": nonce,
        })

    # ------------------------------------------------------------------ internals

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def _check_signature(self, given: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = signature(self._token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected, given or ""):
            raise CallbackRejected("bad msg_signature")

    def _encrypt(self, msg: str) -> str:
        body = msg.encode("utf-8")
        plain = os.urandom(_RANDOM_PREFIX) + _LENGTH.pack(len(body)) + body + self._receive_id.encode("utf-8")
        pad = _BLOCK - len(plain) % _BLOCK
        encryptor = self._cipher().encryptor()
        raw = encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()
        return base64.b64encode(raw).decode("ascii")

    def _decrypt(self, encrypted: str) -> str:
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CallbackRejected("ciphertext is not base64") from exc
        if not raw or len(raw) % 16:
            raise CallbackRejected("ciphertext length is not a whole number of AES blocks")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(raw) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= _BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CallbackRejected("bad padding (wrong EncodingAESKey?)")
        plain = plain[:-pad]
        header = _RANDOM_PREFIX + _LENGTH.size
        if len(plain) < header:
            raise CallbackRejected("plaintext too short")
        (length,) = _LENGTH.unpack(plain[_RANDOM_PREFIX:header])
        if header + length > len(plain):
            raise CallbackRejected("declared length exceeds the plaintext")
        try:
            msg = plain[header:header + length].decode("utf-8")
            receive_id = plain[header + length:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CallbackRejected("plaintext is not UTF-8") from exc
        if receive_id != self._receive_id:
            raise CallbackRejected(f"receive id {receive_id!r} is not ours")
        return msg
