"""The referent's forms: enrolling an accompanied foyer in a group."""

from wtforms import SelectField
from wtforms.validators import InputRequired

from defi.formatting import lazy_gettext as _l
from defi.groups.forms import HouseholdInvitationForm


class AccompaniedHouseholdForm(HouseholdInvitationForm):
    """A foyer's details, the group it joins, the structure that accompanies it, and how long
    its printed code stays valid."""

    group_id = SelectField(
        _l("Groupe"), coerce=int, validators=[InputRequired(_l("Choisissez un groupe."))]
    )
    structure_id = SelectField(
        _l("Structure qui accompagne le foyer"),
        coerce=int,
        validators=[InputRequired(_l("Choisissez une structure."))],
    )
