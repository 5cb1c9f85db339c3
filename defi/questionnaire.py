"""The défi's questionnaire: the source's three questions, seeded into every new défi."""

from defi.extensions import db
from defi.models import Choice
from defi.models import Question

# (key, text, kind, from_rank, [(choice key, label), ...]) — the source document's questions.
DEFAULT_QUESTIONS = (
    (
        "manger_mieux",
        "En mangeant local, est-ce que j'ai réussi à manger mieux ?",
        "multiple",
        1,
        (
            ("manger_mieux", "Manger mieux"),
            ("nouveaux_aliments", "Nouveaux aliments"),
            ("nouveaux_gouts", "Nouveaux goûts"),
            ("plus_equilibre", "Plus équilibré"),
            ("meilleur_sante", "Meilleur pour ma santé"),
        ),
    ),
    (
        "j_agis_sur",
        "Pour réduire l'impact de mon alimentation, j'agis sur :",
        "multiple",
        1,
        (
            ("achats_locaux", "Achats locaux"),
            ("bio", "Bio (AB)"),
            ("autres_labels", "Autres labels"),
            ("saison", "Produits de saison"),
            ("diversifiee", "Alimentation plus diversifiée"),
            ("gaspillage", "Gaspillage alimentaire"),
            ("compostage", "Compostage"),
        ),
    ),
    (
        "maintien",
        "Avez-vous réussi à maintenir vos actions depuis la dernière collecte ?",
        "single",
        2,
        (
            ("mieux", "Mieux"),
            ("identique", "À l'identique"),
            ("moins_bien", "Moins bien"),
        ),
    ),
)


def seed_default_questions(challenge):
    """Give a new défi the source's questionnaire, which the pilot can then edit."""
    for position, (key, text, kind, from_rank, choices) in enumerate(DEFAULT_QUESTIONS):
        question = Question(
            challenge_id=challenge.id,
            key=key,
            position=position,
            text=text,
            kind=kind,
            from_rank=from_rank,
        )
        question.choices = [
            Choice(key=choice_key, position=index, label=label)
            for index, (choice_key, label) in enumerate(choices)
        ]
        db.session.add(question)
    db.session.flush()
