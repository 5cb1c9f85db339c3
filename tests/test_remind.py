"""`defi remind`: the reminders that go out by themselves, read from a real SMTP server.

The tests start an SMTP server of their own (aiosmtpd) on a free local port, point MAIL_SERVER
and MAIL_PORT at it, run the command as cron would, and read what the server received.
"""

import email
import email.policy
import socket
import threading
import uuid
from datetime import date
from datetime import timedelta

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from defi.extensions import db
from defi.formatting import today
from defi.models import Entry
from defi.models import Household
from defi.models import Reminder
from defi.models import Wave
from defi.models.base import utcnow
from defi.models.challenge import current_challenge
from defi.reminders import Mailer
from defi.reminders import due_reminders
from defi.reminders import kind_due
from defi.reminders import public_url
from defi.reminders import send_reminders
from defi.rights import erase_household
from tests.conftest import demo_code
from tests.conftest import territory_id

DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
SENDER = "defi@example.org"


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts, and refuses some recipients."""

    def __init__(self):
        self.received = []  # (envelope recipients, parsed message)
        self.refused = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refused:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def recipients(self):
        return [address for rcpt_tos, _message in self.received for address in rcpt_tos]

    def to(self, address):
        found = [message for rcpt_tos, message in self.received if rcpt_tos == [address]]
        assert len(found) == 1, (address, len(found))
        return found[0]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_login(server, session, envelope, mechanism, auth_data):
    """The SMTP server's accounts: one, `defi` with its password."""
    good = auth_data.login == b"defi" and auth_data.password == b"mot-de-passe-smtp"
    return AuthResult(success=good, handled=False)


@pytest.fixture
def mailbox(app):
    """A real SMTP server on a free local port, which MAIL_SERVER and MAIL_PORT name.

    It offers AUTH on a plain connection (no certificate to make in a test), without
    requiring it: MAIL_USERNAME unset sends without logging in.
    """
    box = Mailbox()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=check_login,
        auth_require_tls=False,
    )
    controller.start()
    app.config.update(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=controller.port,
        MAIL_FROM=f"Défi Famille <{SENDER}>",
        PUBLIC_URL="https://defi.example.org",
    )
    yield box
    controller.stop()


def household(name):
    return db.session.scalar(sa.select(Household).where(Household.code == demo_code(name)))


def open_wave():
    return db.session.scalar(
        sa.select(Wave).where(
            Wave.challenge_id == current_challenge(territory_id()).id, Wave.rank == 3
        )
    )


def address(name):
    return f"{demo_code(name).lower()}@example.org"


def closes_in(days):
    """The open wave (the demo's third) closes `days` days from today."""
    open_wave().closes_on = today() + timedelta(days=days)
    db.session.commit()


def remind(app, *args):
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["remind", *args])
    db.session.expire_all()
    return result


def reminders():
    return sorted(
        (code, kind)
        for code, kind in db.session.execute(
            sa.select(Household.code, Reminder.kind).join(
                Household, Household.id == Reminder.household_id
            )
        )
    )


@pytest.fixture
def foyers(demo):
    """Every demo foyer with an address of its own, then: EST-01 has sent the open wave,
    EST-02 has a draft, EST-03 has no address, EST-04 is anonymised, EST-06 erased. EST-05
    and EST-12 are accompanied (MJEP, Noeux); the foyers who left the défi keep an address.

    Returns the addresses that must be reminded: the 24 active foyers but those four.
    """
    demo_id = demo.id
    erase_household(household("EST-06"))  # expunges everything: the rest is read after
    for foyer in db.session.scalars(sa.select(Household)):
        # The second demo territory's foyers have none: `test_every_territory_is_reminded`.
        ours = foyer.challenge_id == demo_id
        foyer.email = f"{foyer.code.lower()}@example.org" if ours else ""
    wave = open_wave()
    db.session.add(
        Entry(
            household=household("EST-01"),
            wave=wave,
            status="submitted",
            submission_id=uuid.uuid4().hex,
            submitted_at=utcnow(),
        )
    )
    db.session.add(Entry(household=household("EST-02"), wave=wave, persons=3))
    household("EST-03").email = ""
    household("EST-04").anonymised_at = utcnow()
    db.session.commit()
    active = db.session.scalars(
        sa.select(Household.email).where(
            Household.status == "active", Household.challenge_id == demo_id
        )
    ).all()
    assert len(active) == 23  # the demo's 24 engaged foyers, one of them erased
    left = {address(name) for name in ("EST-01", "EST-04")}
    return set(active) - left - {""}


def plain(message):
    """The message's text (lines as SMTP carries them, CRLF), French non-breaking spaces read
    as spaces."""
    text = message.get_body(("plain",)).get_content()
    return text.replace("\r\n", "\n").replace("\u00a0", " ")


