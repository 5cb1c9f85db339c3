"""The data model of DESIGN.md, one module per feature, all importable from here."""

from defi.models.accounts import AuditEvent
from defi.models.accounts import Invitation
from defi.models.accounts import Membership
from defi.models.accounts import User
from defi.models.calendar import Attendance
from defi.models.calendar import Event
from defi.models.calendar import event_groups
from defi.models.challenge import Accompaniment
from defi.models.challenge import Challenge
from defi.models.challenge import Group
from defi.models.challenge import Household
from defi.models.challenge import RetiredCode
from defi.models.challenge import Structure
from defi.models.challenge import Territory
from defi.models.challenge import Wave
from defi.models.collecte import Answer
from defi.models.collecte import Choice
from defi.models.collecte import Entry
from defi.models.collecte import EntryChange
from defi.models.collecte import OfflineAdd
from defi.models.collecte import Producer
from defi.models.collecte import Purchase
from defi.models.collecte import Question
from defi.models.collecte import Recipe
from defi.models.collecte import Reminder
from defi.models.collecte import Weighing
from defi.models.figures import ChallengeFiguresVersion
from defi.models.figures import FiguresVersion

__all__ = [
    "Accompaniment",
    "Answer",
    "Attendance",
    "AuditEvent",
    "Challenge",
    "ChallengeFiguresVersion",
    "Choice",
    "Entry",
    "EntryChange",
    "OfflineAdd",
    "FiguresVersion",
    "Event",
    "Group",
    "Household",
    "Invitation",
    "Membership",
    "Producer",
    "Purchase",
    "Question",
    "Recipe",
    "Reminder",
    "RetiredCode",
    "Structure",
    "Territory",
    "User",
    "Wave",
    "Weighing",
    "event_groups",
]
