"""Setting a défi up: the défi and its waves, its groups, its questionnaire, next year's copy.

Services flush, never commit.
"""

import re
import unicodedata
from datetime import date

import sqlalchemy as sa

from defi.accounts.services import record_staff_event
from defi.extensions import db
from defi.models import Challenge
from defi.models import Choice
from defi.models import Group
from defi.models import Membership
from defi.models import Question
from defi.models import Wave
from defi.models.challenge import make_current
from defi.questionnaire import seed_default_questions
from defi.territories import my_territory_id


def create_challenge(territory_id: int, name: str, dates: list[tuple[date, date]]) -> Challenge:
    """A new défi of the territory with its 2 or 3 waves and the source's questionnaire; it
    becomes the territory's current one (the pilot creates it to run it, and can choose another
    again)."""
    challenge = Challenge(territory_id=territory_id, name=name)
    challenge.waves = [
        Wave(rank=rank, opens_on=opens, closes_on=closes)
        for rank, (opens, closes) in enumerate(dates, start=1)
    ]
    db.session.add(challenge)
    db.session.flush()
    seed_default_questions(challenge)
    make_current(challenge)
    return challenge


def challenges() -> list[Challenge]:
    """Every défi of the pilot's territory, the latest first."""
    return db.session.scalars(
        sa.select(Challenge)
        .where(Challenge.territory_id == my_territory_id())
        .order_by(Challenge.id.desc())
    ).all()


def add_group(challenge: Challenge, name: str, sector: str, prefix: str) -> Group:
    group = Group(challenge=challenge, name=name, sector=sector, code_prefix=prefix.upper())
    db.session.add(group)
    db.session.flush()
    return group


def questionnaire_editable(challenge: Challenge, today: date) -> bool:
    """The questions may change until the first wave opens."""
    first = challenge.waves[0] if challenge.waves else None
    return first is None or not (first.is_open(today) or first.opens_on <= today)


KEY_LENGTH = 40  # Question.key and Choice.key


def key_of(text: str) -> str:
    """ "Nouveaux goûts !" → "nouveaux_gouts": the key of a question or a choice in exports."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]+", "_", plain).strip("_")[:KEY_LENGTH] or "question"


def free_key(key: str, taken: set[str]) -> str:
    """`key`, or `key_2`, `key_3`... the first one not taken, cut to fit the column."""
    candidate, number = key, 2
    while candidate in taken:
        suffix = f"_{number}"
        candidate = key[: KEY_LENGTH - len(suffix)] + suffix
        number += 1
    return candidate


def save_question(challenge, question, text, kind, from_rank, choice_lines):
    """Create or update a question from its text, kind, first wave and one choice per line."""
    if question is None:
        others = questions_of(challenge)
        key = free_key(key_of(text), {other.key for other in others})
        question = Question(challenge_id=challenge.id, key=key)
        question.position = 1 + max((other.position for other in others), default=-1)
        db.session.add(question)
    question.text = text
    question.kind = kind
    question.from_rank = from_rank
    labels = [line.strip() for line in choice_lines.splitlines() if line.strip()]
    existing = {choice.label: choice for choice in question.choices}
    kept = []
    for position, label in enumerate(labels):
        choice = existing.get(label)
        if choice is None:
            taken = {c.key for c in question.choices} | {c.key for c in kept}
            choice = Choice(key=free_key(key_of(label), taken), label=label)
        choice.position = position
        kept.append(choice)
    question.choices = kept
    db.session.flush()
    return question


def questions_of(challenge):
    return db.session.scalars(
        sa.select(Question).where(Question.challenge_id == challenge.id).order_by(Question.position)
    ).all()


def start_next_challenge(previous: Challenge, name: str, actor=None) -> Challenge:
    """Next year's défi from this one's settings: waves a year later, the same groups and
    facilitators (each new role written to the audit trail), the same questionnaire (which the
    pilot can then change)."""
    challenge = Challenge(territory_id=previous.territory_id, name=name, previous_id=previous.id)
    challenge.waves = [
        Wave(
            rank=wave.rank, opens_on=_next_year(wave.opens_on), closes_on=_next_year(wave.closes_on)
        )
        for wave in previous.waves
    ]
    db.session.add(challenge)
    db.session.flush()
    make_current(challenge)
    for group in previous.groups:
        copy = add_group(challenge, group.name, group.sector, group.code_prefix)
        facilitators = db.session.scalars(
            sa.select(Membership).where(
                Membership.role == "facilitator", Membership.group_id == group.id
            )
        ).all()
        for membership in facilitators:
            db.session.add(
                Membership(
                    user=membership.user,
                    role="facilitator",
                    group=copy,
                    granted_by_id=actor.id if actor is not None else None,
                )
            )
            record_staff_event("granted", actor, "facilitator", subject=membership.user, group=copy)
    for question in questions_of(previous):
        copy = Question(
            challenge_id=challenge.id,
            key=question.key,
            position=question.position,
            text=question.text,
            kind=question.kind,
            from_rank=question.from_rank,
        )
        copy.choices = [
            Choice(key=choice.key, position=choice.position, label=choice.label)
            for choice in question.choices
        ]
        db.session.add(copy)
    db.session.flush()
    return challenge


def _next_year(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)
