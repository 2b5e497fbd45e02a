"""SmtpDeliverer against real SMTP servers on loopback: what is sent, and every way it fails."""

from __future__ import annotations

import dataclasses
import logging
import smtplib
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import trustme

from digest import config, letters
from digest.channels.smtp import SmtpDeliverer, failure
from digest.errors import DeliveryError, TransientDeliveryError
from digest.models import Digest, Dump, Outgoing, Paper
from tests.mailserver import Handler, free_port, raw_server, smtp_server

ANN, BOB = "ann@example.org", "bob@example.org"


def make_outgoing(**env: str) -> Outgoing:
    """A small digest made into a mail, as the outbox would hold it."""
    settings = config.load(
        {},
        {
            "DIGEST_FROM": "Daily Papers <papers@example.org>",
            "DIGEST_TO": f"Ann Reader <{ANN}>, Bob <{BOB}>",
            "DIGEST_DELIVER": "files",  # made here, sent by the test's own deliverer
            **env,
        },
    )
    papers = tuple(Paper(f"Paper number {i}", f"Abstract of paper {i}. " * 20) for i in range(3))
    dump = Dump("001.txt", "0" * 64, papers, listing_date="Mar 12")
    digest = Digest(papers, dumps=(dump,), created=datetime(2025, 3, 12, 7, tzinfo=UTC))
    return dataclasses.replace(letters.outgoing(digest, settings, hostname="test.invalid"), id=7)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def plain() -> Iterator[tuple[Handler, SmtpDeliverer]]:
    handler = Handler()
    with smtp_server(handler) as server:
        yield handler, SmtpDeliverer(server.host, server.port, security="none", timeout=5)


def test_sends_the_stored_bytes_to_every_recipient(plain: tuple[Handler, SmtpDeliverer]) -> None:
    handler, deliverer = plain
    item = make_outgoing()
    assert deliverer.deliver(item) == f"mailed to 2 recipients via 127.0.0.1:{deliverer.port}"
    [got] = handler.received
    assert got.sender == "papers@example.org"
    assert got.recipients == [ANN, BOB]
    assert got.data.rstrip(b"\r\n") == item.eml.rstrip(b"\r\n")  # type: ignore[union-attr]
    assert got.message["Message-ID"] == item.message_id


def test_to_overrides_the_envelope_only(plain: tuple[Handler, SmtpDeliverer]) -> None:
    handler, deliverer = plain
    item = make_outgoing()
    deliverer.recipients = ["carol@example.org"]
    deliverer.deliver(item)
    [got] = handler.received
    assert got.recipients == ["carol@example.org"]
    assert got.message["To"] == f"Ann Reader <{ANN}>, Bob <{BOB}>"


def test_messages_that_follow_each_other_in_a_session_share_one_connection(
    plain: tuple[Handler, SmtpDeliverer],
) -> None:
    handler, deliverer = plain
    item = make_outgoing()
    deliverer.deliver(item)
    deliverer.deliver(item)
    assert len(handler.connections) == 2  # outside a session: one connection a message
    with deliverer.session():
        for _ in range(3):
            deliverer.deliver(item)
    assert len(handler.received) == 5 and len(handler.connections) == 3


def test_a_kept_connection_the_server_closed_is_replaced_by_a_new_one(
    plain: tuple[Handler, SmtpDeliverer],
) -> None:
    handler, deliverer = plain
    item = make_outgoing()
    with deliverer.session():
        deliverer.deliver(item)
        kept = deliverer._kept
        assert kept is not None
        kept[0].sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]  # the line drops
        assert deliverer.deliver(item).startswith("mailed to 2 recipients")
    assert len(handler.received) == 2 and len(handler.connections) == 2


def test_a_closed_port_is_worth_retrying() -> None:
    deliverer = SmtpDeliverer("127.0.0.1", free_port(), security="none", timeout=5)
    with pytest.raises(TransientDeliveryError, match=r"cannot reach the mail server 127\.0\.0\.1"):
        deliverer.deliver(make_outgoing())


