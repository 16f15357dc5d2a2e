"""The composition root: builds the FastAPI app and wires every package together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from admin import chat, mail, web
from admin.migrate import check_current
from admin.runtime import Clock, Runtime, WeComChannel
from admin.settings import Settings
from bot import Bot, BotConfig, KbConfig
from intake import journal, webchat
from intake.wecom import CallbackCrypto, WeComClient, callback_router
from knowledge import Thresholds
from tickets import Database, outbox, utcnow

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"


def build_runtime(settings: Settings, *, clock: Clock = utcnow, db: Database | None = None) -> Runtime:
    """Everything but the web layer: what the CLI and the tests use as well."""
    db = db or Database(settings.database_url)
    routes = [(webchat.CHANNEL, webchat.ENGINEERS)]
    remote = {}
    if settings.wecom_send_enabled:
        client = WeComClient(settings.wecom_corp_id, settings.wecom_secret, settings.wecom_agent_id,
                             api_base=settings.wecom_api_base)
        remote["wecom"] = WeComChannel(client)
        if settings.wecom_engineer_chatid:
            routes.insert(0, ("wecom", f"chat:{settings.wecom_engineer_chatid}"))
        else:
            log.warning("wecom: HELPDESK_WECOM_ENGINEER_CHATID not set; new tickets are posted to the web chat only")
    else:
        log.warning("wecom: sending is off (HELPDESK_WECOM_CORP_ID / _SECRET / _AGENT_ID not all set)")
    if settings.mail_send_enabled:
        remote["email"] = mail.EmailChannel(db, mail.smtp_config(settings), settings.mail_secret(),
                                            mail.own_mail(settings))
    else:
        log.warning("mail: sending is off (HELPDESK_SMTP_HOST / HELPDESK_MAIL_FROM not set)")
    kb = KbConfig(Thresholds(settings.kb_answer, settings.kb_suggest, settings.kb_margin)) if settings.kb_enabled \
        else None
    second_level = tuple(k.strip() for k in settings.escalation_second_level.split(",") if k.strip())
    config = BotConfig(engineer_routes=routes, kb=kb, mail=mail.bot_mail_config(settings),
                       person_channel="wecom" if settings.wecom_send_enabled else webchat.CHANNEL,
                       second_level=second_level)
    runtime = Runtime(db=db, bot=Bot(config), clock=clock, remote=remote)
    runtime.pollers = mail.pollers(settings, db, clock, on_new=runtime.wake_inbound)
    if not runtime.pollers:
        log.warning("mail: intake is off (HELPDESK_IMAP_HOST not set, no [[mailboxes]] in the config file)")
    return runtime


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
    if settings.wecom_callback_enabled:
        crypto = CallbackCrypto(settings.wecom_token, settings.wecom_aes_key, settings.wecom_corp_id)
        app.include_router(callback_router(crypto, runtime.accept, runtime.clock))
        log.info("wecom: callback enabled at /wecom/callback")
    else:
        log.warning("wecom: channel off (HELPDESK_WECOM_CORP_ID / _TOKEN / _AES_KEY not all set); "
                    "/wecom/callback is not served")

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/chat")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        """For monitoring: the database answers, and how much is waiting or failed."""
        body: dict[str, object] = {"wecom_callback": settings.wecom_callback_enabled,
                                   "wecom_send": settings.wecom_send_enabled}
        try:
            with runtime.db.session() as session:
                body["inbound"] = journal.count_by_status(session)
                body["outbox"] = outbox.counts(session)
        except Exception as exc:  # the database is down: say so, as a 503 a monitor can see
            log.error("healthz: database unavailable: %r", exc)
            return JSONResponse({**body, "ok": False, "error": "database unavailable"}, status_code=503)
        return JSONResponse({**body, "ok": True})

    return app
