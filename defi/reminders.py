"""The reminders that go out by themselves (`defi remind`, run every day by cron).

Each foyer of the current défi that has an e-mail address, takes part (active, not anonymised)
and has not sent the open wave's relevé (a draft is not sent) gets one e-mail 7 days, then one
2 days, before the wave closes. A day the command did not run is caught up once: at 5 days left
the 7-day reminder goes if it never went; from 2 days left only the 2-day one goes. Each message
goes to one foyer alone, never with a copy to its facilitator or referent, and says nothing of
another foyer.

Every reminder is recorded (`Reminder`, unique per foyer, wave and kind) and committed *before*
it is handed to the SMTP server, then removed if the server refuses it: a second run, or two at
once, never sends one twice; a refused one is tried again at the next run. A run killed between
the two loses that reminder rather than risk sending it twice.

SMTP is the standard library's `smtplib`: one plain message per foyer needs no more.
"""

import contextlib
import smtplib
import ssl
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate
from email.utils import make_msgid
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import format_date

from defi.collecte.services import joined_rank
from defi.collecte.services import missing_parts
from defi.collecte.services import questions_for
from defi.extensions import db
from defi.figures.sums import sums_for
from defi.formatting import gettext as _
from defi.formatting import nbsp
from defi.formatting import ngettext
from defi.models import Challenge
from defi.models import Entry
from defi.models import Household
from defi.models import Reminder
from defi.models.collecte import REMINDER_KINDS

# Seconds to wait for the SMTP server before giving up on a message.
SMTP_TIMEOUT = 30


class CannotSend(Exception):
    """A setting the reminders need is missing or wrong, or the SMTP server does not answer:
    nothing is sent."""


@dataclass
class Due:
    """A reminder to send, with everything its message says (read before anything is sent)."""

    household_id: int
    code: str
    email: str
    wave_id: int
    wave_rank: int
    wave_label: str
    challenge_name: str
    closes_on: date
    days_left: int
    kind: int
    started: bool
    missing: list[str] = field(default_factory=list)


def kind_due(days_left: int, sent: set[int]) -> int | None:
    """The reminder due `days_left` days before the wave closes, given the kinds already sent.

    The nearest kind that `days_left` has reached, unless it or a nearer one went already:
    at 5 days the 7-day one (if neither went), at 2 days or less the 2-day one, and never
    the 7-day one after the 2-day one.
    """
    for kind in sorted(REMINDER_KINDS):
        if 0 <= days_left <= kind:
            return None if any(other <= kind for other in sent) else kind
    return None


def due_reminders(today: date) -> list[Due]:
    """The reminders due today, for the open waves of each territory's current défi."""
    current = sa.select(Challenge).where(Challenge.is_current).order_by(Challenge.territory_id)
    dues = []
    for challenge in db.session.scalars(current).all():
        for wave in challenge.waves:
            days_left = (wave.closes_on - today).days
            if wave.is_open(today) and 0 <= days_left <= max(REMINDER_KINDS):
                dues += due_for_wave(challenge, wave, days_left)
    return dues


def not_sent(challenge, wave) -> list[Household]:
    """The foyers that take part, have an address and have not sent the wave's relevé."""
    submitted = sa.select(Entry.household_id).where(
        Entry.wave_id == wave.id, Entry.status == "submitted"
    )
    return db.session.scalars(
        sa.select(Household)
        .where(
            Household.challenge_id == challenge.id,
            Household.status == "active",
            Household.anonymised_at.is_(None),
            sa.func.trim(Household.email) != "",
            Household.id.not_in(submitted),
        )
        .order_by(Household.code)
    ).all()


