"""The composition root: builds the FastAPI app and wires every package together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from admin import chat, duty_pages, hotline, hotline_pages, mail, web
from admin.migrate import check_current
from admin.runtime import AibotChannel, Clock, RemoteChannel, Runtime, WeComChannel
from admin.settings import Settings
from bot import Bot, BotConfig, KbConfig
from bot.hotline_flow import HotlineConfig
from intake import journal, webchat
from intake.aibot import AibotConnection, AibotCrypto, aibot_callback_router
from intake.wecom import CallbackCrypto, WeComClient, callback_router
from knowledge import Thresholds
from tickets import Database, outbox, utcnow

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"


def build_runtime(settings: Settings, *, clock: Clock = utcnow, db: Database | None = None) -> Runtime:
    """Everything but the web layer: what the CLI and the tests use as well."""
    db = db or Database(settings.database_url)
    routes = [(webchat.CHANNEL, webchat.ENGINEERS)]
    remote: dict[str, RemoteChannel] = {}
    group_channel = ""
    if settings.wecom_send_enabled:
        client = WeComClient(settings.wecom_corp_id, settings.wecom_secret, settings.wecom_agent_id,
                             api_base=settings.wecom_api_base)
        remote["wecom"] = WeComChannel(client)
        group_channel = "wecom"
    else:
        log.warning("wecom: sending is off (HELPDESK_WECOM_CORP_ID / _SECRET / _AGENT_ID not all set)")
    if settings.aibot_longconn_enabled:
        group_channel = "aibot"  # the bot can put cards in the group: preferred over the app's text
    shared = settings.aibot_engineer_chatid if group_channel == "aibot" else settings.wecom_engineer_chatid
    if shared:
        routes.insert(0, (group_channel, f"chat:{shared}"))
    elif group_channel:
        log.warning("%s: no shared engineers' group set (HELPDESK_%s_ENGINEER_CHATID); only hospitals with "
                    "their own group get their tickets posted in WeCom", group_channel, group_channel.upper())
    if settings.mail_send_enabled:
        remote["email"] = mail.EmailChannel(db, mail.smtp_config(settings), settings.mail_secret(),
                                            mail.own_mail(settings))
    else:
        log.warning("mail: sending is off (HELPDESK_SMTP_HOST / HELPDESK_MAIL_FROM not set)")
    kb = KbConfig(Thresholds(settings.kb_answer, settings.kb_suggest, settings.kb_margin)) if settings.kb_enabled \
        else None
    second_level = tuple(k.strip() for k in settings.escalation_second_level.split(",") if k.strip())
    config = BotConfig(engineer_routes=routes, kb=kb, mail=mail.bot_mail_config(settings),
                       person_channel=_person_channel(settings), second_level=second_level,
                       confirm_days=settings.confirm_days,
                       hotline=HotlineConfig(append_window=timedelta(hours=settings.hotline_append_hours)),
                       group_channel=group_channel,
                       # A card one-to-one only where clicks can come back (the app's callback URL).
                       cards_one_to_one=group_channel == "wecom" and settings.wecom_callback_enabled,
                       bot_names=(settings.aibot_name,) if settings.aibot_name else (),
                       aibot_connected=settings.aibot_longconn_enabled)
    runtime = Runtime(db=db, bot=Bot(config), clock=clock, remote=remote)
    if settings.aibot_longconn_enabled:
        runtime.aibot = AibotConnection(settings.aibot_ws_url, settings.aibot_bot_id, settings.aibot_secret,
                                        runtime.accept_aibot, clock, on_card_event=runtime.card_click,
                                        bot_name=settings.aibot_name or None)
    if settings.aibot_longconn_enabled or settings.aibot_callback_enabled:
        runtime.remote["aibot"] = AibotChannel(runtime.aibot)
    if settings.hotline_drop_dir:
        drop = Path(settings.hotline_drop_dir)
        runtime.hotline_drop = lambda: hotline.run_drop_folder(runtime, drop, settings.hotline_drop_poll_s)
    runtime.pollers = mail.pollers(settings, db, clock, on_new=runtime.wake_inbound)
    if not runtime.pollers:
        log.warning("mail: intake is off (HELPDESK_IMAP_HOST not set, no [[mailboxes]] in the config file)")
    return runtime


def _person_channel(settings: Settings) -> str:
    """How one of the vendor's people is reached alone (reminders, a transferred ticket)."""
    if settings.wecom_send_enabled:
        return "wecom"
    return "aibot" if settings.aibot_longconn_enabled else webchat.CHANNEL


def create_app(settings: Settings | None = None, *, clock: Clock = utcnow, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = runtime or build_runtime(settings, clock=clock)
    check_current(runtime.db.engine)  # refuse to serve an unmigrated database

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.attach(asyncio.get_running_loop())
        tasks = []
        if settings.workers:
            tasks = [asyncio.create_task(job) for job in runtime.jobs()]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(title="维保服务台", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.runtime = runtime
    app.add_middleware(SessionMiddleware, secret_key=settings.session_secret(), session_cookie="helpdesk_session",
                       max_age=settings.session_max_age_s, same_site="lax", https_only=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(web.router)
    app.include_router(chat.router)
    app.include_router(duty_pages.router)
    app.include_router(hotline.router)
    app.include_router(hotline_pages.router)
    if settings.wecom_callback_enabled:
        crypto = CallbackCrypto(settings.wecom_token, settings.wecom_aes_key, settings.wecom_corp_id)
        app.include_router(callback_router(crypto, runtime.accept, runtime.clock))
        log.info("wecom: callback enabled at /wecom/callback")
    else:
        log.warning("wecom: channel off (HELPDESK_WECOM_CORP_ID / _TOKEN / _AES_KEY not all set); "
                    "/wecom/callback is not served")
    if settings.aibot_callback_enabled:
        aibot_crypto = AibotCrypto(settings.aibot_token, settings.aibot_aes_key)
        app.include_router(aibot_callback_router(aibot_crypto, runtime.accept_aibot, runtime.clock,
                                                 on_card_event=runtime.card_click,
                                                 bot_name=settings.aibot_name or None))
        log.info("aibot: callback enabled at /wecom/aibot")

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/chat")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        """For monitoring: the database answers, and how much is waiting or failed."""
        body: dict[str, object] = {"wecom_callback": settings.wecom_callback_enabled,
                                   "wecom_send": settings.wecom_send_enabled,
                                   "aibot_connected": runtime.aibot.connected if runtime.aibot else None}
        try:
            with runtime.db.session() as session:
                body["inbound"] = journal.count_by_status(session)
                body["outbox"] = outbox.counts(session)
        except Exception as exc:  # the database is down: say so, as a 503 a monitor can see
            log.error("healthz: database unavailable: %r", exc)
            return JSONResponse({**body, "ok": False, "error": "database unavailable"}, status_code=503)
        return JSONResponse({**body, "ok": True})

    return app