def test_a_server_that_never_answers_times_out() -> None:
    with raw_server(None) as port:
        deliverer = SmtpDeliverer("127.0.0.1", port, security="none", timeout=0.3)
        with pytest.raises(TransientDeliveryError, match=r"did not answer within 0\.3 s"):
            deliverer.deliver(make_outgoing())


def test_a_server_that_hangs_up_is_worth_retrying() -> None:
    with raw_server(b"220 mail.test ESMTP\r\n") as port:
        deliverer = SmtpDeliverer("127.0.0.1", port, security="none", timeout=5)
        with pytest.raises(TransientDeliveryError, match="closed the connection"):
            deliverer.deliver(make_outgoing())


def test_the_plug_pulled_before_the_reply_to_the_message_is_worth_retrying() -> None:
    with smtp_server(Handler(hang_up_in_data=True)) as server:
        deliverer = SmtpDeliverer(server.host, server.port, security="none", timeout=5)
        with pytest.raises(TransientDeliveryError, match="closed the connection"):
            deliverer.deliver(make_outgoing())


def test_greeting_421_is_worth_retrying() -> None:
    with raw_server(b"421 4.3.2 Service not available, closing channel\r\n") as port:
        deliverer = SmtpDeliverer("127.0.0.1", port, security="none", timeout=5)
        with pytest.raises(TransientDeliveryError, match=r"421 4\.3\.2 Service not available"):
            deliverer.deliver(make_outgoing())


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [
        ("550 5.7.1 Message rejected as spam", True),
        ("554 5.6.0 Message content refused", True),
        ("451 4.3.0 Temporary failure, try later", False),
        ("421 4.7.0 Too many connections, closing", False),
    ],
)
def test_a_refused_message(reply: str, permanent: bool) -> None:
    with smtp_server(Handler(data_reply=reply)) as server:
        deliverer = SmtpDeliverer(server.host, server.port, security="none", timeout=5)
        with pytest.raises(DeliveryError) as caught:
            deliverer.deliver(make_outgoing())
    assert isinstance(caught.value, TransientDeliveryError) is not permanent
    assert reply in str(caught.value)
    assert not server.received


def test_one_refused_recipient_is_reported_and_the_others_get_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = Handler(refuse_rcpt={BOB: "550 5.1.1 No such user here"})
    with smtp_server(handler) as server:
        deliverer = SmtpDeliverer(server.host, server.port, security="none", timeout=5)
        with caplog.at_level(logging.WARNING, logger="digest"):
            description = deliverer.deliver(make_outgoing())
    assert description == (
        f"mailed to 1 recipient via 127.0.0.1:{server.port};"
        f" refused: {BOB} (550 5.1.1 No such user here)"
    )
    assert [r.recipients for r in server.received] == [[ANN]]
    assert f"refused recipient {BOB} (550 5.1.1 No such user here)" in caplog.text


@pytest.mark.parametrize(("code", "permanent"), [("550 5.1.1", True), ("450 4.2.1", False)])
def test_every_recipient_refused(code: str, permanent: bool) -> None:
    reply = f"{code} Mailbox unavailable"
    with smtp_server(Handler(refuse_rcpt={ANN: reply, BOB: reply})) as server:
        deliverer = SmtpDeliverer(server.host, server.port, security="none", timeout=5)
        with pytest.raises(DeliveryError, match="refused every recipient") as caught:
            deliverer.deliver(make_outgoing())
    assert isinstance(caught.value, TransientDeliveryError) is not permanent


