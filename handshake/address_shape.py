"""Which of Hint's two names for a patient's street lines a practice's Hint uses, remembered.

Hint's API description writes `address_line1`/`address_line2`; the go-hint client, used in
production, `address_line_1`/`address_line_2`. We read both and write the one the practice's
Hint last returned, so an address never syncs blank because Hint ignored a name it does not know.
"""

from typing import Any

from handshake.models import Practice
from hintpartner.hint import api
from hintpartner.hint.paths import ADDRESS_SHAPE_DEFAULT


def practice_address_shape_learn(*, practice: Practice, patient: Any) -> str:
    """Remember the shape of a patient object Hint returned; an UPDATE only when it changed
    (nothing on the webhook path while Hint keeps answering the same way). The shape seen."""
    shape = api.address_shape_of(patient)
    if shape and shape != practice.address_shape:
        Practice.objects.filter(pk=practice.pk).update(address_shape=shape)
        practice.address_shape = shape
    return shape


def practice_address_shape(practice: Any) -> str:
    """The shape to write for `practice` (Hint's documented one until a patient was read)."""
    return getattr(practice, "address_shape", "") or ADDRESS_SHAPE_DEFAULT
