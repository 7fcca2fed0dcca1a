"""What Hint's published API description names, and nothing more: the strict sandbox's rules.

Written from Hint's API description (publicly mirrored in the api-evangelist/hint-health
repository) and the developer guide (developers.hint.com, "Pagination"): the body fields of a
patient and a partner interaction write, the values a field may take, and the query parameters
each list accepts. In strict mode (`Config.strict`, the default) anything else is answered 422
naming it, in Hint's error shape; lenient mode ignores it, as Hint may.
"""

import re
from collections.abc import Iterable
from typing import Any

from sandbox.services import SandboxError

# Named by the description but deprecated (`gender` since March 2021): a partner must not write
# them, so strict mode refuses them like an unknown field.
DEPRECATED_PATIENT_FIELDS = frozenset({"gender", "external_link_id", "import_id", "import_source"})
# Body of POST/PATCH /api/provider/patients[/{id}] (create and update name the same fields).
PATIENT_BODY_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "middle_name",
        "title",
        "suffix",
        "chosen_first_name",
        "chosen_last_name",
        "chosen_middle_name",
        "chosen_title",
        "chosen_suffix",
        "pronouns",
        "email",
        "sex",
        "gender_identity",
        "gender_other",
        "dob",
        "lead_source",
        "practitioner",
        "location",
        "emergency_contact",
        "phones",
        "ssn",
        "health_insurance_group_id",
        "health_insurance_member_id",
        "health_insurance_payer_name",
        "health_insurance_payer_id",
        "address_line1",
        "address_line2",
        "address_city",
        "address_state",
        "address_zip",
        "address_country",
        "integration_record_id",
        "integration_error_message",
        "integration_web_link",
        "preferred_language",
        "last_engagement_date",
        "electronic_communication_consent_accepted",
        "patient_agreement_accepted",
    }
)
# POST /api/provider/patients/matching
MATCHING_BODY_FIELDS = frozenset(
    {"first_name", "last_name", "middle_name", "email", "dob", "phones"}
)
# POST/PATCH …/interactions/partner[/{id}]; `partner_product_id` is in the reference (several
# products of one partner in a practice), not in the description's body.
INTERACTION_BODY_FIELDS = frozenset(
    {
        "status",
        "title",
        "integration_record_id",
        "integration_error_message",
        "integration_web_link",
        "partner_product_id",
    }
)
PHONE_FIELDS = frozenset({"id", "number", "type", "us_formattable"})
# The go-hint client's names for the street lines, accepted instead of the description's when
# the sandbox answers in that shape (`Config.address_shape`).
ADDRESS_SHAPES = {
    "address_line1": ("address_line1", "address_line2"),
    "address_line_1": ("address_line_1", "address_line_2"),
}


def patient_body_fields(shape: str) -> frozenset[str]:
    """PATIENT_BODY_FIELDS with the street lines named as `shape` names them."""
    lines = ADDRESS_SHAPES.get(shape, ADDRESS_SHAPES["address_line1"])
    return (PATIENT_BODY_FIELDS - set(ADDRESS_SHAPES["address_line1"])) | set(lines)


# The partner API's registration bodies ("Registering the app with Hint"): each wrapped in its
# object (`{"partner": {…}}`, `{"app": {…}}`, `{"anchor": {…}}`). The `localhost_*` twins are
# the product's laptop URLs (plain http, sandbox partners only).
PARTNER_BODY_FIELDS = frozenset(
    {
        "name",
        "email",
        "auth_type",
        "redirect_url",
        "localhost_redirect_url",
        "localhost_webhook_url",
    }
)
APP_BODY_FIELDS = frozenset({"name", "handshake_url", "localhost_handshake_url", "role_mappings"})
ANCHOR_BODY_FIELDS = frozenset(
    {"type", "source_url", "localhost_source_url", "settings_label", "interaction_type"}
)
AUTH_TYPES = ("automatic_headless", "automatic", "headless", "manual")
ANCHOR_TYPES = ("core_page", "settings", "clinical_chart", "clinical_interaction")
ADDRESS_SHAPE_NAMES = tuple(ADDRESS_SHAPES)

SEXES = ("male", "female", "intersex")
GENDER_IDENTITIES = ("man", "woman", "trans man", "trans woman", "nonbinary", "not listed")
GENDER_NOT_LISTED = "not listed"
PHONE_TYPES = ("mobile", "home", "office")
LANGUAGES = ("en", "es")
INTERACTION_STATUSES = ("draft", "signed", "addended", "deleted", "failed")

# Query parameters. The description names `limit`, `offset` and `filter` on the patient list;
# the developer guide adds one `sort`, case-insensitive string filters and timestamp filters in
# two encodings (`updated_at[gt]=…` and `updated_at={"gt": …}`).
TIME_OPS = ("gt", "gte", "lt", "lte")
PAGING = ("limit", "offset", "sort")


def _time_params(*fields: str) -> set[str]:
    return {f"{field}[{op}]" for field in fields for op in TIME_OPS} | set(fields)


PATIENT_LIST_PARAMS = frozenset(
    {*PAGING, "filter", "first_name", "last_name", "middle_name", "email", "dob"}
    | {"integration_record_id"}
    | _time_params("updated_at", "created_at")
)
INTERACTION_LIST_PARAMS = frozenset(
    {*PAGING, "patient_id", "type", "integration_record_id"} | _time_params("updated_at")
)
INSTALLATION_LIST_PARAMS = frozenset({*PAGING, "status"})


def unknown_names(names: Iterable[str], known: frozenset[str], *, strict: bool, what: str) -> None:
    """422 naming every name `known` does not hold (strict mode only)."""
    extra = sorted(set(names) - known)
    if strict and extra:
        plural = "s" if len(extra) > 1 else ""
        raise SandboxError(
            422, f"Validation failed: unknown or deprecated {what}{plural} {', '.join(extra)}"
        )


def digits(number: Any) -> str:
    return re.sub(r"\D", "", str(number))


def phone_check(item: Any) -> dict[str, Any]:
    """One entry of `phones`, as Hint's description states it: `type` and `number` required,
    `us_formattable` a boolean, false when the number is not exactly 10 digits."""
    if not isinstance(item, dict):
        raise SandboxError(422, "Validation failed: Phones must be objects")
    number = item.get("number")
    if isinstance(number, bool) or not isinstance(number, str | int):
        raise SandboxError(422, "Validation failed: Phone number can't be blank")
    number = str(number).strip()
    if not number:
        raise SandboxError(422, "Validation failed: Phone number can't be blank")
    kind = item.get("type")
    if kind not in PHONE_TYPES:
        raise SandboxError(
            422, f"Validation failed: Phone type {kind!r} is not included in the list"
        )
    formattable = item.get("us_formattable", True)
    if not isinstance(formattable, bool):
        raise SandboxError(422, "Validation failed: Phone us_formattable must be true or false")
    if formattable and len(digits(number)) != 10:
        raise SandboxError(
            422,
            f"Validation failed: Phone number {number} is not 10 digits; "
            "send us_formattable: false",
        )
    return {"type": kind, "number": number, "us_formattable": formattable}