def due_for_wave(challenge, wave, days_left: int) -> list[Due]:
    sent: dict[int, set[int]] = {}
    for household_id, kind in db.session.execute(
        sa.select(Reminder.household_id, Reminder.kind).where(Reminder.wave_id == wave.id)
    ):
        sent.setdefault(household_id, set()).add(kind)
    drafts = sa.select(Entry).where(Entry.wave_id == wave.id, Entry.status == "draft")
    entries = {entry.household_id: entry for entry in db.session.scalars(drafts)}
    sums = sums_for(drafts.with_only_columns(Entry.id))
    questions: dict[int, list] = {}  # by the rank of the foyer's first wave
    dues = []
    for household in not_sent(challenge, wave):
        kind = kind_due(days_left, sent.get(household.id, set()))
        if kind is None:
            continue
        # The app's notion of the waves a foyer is expected to fill: from the first one still
        # open when it joined (while a wave is open, every foyer enrolled is expected in it).
        joined = joined_rank(household)
        if joined > wave.rank:
            continue
        if joined not in questions:
            questions[joined] = questions_for(wave, joined)
        entry = entries.get(household.id)
        dues.append(
            Due(
                household_id=household.id,
                code=household.code,
                email=household.email.strip(),
                wave_id=wave.id,
                wave_rank=wave.rank,
                wave_label=wave.label,
                challenge_name=challenge.name,
                closes_on=wave.closes_on,
                days_left=days_left,
                kind=kind,
                started=entry is not None,
                missing=missing_parts(
                    entry, sums.get(entry.id) if entry else None, questions[joined]
                ),
            )
        )
    return dues


def public_url(endpoint: str, **values) -> str:
    """The address of a page as a foyer reaches it, from `PUBLIC_URL` (no request to read it
    from: the command runs from cron)."""
    base = urlsplit(current_app.config["PUBLIC_URL"])
    if base.scheme not in ("http", "https") or not base.netloc:
        raise CannotSend(
            "DEFI_PUBLIC_URL is not set to the site's address (e.g. https://defi.example.org): "
            "the reminders could not link to it."
        )
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


def login_link(config, sending: bool) -> str:
    """The login page's address for the messages, once the settings they need are checked."""
    if sending:
        for setting in ("MAIL_SERVER", "MAIL_FROM"):
            if not config[setting]:
                raise CannotSend(f"{setting} is not set.")
    return public_url("accounts.login")


