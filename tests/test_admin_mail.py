"""The admin panel's mail pages over HTTP against the real app, on SQLite and PostgreSQL:
every mail dropped or held is listed with its reason, a held mail is released into the
journal and becomes a ticket, the hospitals' mail domains are edited (and checked), and
a ticket's files are shown and served only to those who may see the ticket.

Mail arrives as the poller hands it over: raw bytes from the corpus through
:func:`intake.email.store.ingest` with the installation's rules, then the bot's worker.
"""

from __future__ import annotations

import html
import re

from sqlmodel import col, select

from admin import mail
from intake.email import store
from intake.email.store import FetchedMail, MailAttachment, MailItem
from intake.journal import InboundRecord
from tests.conftest import Env
from tests.fakes import mail_corpus as mc
from tests.test_admin_sla import add_account, audits, logged_in, row, table, text_of
from tickets.models import Hospital, Ticket

AUTO_REPLY_REASON = "自动发送的邮件（Auto-Submitted: auto-replied）"
UNKNOWN_SENDER = "发件人不在通讯录中，邮箱域名也不属于任何医院"
SKEW_NOTE = "邮件 Date 与服务器收信时间相差 120 分钟（以服务器收信时间计时）"


def deliver(env: Env, name: str, *, hospital: str = "") -> int:
    """The poller's step for one corpus mail (next UID of the mailbox), then the bot's; the ledger row's id."""
    case = mc.by_name(name)
    with env.db.session() as session:
        uid = store.cursor(session, "inbox").last_uid + 1
        fetched = FetchedMail("inbox", 7, uid, case.raw(), case.received, env.clock(), hospital)
        got = store.ingest(session, fetched, mail.intake_rules(env.settings))
    assert got.item_id is not None, got
    env.runtime.drain_inbound()
    return got.item_id


def item(env: Env, item_id: int) -> MailItem:
    with env.db.session() as session:
        found = session.get(MailItem, item_id)
        assert found is not None
        return found


def add_domain(env: Env, hospital: str, domain: str) -> None:
    with env.db.session() as session:
        h = session.exec(select(Hospital).where(Hospital.key == hospital)).one()
        h.mail_domains = [*h.mail_domains, domain]
        session.add(h)


def domains_of(env: Env, hospital: str) -> list[str]:
    with env.db.session() as session:
        return session.exec(select(Hospital).where(Hospital.key == hospital)).one().mail_domains


def files_of(env: Env, ticket_id: int) -> dict[str, MailAttachment]:
    with env.db.session() as session:
        rows = session.exec(select(MailAttachment).where(MailAttachment.ticket_id == ticket_id)).all()
        return {a.filename: a for a in rows}


def hospital_id(env: Env, key: str) -> int:
    with env.db.session() as session:
        return session.exec(select(Hospital.id).where(Hospital.key == key)).one() or 0


# -- the list, one mail, releasing it ------------------------------------------------------------