def subject(message):
    return str(message["Subject"]).replace("\u00a0", " ")


def long_date(day: date) -> str:
    number = "1er" if day.day == 1 else str(day.day)
    return f"{DAYS[day.weekday()]} {number} {MONTHS[day.month - 1]} {day.year}"


def test_seven_days_before_each_foyer_that_has_not_sent_gets_one_message(app, foyers, mailbox):
    closes_in(7)
    result = remind(app)
    assert result.exit_code == 0, result.output
    assert result.output == "reminders sent: 20 (7 days before: 20, 2 days before: 0).\n"
    recipients = mailbox.recipients()
    assert sorted(recipients) == sorted(foyers)  # each once, and no one else
    assert len(mailbox.received) == 20  # one message per foyer
    assert address("EST-02") in recipients  # a draft is not sent
    for absent in ("EST-01", "EST-03", "EST-04", "EST-06", "EST-07", "OUEST-02"):
        assert address(absent) not in recipients, absent  # sent, no address, purged, erased, left
    assert len(reminders()) == 20
    assert {kind for _code, kind in reminders()} == {7}


def test_the_message_is_french_and_names_the_wave_the_date_and_the_link(app, foyers, mailbox):
    closes_in(7)
    assert remind(app).exit_code == 0
    closing = open_wave().closes_on
    message = mailbox.to(address("EST-08"))
    assert subject(message) == "Collecte 3 — fin : plus que 7 jours pour envoyer votre relevé"
    assert message["From"].addresses[0].addr_spec == SENDER
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Content-Language"] == "fr"
    text = plain(message)
    assert text.startswith("Bonjour,\n")
    assert (
        "La collecte 3 — fin du défi « Défi Famille à alimentation positive 2021-2022 » est "
        f"ouverte jusqu'au {long_date(closing)} inclus : il vous reste 7 jours pour envoyer "
        "votre relevé." in text
    )
    assert "Votre relevé n'est pas encore commencé. Il reste à remplir :" in text
    assert "- Repas et achats\n- Questionnaire\n" in text
    assert "connectez-vous :\nhttps://defi.example.org/connexion\n" in text
    # A draft: what it still lacks.
    draft = plain(mailbox.to(address("EST-02")))
    assert "Votre relevé est commencé. Il y manque encore :" in draft
    assert "- Repas et achats : la période et le nombre de personnes" in draft
    assert "- Questionnaire : une réponse à chaque question" in draft


def test_each_message_holds_its_foyer_alone(app, foyers, mailbox):
    closes_in(7)
    assert remind(app).exit_code == 0
    others = db.session.scalars(sa.select(Household)).all()
    for rcpt_tos, message in mailbox.received:
        assert len(rcpt_tos) == 1
        own = rcpt_tos[0]
        assert [a.addr_spec for a in message["To"].addresses] == [own]
        for header in ("Cc", "Bcc", "Reply-To"):
            assert message[header] is None
        # What a reader sees: every header decoded, and the text.
        seen = "\n".join(f"{name}: {value}" for name, value in message.items())
        seen += "\n" + plain(message)
        for other in others:
            if other.email == own:
                continue
            assert other.display_name not in seen and other.code not in seen, other.code
            assert not other.email or other.email not in seen, other.code


def test_an_accompanied_foyer_gets_its_reminder_and_no_one_else_a_copy(app, foyers, mailbox):
    closes_in(7)
    accompanied = household("EST-12")
    assert accompanied.accompaniment is not None
    assert remind(app).exit_code == 0
    message = mailbox.to(address("EST-12"))
    recipients = [
        addr.addr_spec
        for header in ("To", "Cc", "Bcc", "Reply-To")
        for addr in (message[header].addresses if message[header] else ())
    ]
    assert recipients == [address("EST-12")]
    # Only its own address received it: no facilitator, no referent, no other foyer.
    assert [rcpt for rcpt, m in mailbox.received if m is message] == [[address("EST-12")]]
    seen = "\n".join(f"{name}: {value}" for name, value in message.items()) + plain(message)
    assert accompanied.accompaniment.label not in seen
    assert "animateur-est" not in seen and "referent" not in seen


def test_a_second_run_sends_nothing(app, foyers, mailbox):
    closes_in(7)
    assert remind(app).exit_code == 0
    again = remind(app)
    assert again.exit_code == 0
    assert again.output == "reminders sent: 0 (7 days before: 0, 2 days before: 0).\n"
    assert len(mailbox.received) == 20


