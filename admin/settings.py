"""Settings: environment variables prefixed ``HELPDESK_``, then an optional TOML
file named by ``HELPDESK_CONFIG`` (or ``helpdesk.toml`` in the working
directory), then the embedded defaults (SQLite under ``var/``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

log = logging.getLogger(__name__)

WECOM_API_BASE = "https://qyapi.weixin.qq.com"


class TomlSource(PydanticBaseSettingsSource):
    """Values from the config file; keys are the setting names without the prefix."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = Path(os.environ.get("HELPDESK_CONFIG", "helpdesk.toml"))
        self._data: dict[str, Any] = {}
        if path.is_file():
            with path.open("rb") as fh:
                self._data = tomllib.load(fh)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_", extra="ignore")

    var_dir: Path = Path("var")
    database_url: str = ""  # default: sqlite:///<var_dir>/helpdesk.db
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str = ""  # default: generated once into <var_dir>/secret_key
    log_level: str = "INFO"
    workers: bool = True  # run the inbound and outbox workers inside the web process
    webchat_picker: bool = True  # /chat lets a visitor pick any person: demos and trusted intranets only

    # Knowledge base: answer when the best article scores at least kb_answer and leads the next by
    # kb_margin; suggest the top 3 from kb_suggest; below it hand over to a person.
    # Calibrated by bench/kb_eval.py on the evaluation set.
    kb_enabled: bool = True
    kb_answer: float = 0.41
    kb_suggest: float = 0.22
    kb_margin: float = 0.07

    wecom_corp_id: str = ""
    wecom_agent_id: str = ""
    wecom_secret: str = ""
    wecom_token: str = ""
    wecom_aes_key: str = ""
    wecom_api_base: str = WECOM_API_BASE
    wecom_engineer_chatid: str = ""
    # WeCom AI bot (智能机器人): sees group messages that @ it and can put button cards in a group.
    # Long connection (outbound WSS only, suits an intranet): the bot's BotID and Secret.
    aibot_bot_id: str = ""
    aibot_secret: str = ""
    aibot_ws_url: str = "wss://openws.work.weixin.qq.com"
    # Callback mode (WeCom must reach our URL /wecom/aibot): the bot's Token and EncodingAESKey.
    aibot_token: str = ""
    aibot_aes_key: str = ""
    aibot_name: str = ""  # the bot's name as members @ it, e.g. "维保助手"
    # The shared engineers' group the AI bot posts new tickets to (a group it is a member of);
    # a hospital's own group (admin panel) replaces it for that hospital's tickets.
    aibot_engineer_chatid: str = ""
    # Who hears of a deadline still missed an hour (the contract's escalate_after) after the
    # breach: WeCom userids or mail addresses of people in the directory, comma-separated.
    escalation_second_level: str = ""
    # Working days a resolved ticket waits for the reporter's 已解决 / 未解决 before it closes as
    # confirmed by default (counted from the day after the resolution, to close of business).
    confirm_days: int = Field(default=3, ge=1)

    # Mail intake (IMAP). The first mailbox from these; more as [[mailboxes]] tables in the config
    # file with the same keys without the "imap_" prefix, plus "name".
    imap_host: str = ""
    imap_port: int | None = None
    imap_tls: Literal["none", "starttls", "ssl"] = "ssl"
    imap_user: str = ""
    imap_password: str = ""
    imap_folder: str = "INBOX"
    imap_processed_folder: str = ""  # move taken mail here; empty: never change the mailbox
    imap_hospital: str = ""  # hospital key for senders of no known domain
    mailboxes: list[dict[str, Any]] = Field(default_factory=list)
    # Mail sending (SMTP)
    smtp_host: str = ""
    smtp_port: int | None = None
    smtp_tls: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_user: str = ""
    smtp_password: str = ""
    mail_from: str = ""  # e.g. "维保服务台 <helpdesk@vendor.example>"
    mail_domain: str = ""  # right-hand side of our Message-IDs; default: the domain of mail_from
    mail_ca_file: str = ""  # a private CA to trust for IMAP and SMTP (hospital intranets)
    mail_poll_s: float = Field(default=60.0, gt=0)  # polling interval where the server has no IDLE
    mail_idle_s: float = Field(default=300.0, gt=0)
    mail_reopen_days: int = Field(default=14, ge=0)  # a reply to a ticket closed longer ago opens a new one
    mail_max_attachment_mb: float = Field(default=10.0, gt=0)
    mail_new_ticket_limit: int = Field(default=10, ge=1)  # new threads per sender in 10 minutes before parking
    # Hotline (issue 7, docs/hotline-format.md): the drop folder polled for call files ("" = off), how
    # often, and the window within which a call about the same system is added to an open ticket.
    hotline_drop_dir: str = ""
    hotline_drop_poll_s: float = Field(default=5.0, gt=0)
    hotline_append_hours: float = Field(default=24.0, ge=0)

    session_max_age_s: int = Field(default=12 * 3600, ge=60)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, TomlSource(settings_cls)

    def model_post_init(self, __context: Any) -> None:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'helpdesk.db'}"

    @property
    def wecom_callback_enabled(self) -> bool:
        return bool(self.wecom_corp_id and self.wecom_token and self.wecom_aes_key)

    @property
    def wecom_send_enabled(self) -> bool:
        return bool(self.wecom_corp_id and self.wecom_secret and self.wecom_agent_id)

    @property
    def aibot_longconn_enabled(self) -> bool:
        return bool(self.aibot_bot_id and self.aibot_secret)

    @property
    def aibot_callback_enabled(self) -> bool:
        return bool(self.aibot_token and self.aibot_aes_key)

    @property
    def mail_send_enabled(self) -> bool:
        return bool(self.smtp_host and self.mail_from)

    def mail_secret(self) -> str:
        """The key that signs our Message-IDs: derived from the installation secret, never shown."""
        return hmac.new(self.session_secret().encode(), b"helpdesk mail thread ids", hashlib.sha256).hexdigest()

    def ensure_var_dir(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)

    def session_secret(self) -> str:
        """The cookie-signing key: configured, or generated once and kept in var/."""
        if self.secret_key:
            return self.secret_key
        self.ensure_var_dir()
        path = self.var_dir / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()