def test_dropped_and_held_mail_is_listed_with_its_reason_and_a_released_mail_becomes_a_ticket(env: Env) -> None:
    dropped = deliver(env, "auto_reply_rfc3834")
    bounce = deliver(env, "dsn_bounce_of_our_reply")
    parked = deliver(env, "plain_utf8")  # rmyy.example.cn is no hospital's domain yet: the bot holds it
    assert item(env, parked).status == store.PARKED and not list(_tickets(env))

    with logged_in(env) as client:
        page = client.get("/admin/mail")
        assert page.status_code == 200
        items = table(page.text, "mail-items")
        assert re.findall(r'<tr data-item="(\d+)"', items) == [str(parked), str(bounce), str(dropped)]
        drop_row = row(items, f'data-item="{dropped}"')
        assert "wangkun@rmyy.example.cn" in drop_row and "已忽略" in drop_row and AUTO_REPLY_REASON in drop_row
        assert "2026-11-20 10:15:30" in drop_row  # INTERNALDATE in Beijing time
        assert "待审核" in row(items, f'data-item="{parked}"') and UNKNOWN_SENDER in row(items, f'data-item="{parked}"')
        assert "退信" in row(items, f'data-item="{bounce}"')
        counts = table(page.text, "mail-counts")
        assert re.search(r'data-status="dropped"><a [^>]*>1<', counts) and re.search(r'data-status="accepted"><a [^>]*>0<', counts)
        only_parked = client.get("/admin/mail?status=parked")
        assert re.findall(r'<tr data-item="(\d+)"', table(only_parked.text, "mail-items")) == [str(parked)]
        assert client.get("/admin/mail?status=nonsense").status_code == 400

        detail = client.get(f"/admin/mail/{parked}")
        assert detail.status_code == 200
        words = text_of(detail.text)
        assert html.escape(mc.by_name("plain_utf8").message_id or "-") in words and "UID 3" in words and UNKNOWN_SENDER in words
        assert "CT室2号工作站今天早上开始无法登录PACS" in words
        assert 'action="/admin/mail/' + str(parked) + '/release"' in detail.text
        assert 'action="/admin/mail/' + str(dropped) + '/release"' in client.get(f"/admin/mail/{dropped}").text
        assert "/release" not in client.get(f"/admin/mail/{bounce}").text  # a bounce is not a person's mail

        # The operator recognises the hospital: its domain, then the held mail on its way.
        domains = client.post("/admin/mail/domains", data={"hospital": str(hospital_id(env, "shanxi-cancer")),
                                                          "domains": "sxcancer.example.cn，RMYY.example.cn"})
        assert domains.status_code == 200 and "山西省肿瘤医院的邮箱域名已设为：sxcancer.example.cn、rmyy.example.cn" in domains.text
        released = client.post(f"/admin/mail/{parked}/release")
        assert released.status_code == 200 and str(released.url).endswith(f"/admin/mail/{parked}")
        assert f"邮件 #{parked} 已放行" in released.text and "已人工放行" in released.text
        assert "admin" in text_of(released.text)  # who released it
        with env.db.session() as session:
            entry = session.exec(select(InboundRecord).where(col(InboundRecord.external_id).endswith("#released"))).one()
            assert entry.status == "pending" and entry.sender == "wangfang@rmyy.example.cn"
        assert client.post(f"/admin/mail/{parked}/release").status_code == 409  # once only

        assert env.runtime.drain_inbound() == 1
        [ticket] = _tickets(env)
        assert ticket.hospital_id == hospital_id(env, "shanxi-cancer") and "无法登录PACS" in ticket.summary
        assert item(env, parked).ticket_id == ticket.id and item(env, parked).status == store.RELEASED
        listed = row(table(client.get("/admin/mail").text, "mail-items"), f'data-item="{parked}"')
        assert "已人工放行" in listed and f"#{ticket.id}" in listed

    assert domains_of(env, "shanxi-cancer") == ["sxcancer.example.cn", "rmyy.example.cn"]
    [edit] = audits(env, "hospital.mail_domains_set")
    assert edit.actor == "admin" and edit.detail == {"hospital": "shanxi-cancer", "old": ["sxcancer.example.cn"],
                                                     "new": ["sxcancer.example.cn", "rmyy.example.cn"]}
    [release] = audits(env, "mail.released")
    assert release.detail["mail_item_id"] == parked


def test_a_mail_page_shows_the_date_skew_and_the_raw_mail_downloads(env: Env) -> None:
    add_domain(env, "shanxi-cancer", "rmyy.example.cn")
    skewed = deliver(env, "date_skew_2h")  # the sender's PC is two hours behind
    ticket_id = item(env, skewed).ticket_id
    assert ticket_id is not None
    with logged_in(env) as client:
        page = client.get(f"/admin/mail/{skewed}?status=all")
        assert "相差 120 分钟" in text_of(page.text) and 'id="skew-warning"' in page.text
        assert "超过 15 分钟" in text_of(page.text) and "已受理" in text_of(page.text)
        raw = client.get(f"/admin/mail/{skewed}/raw")
        assert raw.status_code == 200 and raw.content == mc.by_name("date_skew_2h").raw()
        assert raw.headers["content-type"] == "message/rfc822"
        assert raw.headers["content-disposition"].startswith("attachment;")
        assert raw.headers["x-content-type-options"] == "nosniff"
        ticket_page = client.get(f"/admin/tickets/{ticket_id}")
        assert SKEW_NOTE in text_of(ticket_page.text)
        assert "发件人未验证" not in ticket_page.text and "接续工单" not in ticket_page.text
        assert client.get("/admin/mail/99999").status_code == 404


# -- a ticket's files ------------------------------------------------------------------------------