def test_two_days_before_the_second_reminder_goes_once(app, foyers, mailbox):
    closes_in(7)
    assert remind(app).exit_code == 0
    closes_in(3)  # between the two: nothing due
    assert remind(app).output.startswith("reminders sent: 0 ")
    closes_in(2)
    result = remind(app)
    assert result.exit_code == 0
    assert result.output == "reminders sent: 20 (7 days before: 0, 2 days before: 20).\n"
    second = mailbox.received[20:]
    assert sorted(rcpt for rcpt_tos, _m in second for rcpt in rcpt_tos) == sorted(foyers)
    message = next(m for rcpt_tos, m in second if rcpt_tos == [address("EST-08")])
    assert subject(message) == "Collecte 3 — fin : plus que 2 jours pour envoyer votre relevé"
    assert "il vous reste 2 jours pour envoyer votre relevé." in plain(message)
    assert remind(app).output.startswith("reminders sent: 0 ")
    assert len(mailbox.received) == 40


def test_a_foyer_that_sends_meanwhile_gets_no_second_reminder(app, foyers, mailbox):
    closes_in(7)
    assert remind(app).exit_code == 0
    entry = db.session.scalar(
        sa.select(Entry).where(
            Entry.household_id == household("EST-02").id, Entry.wave_id == open_wave().id
        )
    )
    entry.status = "submitted"
    entry.submission_id = uuid.uuid4().hex
    closes_in(2)
    assert remind(app).exit_code == 0
    assert mailbox.recipients().count(address("EST-02")) == 1
    assert len(mailbox.received) == 39


def test_a_missed_day_still_sends_the_reminder_due_once(app, foyers, mailbox):
    closes_in(5)  # the cron did not run at 7 days: the 7-day reminder goes now
    result = remind(app)
    assert result.output == "reminders sent: 20 (7 days before: 20, 2 days before: 0).\n"
    assert "il vous reste 5 jours" in plain(mailbox.to(address("EST-08")))
    closes_in(4)
    assert remind(app).output.startswith("reminders sent: 0 ")
    closes_in(1)
    result = remind(app)
    assert result.output == "reminders sent: 20 (7 days before: 0, 2 days before: 20).\n"
    assert len(mailbox.received) == 40


def test_at_two_days_or_less_only_the_two_day_reminder_goes_never_the_seven_after(
    app, foyers, mailbox
):
    closes_in(0)  # the last day, nothing sent yet
    result = remind(app)
    assert result.output == "reminders sent: 20 (7 days before: 0, 2 days before: 20).\n"
    last = mailbox.to(address("EST-08"))
    assert subject(last) == "Collecte 3 — fin : dernier jour pour envoyer votre relevé"
    assert "c'est le dernier jour pour envoyer votre relevé." in plain(last)
    closes_in(6)  # the pilot extends the wave: the 7-day reminder does not follow the 2-day one
    assert remind(app).output.startswith("reminders sent: 0 ")
    assert {kind for _code, kind in reminders()} == {2}
    assert len(mailbox.received) == 20


@pytest.mark.parametrize(
    ("days_left", "sent", "due"),
    [
        (8, set(), None),
        (7, set(), 7),
        (5, set(), 7),
        (3, {7}, None),
        (2, {7}, 2),
        (2, set(), 2),
        (0, set(), 2),
        (1, {2}, None),
        (6, {2}, None),
        (-1, set(), None),
    ],
)
def test_which_reminder_is_due(days_left, sent, due):
    assert kind_due(days_left, sent) == due


def test_a_closed_wave_or_none_open_sends_nothing(app, foyers, mailbox):
    wave = open_wave()
    wave.closes_on = today() + timedelta(days=7)
    wave.manual_state = "closed"  # the pilot closed it by hand
    result = remind(app)
    assert result.exit_code == 0
    assert result.output.startswith("reminders sent: 0 ")
    assert mailbox.received == []


def test_a_foyer_enrolled_during_the_wave_is_reminded(app, foyers, mailbox):
    """The app expects a foyer to fill the first wave still open when it joined
    (`collecte.services.joined_rank`): one enrolled today is reminded of the open wave."""
    from defi.households import create_household

    newcomer = create_household(
        household("EST-08").group, display_name="Famille Nouvelle", email="nouvelle@example.org"
    )
    db.session.add(newcomer)
    closes_in(7)
    assert remind(app).exit_code == 0
    assert "nouvelle@example.org" in mailbox.recipients()
    assert len(mailbox.received) == 21


def test_dry_run_lists_and_sends_nothing(app, foyers, mailbox):
    closes_in(7)
    result = remind(app, "--dry-run")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[-1] == "reminders due: 20 (dry run: nothing sent)."
    assert f"would send: {demo_code('EST-12')}, 7 days before wave 3" in lines
    assert len(lines) == 21
    assert mailbox.received == []
    assert reminders() == []