def test_starttls_with_a_verified_certificate_and_login(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    with smtp_server(
        tls_context=server_tls, starttls=True, auth=("papers", "s3cret pass")
    ) as server:
        deliverer = SmtpDeliverer(
            server.host,
            server.port,
            security="starttls",
            user="papers",
            password="s3cret pass",
            timeout=5,
            ssl_context=client_tls,
        )
        deliverer.deliver(make_outgoing())
    assert len(server.received) == 1
    assert server.handler.logins == [("papers", "s3cret pass")]


def test_tls_from_the_first_byte(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    with smtp_server(tls_context=server_tls) as server:
        deliverer = SmtpDeliverer(
            server.host, server.port, security="ssl", timeout=5, ssl_context=client_tls
        )
        deliverer.deliver(make_outgoing())
    assert len(server.received) == 1


def test_an_untrusted_certificate_is_refused_by_default(server_tls: ssl.SSLContext) -> None:
    # No ssl_context given: the system's trust store, which does not know the test CA.
    with smtp_server(tls_context=server_tls, starttls=True) as server:
        deliverer = SmtpDeliverer(server.host, server.port, security="starttls", timeout=5)
        with pytest.raises(TransientDeliveryError, match=r"certificate of 127\.0\.0\.1:\d+ cannot"):
            deliverer.deliver(make_outgoing())
    assert not server.received


def test_a_wrong_password_is_named_but_never_shown(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    with smtp_server(tls_context=server_tls, starttls=True, auth=("papers", "right")) as server:
        deliverer = SmtpDeliverer(
            server.host,
            server.port,
            user="papers",
            password="wrong-hunter2",
            timeout=5,
            ssl_context=client_tls,
        )
        with pytest.raises(TransientDeliveryError, match="refused the login of 'papers'") as e:
            deliverer.deliver(make_outgoing())
    assert "hunter2" not in str(e.value)
    assert "hunter2" not in repr(deliverer)
    assert not server.received


def test_a_digest_without_a_stored_message_is_refused_plainly(
    plain: tuple[Handler, SmtpDeliverer],
) -> None:
    _, deliverer = plain
    with pytest.raises(DeliveryError, match="digest 7 has no stored mail message"):
        deliverer.deliver(dataclasses.replace(make_outgoing(), eml=None))


def test_a_digest_made_without_recipients_says_how_to_send_it(
    plain: tuple[Handler, SmtpDeliverer],
) -> None:
    handler, deliverer = plain
    item = make_outgoing(DIGEST_TO="")
    with pytest.raises(DeliveryError, match=r"made without DIGEST_TO.*resend 7 --to ADDRESS"):
        deliverer.deliver(item)
    deliverer.recipients = [ANN]
    deliverer.deliver(item)
    assert [r.recipients for r in handler.received] == [[ANN]]


def _untrusted() -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "self-signed certificate"
    return error


@pytest.mark.parametrize(
    ("error", "kind", "said"),
    [
        (smtplib.SMTPRecipientsRefused({"a@x.org": (550, b"no")}), DeliveryError, "refused every"),
        (
            smtplib.SMTPRecipientsRefused({"a@x.org": (450, b"later")}),
            TransientDeliveryError,
            "refused every",
        ),
        (
            smtplib.SMTPAuthenticationError(535, b"bad"),
            TransientDeliveryError,
            "refused the login of 'ann'",
        ),
        (smtplib.SMTPDataError(554, b"spam"), DeliveryError, "refused the message: 554 spam"),
        (
            smtplib.SMTPDataError(451, b"busy"),
            TransientDeliveryError,
            "not taking the message for now",
        ),
        (
            smtplib.SMTPNotSupportedError("no STARTTLS"),
            TransientDeliveryError,
            "DIGEST_SMTP_SECURITY",
        ),
        (smtplib.SMTPServerDisconnected("timed out"), TransientDeliveryError, "within 30 s"),
        (smtplib.SMTPServerDisconnected("gone"), TransientDeliveryError, "closed the connection"),
        (_untrusted(), TransientDeliveryError, "cannot be trusted: self-signed certificate"),
        (ssl.SSLError(1, "wrong version"), TransientDeliveryError, "TLS with mail.test:25 failed"),
        (TimeoutError(), TransientDeliveryError, "did not answer within 30 s"),
        (ConnectionRefusedError(111, "Connection refused"), TransientDeliveryError, "cannot reach"),
        (
            UnicodeEncodeError("ascii", "é", 0, 1, "x"),
            TransientDeliveryError,
            "(UnicodeEncodeError)",
        ),
    ],
)
def test_each_failure_maps_to_one_outcome(
    error: Exception, kind: type[DeliveryError], said: str
) -> None:
    outcome = failure(error, "mail.test:25", user="ann", timeout=30)
    assert type(outcome) is kind and said in str(outcome)
    assert "é" not in str(outcome)  # what an error quotes of a setting is never shown