def long_date(day: date) -> str:
    """date(2024, 9, 1) → "dimanche 1er septembre 2024"."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"{format_date(day, 'EEEE')} {number} {format_date(day, 'MMMM y')}"


def compose(due: Due, sender: str, login_url: str) -> EmailMessage:
    """The French message of a reminder, to the foyer alone (ValueError: a bad address)."""
    if due.days_left == 0:
        subject = _("dernier jour pour envoyer votre relevé")
        left = _("c'est le dernier jour pour envoyer votre relevé.")
    else:
        subject = ngettext(
            "plus que %(num)d jour pour envoyer votre relevé",
            "plus que %(num)d jours pour envoyer votre relevé",
            due.days_left,
        )
        left = ngettext(
            "il vous reste %(num)d jour pour envoyer votre relevé.",
            "il vous reste %(num)d jours pour envoyer votre relevé.",
            due.days_left,
        )
    collecte = _("Collecte %(rank)d — %(label)s", rank=due.wave_rank, label=due.wave_label)
    lines = [
        _("Bonjour,"),
        "",
        _(
            "La collecte %(rank)d — %(label)s du défi « %(challenge)s » est ouverte "
            "jusqu'au %(date)s inclus :",
            rank=due.wave_rank,
            label=due.wave_label,
            challenge=due.challenge_name,
            date=long_date(due.closes_on),
        )
        + " "
        + left,
        "",
    ]
    if not due.missing:
        lines.append(_("Votre relevé est complet : il ne reste plus qu'à l'envoyer."))
    else:
        if due.started:
            lines.append(_("Votre relevé est commencé. Il y manque encore :"))
        else:
            lines.append(_("Votre relevé n'est pas encore commencé. Il reste à remplir :"))
        lines += [f"- {part}" for part in due.missing]
    lines += [
        "",
        _("Pour le remplir et l'envoyer, connectez-vous :"),
        login_url,
        "",
        _(
            "Mot de passe perdu, ou pas encore de compte ? La personne qui vous suit dans le "
            "défi peut vous donner un code d'invitation."
        ),
        "",
        "-- ",
        _(
            "Ce message part tout seul, 7 jours puis 2 jours avant la fin d'une collecte, vers "
            "les foyers qui n'ont pas encore envoyé leur relevé. Une fois le vôtre envoyé, "
            "vous n'en recevrez plus."
        ),
    ]
    message = EmailMessage()
    message["Subject"] = str(nbsp(f"{collecte} : {subject}"))
    message["From"] = sender
    message["To"] = due.email
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=urlsplit(login_url).hostname)
    # RFC 3834: no vacation reply or other automatic answer to a message sent by a program.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(str(nbsp("\n".join(lines))) + "\n")
    message["Content-Language"] = "fr"  # after set_content, which sets the Content-* headers
    return message


class Mailer:
    """One connection to the SMTP server of the settings (MAIL_*), opened again if it drops."""

    def __init__(self, config):
        self.config = config
        self.smtp = None

    def open(self):
        """Reach the server before anything is recorded: if it does not answer, say so."""
        try:
            self.connect()
        except (smtplib.SMTPException, OSError) as error:
            config = self.config
            raise CannotSend(
                f"The SMTP server {config['MAIL_SERVER']}:{config['MAIL_PORT']} could not be "
                f"reached or refused the login ({why(error)})."
            ) from None

    def connect(self):
        config = self.config
        host, port = config["MAIL_SERVER"], config["MAIL_PORT"]
        if config["MAIL_USE_SSL"]:
            context = ssl.create_default_context()
            smtp = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
        try:
            if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
                smtp.starttls(context=ssl.create_default_context())
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        except (smtplib.SMTPException, OSError):
            smtp.close()
            raise
        self.smtp = smtp

    def send(self, message: EmailMessage):
        if self.smtp is None:
            self.connect()
        try:
            self.smtp.send_message(message)
        except smtplib.SMTPException as error:
            # A refusal (SMTPRecipientsRefused...) leaves the connection ready for the next.
            if isinstance(error, smtplib.SMTPServerDisconnected):
                self.drop()
            raise
        except OSError:
            # The network failed (SMTPException is an OSError too, hence the order above).
            self.drop()
            raise

    def drop(self):
        """Forget a broken connection: the next message opens a new one."""
        self.smtp.close()
        self.smtp = None

    def close(self):
        if self.smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.smtp.quit()
            self.smtp = None


def why(error: Exception) -> str:
    """An SMTP failure in a line, without the recipient's address."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(error.recipients.values()))
        return f"{code} {text.decode(errors='replace')}"
    if isinstance(error, smtplib.SMTPResponseException):
        text = error.smtp_error
        text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        return f"{error.smtp_code} {text}"
    return str(error) or type(error).__name__


@dataclass
class Outcome:
    sent: list[Due] = field(default_factory=list)
    failed: list[tuple[Due, str]] = field(default_factory=list)
    # Sent meanwhile by another run (the unique key refused this run's record).
    taken: int = 0


def claim(due: Due) -> bool:
    """Record the reminder before it leaves; False if another run recorded it first."""
    db.session.add(Reminder(household_id=due.household_id, wave_id=due.wave_id, kind=due.kind))
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        return False
    return True


def release(due: Due):
    """Forget a reminder the server refused, so that the next run tries it again."""
    db.session.execute(
        sa.delete(Reminder).where(
            Reminder.household_id == due.household_id,
            Reminder.wave_id == due.wave_id,
            Reminder.kind == due.kind,
        )
    )
    db.session.commit()


def send_reminders(dues: list[Due], mailer: Mailer, sender: str, login_url: str) -> Outcome:
    """Send each reminder on its own, recording it first; a refusal stops no other.

    Commits once per reminder (unlike a service): the record must be visible to another run
    before the message leaves, and no transaction (on SQLite, the write lock) stays open while
    the SMTP server answers.
    """
    outcome = Outcome()
    db.session.commit()  # end the transaction that read what is due
    for due in dues:
        try:
            message = compose(due, sender, login_url)
        except ValueError as error:  # an address a header cannot hold
            outcome.failed.append((due, str(error)))
            continue
        if not claim(due):
            outcome.taken += 1
            continue
        try:
            mailer.send(message)
        except (smtplib.SMTPException, OSError) as error:
            release(due)
            outcome.failed.append((due, why(error)))
        else:
            outcome.sent.append(due)
    return outcome
