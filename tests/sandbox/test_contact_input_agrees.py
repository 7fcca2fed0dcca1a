"""What our contact form accepts, the sandbox (Hint's rules) accepts: a property over the fields
Hint checks (email, date of birth, phones) and the US address we check (state, ZIP)."""

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sync import fieldmap
from sync.views_contacts import ContactForm
from tests.e2e.live import PRACTICE_A

pytestmark = pytest.mark.e2e

_STATES = list(fieldmap.US_STATES) + list(fieldmap.US_STATES.values())
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=24)

contact_input = st.fixed_dictionaries(
    {
        "email": st.one_of(st.emails(), _TEXT),
        "dob": st.dates(date(1900, 1, 1), date.today() + timedelta(days=60)).map(str),
        "mobile_phone": st.one_of(
            st.from_regex(r"\A\+?1? ?\(?[0-9]{3}\)?[ .-]?[0-9]{3}[ .-]?[0-9]{4}\Z"),
            st.text("0123456789 +()-.x", max_size=20),
        ),
        "state": st.one_of(st.sampled_from(_STATES), st.text("ABCDEFGHNOPRSTXYZ", max_size=3)),
        "zip_code": st.one_of(st.from_regex(r"\A[0-9]{5}(-?[0-9]{4})?\Z"), _TEXT),
        "country": st.sampled_from(["", "United States", "USA", "Canada"]),
    }
)


def _accepted_by_our_form(values: dict[str, Any]) -> dict[str, Any] | None:
    form = ContactForm({"first_name": "Prop", "last_name": "Case", **values})
    return form.cleaned_data if form.is_valid() else None


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(values=contact_input)
def test_every_value_our_form_accepts_the_sandbox_accepts(sandbox, values):
    cleaned = _accepted_by_our_form(values)
    event("accepted by our form" if cleaned is not None else "refused by our form")
    if cleaned is None:
        return
    canonical = {
        name: fieldmap.canonical_value(name, cleaned.get(name))
        for name in fieldmap.TWO_WAY_FIELDS
        if not fieldmap.is_blank(cleaned.get(name))
    }
    body = fieldmap.patient_payload(canonical)
    answer = sandbox.provider(PRACTICE_A).post(
        f"{sandbox.sandbox_url}/api/provider/patients", json=body, timeout=10
    )
    assert answer.status_code == 201, (body, answer.text)


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "ana@example"), ("dob", (date.today() + timedelta(days=2)).isoformat())],
)
def test_what_the_sandbox_refuses_our_form_refuses_first(sandbox, field, value):
    body = {"first_name": "Prop", "last_name": "Case", field: value}
    answer = sandbox.provider(PRACTICE_A).post(
        f"{sandbox.sandbox_url}/api/provider/patients", json=body, timeout=10
    )
    assert answer.status_code == 422
    assert _accepted_by_our_form({field: value}) is None