def test_without_mail_server_it_says_so_and_sends_nothing(app, foyers, mailbox):
    app.config["MAIL_SERVER"] = ""
    closes_in(7)
    result = remind(app)
    assert result.exit_code == 1
    assert result.output == "Error: MAIL_SERVER is not set. No reminder sent.\n"
    assert mailbox.received == []
    assert reminders() == []
    # A dry run needs no server.
    assert remind(app, "--dry-run").exit_code == 0


def test_without_a_public_address_no_link_can_be_written(app, foyers, mailbox):
    app.config["PUBLIC_URL"] = ""
    closes_in(7)
    result = remind(app)
    assert result.exit_code == 1
    assert "DEFI_PUBLIC_URL is not set" in result.output
    assert mailbox.received == []


def test_an_unreachable_server_sends_nothing_and_records_nothing(app, foyers, mailbox):
    app.config["MAIL_PORT"] = free_port()  # nothing listens there
    closes_in(7)
    result = remind(app)
    assert result.exit_code == 1
    assert "could not be reached" in result.output
    assert "No reminder sent." in result.output
    assert reminders() == []


def test_it_logs_in_with_the_smtp_account(app, foyers, mailbox):
    closes_in(7)
    app.config.update(MAIL_USERNAME="defi", MAIL_PASSWORD="pas-le-bon")
    refused = remind(app)
    assert refused.exit_code == 1
    assert "refused the login (535 5.7.8 Authentication credentials invalid)" in refused.output
    assert "No reminder sent." in refused.output
    assert reminders() == [] and mailbox.received == []
    app.config["MAIL_PASSWORD"] = "mot-de-passe-smtp"
    sent = remind(app)
    assert sent.exit_code == 0
    assert sent.output == "reminders sent: 20 (7 days before: 20, 2 days before: 0).\n"


def test_a_refused_recipient_stops_no_other_and_is_tried_again(app, foyers, mailbox):
    mailbox.refused.add(address("EST-08"))
    closes_in(7)
    result = remind(app)
    assert result.exit_code == 1
    code = demo_code("EST-08")
    assert f"not sent to {code}: 550 5.1.1 Mailbox unavailable" in result.output
    assert f"reminders not sent: 1 ({code}); the next run tries them again." in result.output
    assert "reminders sent: 19 (7 days before: 19, 2 days before: 0)." in result.output
    assert sorted(mailbox.recipients()) == sorted(foyers - {address("EST-08")})
    assert code not in {code for code, _kind in reminders()}
    assert len(reminders()) == 19
    # The next day the server takes it: it alone goes.
    mailbox.refused.clear()
    closes_in(6)
    again = remind(app)
    assert again.exit_code == 0
    assert again.output == "reminders sent: 1 (7 days before: 1, 2 days before: 0).\n"
    assert mailbox.recipients()[-1] == address("EST-08")
    assert len(reminders()) == 20


def test_two_runs_at_once_send_each_reminder_once(app, foyers, mailbox):
    """Two crons at once, each with its own session: both read the same 20 reminders as due
    before either sends one (a barrier holds each until the other has read), then race to
    record and send them; each foyer still gets one message.

    The runs call what the command calls (click's test runner swaps `sys.stdout` for the
    whole process, so two of them cannot run in two threads)."""
    closes_in(7)
    barrier = threading.Barrier(2, timeout=30)
    outcomes = []

    def run():
        with app.app_context():
            dues = due_reminders(today())
            db.session.commit()  # end the reading transaction (SQLite's lock) before waiting
            barrier.wait()
            mailer = Mailer(app.config)
            mailer.open()
            try:
                outcomes.append(send_reminders(dues, mailer, SENDER, public_url("accounts.login")))
            finally:
                mailer.close()
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(outcomes) == 2
    assert [len(o.sent) + o.taken for o in outcomes] == [20, 20]
    assert [o.failed for o in outcomes] == [[], []]
    assert sorted(mailbox.recipients()) == sorted(foyers)  # each once
    db.session.expire_all()
    assert len(reminders()) == 20


def test_the_link_follows_the_public_address(app):
    with app.app_context():
        app.config["PUBLIC_URL"] = "https://mairie.example.org/defi/"
        assert public_url("accounts.login") == "https://mairie.example.org/defi/connexion"
        app.config["PUBLIC_URL"] = "http://localhost:5000"
        assert public_url("accounts.login") == "http://localhost:5000/connexion"


def test_a_foyer_erased_leaves_no_reminder_behind(app, foyers, mailbox):
    closes_in(7)
    assert remind(app).exit_code == 0
    target = household("EST-08")
    target_id = target.id
    erase_household(target)
    db.session.commit()
    left = db.session.scalar(
        sa.select(sa.func.count(Reminder.id)).where(Reminder.household_id == target_id)
    )
    assert left == 0
