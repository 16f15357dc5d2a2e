"""WeCom callback crypto (signature, AES-256-CBC, receive id check) via wechatpy.

A request that fails any check raises :class:`CallbackRejected`: the web layer
answers 403 and logs it; a forged or misaddressed callback is never a 500.
"""

from __future__ import annotations

import logging

from wechatpy.exceptions import InvalidSignatureException
from wechatpy.work.crypto import WeChatCrypto
from wechatpy.work.exceptions import InvalidCorpIdException

log = logging.getLogger(__name__)


class CallbackRejected(Exception):
    """The callback failed verification (signature, decryption or receive id)."""


class CallbackCrypto:
    """Verifies and decrypts callbacks addressed to one receive id.

    For a self-built app the receive id is the CorpID; for an internal AI bot it is "".
    """

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        self._crypto = WeChatCrypto(token, encoding_aes_key, receive_id)

    def verify_url(self, signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The GET handshake: return the decrypted echostr to echo back verbatim."""
        try:
            return str(self._crypto.check_signature(signature, timestamp, nonce, echostr))
        except (InvalidSignatureException, InvalidCorpIdException) as exc:
            raise CallbackRejected(type(exc).__name__) from exc
        except Exception as exc:  # malformed base64, bad padding, truncated data
            raise CallbackRejected(f"undecryptable echostr: {exc!r}") from exc

    def decrypt(self, body: str, signature: str, timestamp: str, nonce: str) -> str:
        """Return the plaintext XML of an encrypted POST body."""
        try:
            return str(self._crypto.decrypt_message(body, signature, timestamp, nonce))
        except (InvalidSignatureException, InvalidCorpIdException) as exc:
            raise CallbackRejected(type(exc).__name__) from exc
        except Exception as exc:  # not XML, no Encrypt element, bad ciphertext
            raise CallbackRejected(f"undecryptable body: {exc!r}") from exc