def test_a_tickets_files_are_shown_and_served_only_to_those_who_may_see_the_ticket(env: Env) -> None:
    add_domain(env, "shanxi-cancer", "rmyy.example.cn")
    deliver(env, "inline_images_outlook")  # a screenshot and a photo
    deliver(env, "attachment_20mb", hospital="wuhan-central")  # a gmail stranger at the wuhan mailbox
    shanxi, wuhan = _tickets(env)
    files = files_of(env, shanxi.id or 0)
    png, jpg = files["image001.png"], files["故障照片.jpg"]
    [big] = files_of(env, wuhan.id or 0).values()
    add_account(env, "wugang", "wugang")  # 武汉市中心医院's IT
    add_account(env, "zhaomin", "zhaomin")  # 山西省肿瘤医院
    add_account(env, "lina", "lina")  # the vendor's engineer, not an admin

    with logged_in(env) as client:
        page = client.get(f"/admin/tickets/{shanxi.id}")
        assert page.status_code == 200
        assert f'<img src="/admin/attachments/{png.id}"' in page.text and f'<img src="/admin/attachments/{jpg.id}"' in page.text
        assert "image001.png" in row(table(page.text, "attachments"), f'data-attachment="{png.id}"')
        got = client.get(f"/admin/attachments/{png.id}")
        assert got.status_code == 200 and got.content == png.data and got.headers["content-type"] == "image/png"
        assert got.headers["content-disposition"].startswith("inline;")
        assert got.headers["x-content-type-options"] == "nosniff"

        unverified = client.get(f"/admin/tickets/{wuhan.id}")
        assert 'id="sender-unverified"' in unverified.text and "发件人未验证" in unverified.text
        refused = row(table(unverified.text, "attachments"), f'data-attachment="{big.id}"')
        assert "CT影像导出_20261120.zip" in refused and "20.0 MB" in refused and "超过大小上限，未保存" in refused
        assert f"/admin/attachments/{big.id}" not in unverified.text
        assert client.get(f"/admin/attachments/{big.id}").status_code == 404

        with env.db.session() as session:  # a reply long after the first ticket closed opens a follow-up
            follow = session.get(Ticket, wuhan.id)
            assert follow is not None
            follow.follows_ticket_id = shanxi.id
            session.add(follow)
        assert f'<a href="/admin/tickets/{shanxi.id}" id="follows">接续工单 #{shanxi.id}</a>' in \
            client.get(f"/admin/tickets/{wuhan.id}").text

    with logged_in(env, "zhaomin", "pass-zhaomin") as client:
        assert client.get(f"/admin/attachments/{png.id}").content == png.data
        assert client.get("/admin/mail").status_code == 403
        assert 'href="/admin/mail"' not in client.get("/admin").text
    with logged_in(env, "wugang", "pass-wugang") as client:
        assert client.get(f"/admin/attachments/{png.id}").status_code == 404  # another hospital's ticket
        assert client.get(f"/admin/attachments/{jpg.id}").status_code == 404
        assert client.get(f"/admin/tickets/{wuhan.id}").status_code == 200
    with logged_in(env, "lina", "pass-lina") as client:
        assert client.get(f"/admin/attachments/{png.id}").status_code == 200  # the vendor sees every ticket
        for url in ("/admin/mail", "/admin/mail/1", "/admin/mail/1/raw"):
            refused_page = client.get(url)
            assert refused_page.status_code == 403 and "只有管理员" in refused_page.text, url
        assert client.post("/admin/mail/1/release").status_code == 403
        assert client.post("/admin/mail/domains", data={"hospital": "1", "domains": "x.example.cn"}).status_code == 403
    assert not audits(env, "mail.released") and not audits(env, "hospital.mail_domains_set")
    assert domains_of(env, "wuhan-central") == ["whcentral.example.cn"]


def test_a_held_mails_files_are_for_admins_only(env: Env) -> None:
    held = deliver(env, "attachments_rfc2231")  # no hospital's domain: parked with its files
    assert item(env, held).status == store.PARKED
    with env.db.session() as session:
        docx = session.exec(select(MailAttachment).where(MailAttachment.mail_item_id == held,
                                                         col(MailAttachment.filename).endswith(".docx"))).one()
    add_account(env, "lina", "lina")
    with logged_in(env) as client:
        page = client.get(f"/admin/mail/{held}")
        assert "王堃_设备故障报告单（CT室）.docx" in text_of(page.text)
        got = client.get(f"/admin/attachments/{docx.id}")
        assert got.status_code == 200 and got.content == mc.DOCX_BYTES
        assert got.headers["content-disposition"].startswith("attachment;")  # a document is downloaded, not shown
        assert "filename*=UTF-8''" in got.headers["content-disposition"]
    with logged_in(env, "lina", "pass-lina") as client:
        assert client.get(f"/admin/attachments/{docx.id}").status_code == 404


# -- hospitals' mail domains -------------------------------------------------------------------------

def test_a_bad_or_overlapping_mail_domain_is_refused_in_chinese(env: Env) -> None:
    shanxi = str(hospital_id(env, "shanxi-cancer"))
    cases = [
        ({"hospital": shanxi, "domains": "rmyy"}, "邮箱域名格式不对：「rmyy」"),
        ({"hospital": shanxi, "domains": "sxcancer.example.cn bad_domain!.cn"}, "邮箱域名格式不对：「bad_domain!.cn」"),
        ({"hospital": shanxi, "domains": "mail.whcentral.example.cn"}, "与武汉市中心医院的「whcentral.example.cn」重叠"),
        ({"hospital": "999", "domains": "rmyy.example.cn"}, "请选择医院"),
    ]
    with logged_in(env) as client:
        for data, message in cases:
            refused = client.post("/admin/mail/domains", data=data)
            assert refused.status_code == 400, data
            assert message in text_of(refused.text), data
        again = client.post("/admin/mail/domains", data={"hospital": shanxi, "domains": "rmyy"})
        assert re.search(r'name="domains"[^>]*value="rmyy"', again.text)  # what was typed is shown again
        cleared = client.post("/admin/mail/domains", data={"hospital": shanxi, "domains": " "})
        assert cleared.status_code == 200 and "山西省肿瘤医院的邮箱域名已设为：（无）" in cleared.text
    assert domains_of(env, "shanxi-cancer") == []
    assert [a.detail["new"] for a in audits(env, "hospital.mail_domains_set")] == [[]]


def _tickets(env: Env) -> list[Ticket]:
    with env.db.session() as session:
        return list(session.exec(select(Ticket).order_by(col(Ticket.id))).all())
