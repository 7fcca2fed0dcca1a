"""Every Hint path, header and field name this app uses, in one place.

Hint's contract moves: a correction here is a one-line change.
"""

import json
from datetime import datetime

# Sent on every /api/partner/installations* and /api/partner/webhook_endpoints call.
MARKETPLACE_VERSION_HEADER = ("Hint-Version", "marketplace_endpoints")

# name -> (method, path template); paths under MARKETPLACE_PATH_PREFIXES also get the header above
PATHS: dict[str, tuple[str, str]] = {
    # partner key
    "installation_connect": ("POST", "/api/partner/installations/connect"),
    "installation_activate": ("POST", "/api/partner/installations/{id}/activate"),
    "installation_deactivate": ("POST", "/api/partner/installations/{id}/deactivate"),
    "webhook_endpoint_create": ("POST", "/api/partner/webhook_endpoints"),
    "webhook_events": ("GET", "/api/partner/webhook_events"),
    "webhook_endpoints": ("GET", "/api/partner/webhook_endpoints"),
    "webhook_requests": ("GET", "/api/partner/webhook_requests"),  # failed deliveries
    # the app's registration with Hint ("Registering the app with Hint"): hint_setup, hint_doctor
    "partner": ("GET", "/api/partner/partner"),
    "partner_update": ("PATCH", "/api/partner/partner"),
    "app": ("GET", "/api/partner/app"),
    "app_update": ("PATCH", "/api/partner/app"),
    "app_anchors": ("GET", "/api/partner/app/anchors"),
    "app_anchor_create": ("POST", "/api/partner/app/anchors"),
    # Not in Hint's list of four; tried only when Hint refuses a second POST for a surface.
    "app_anchor_update": ("PATCH", "/api/partner/app/anchors/{id}"),
    "app_services": ("GET", "/api/partner/app/services"),
    # practice token or session-scoped token
    "patients": ("GET", "/api/provider/patients"),
    "patient_create": ("POST", "/api/provider/patients"),
    "patient": ("GET", "/api/provider/patients/{id}"),
    "patient_update": ("PATCH", "/api/provider/patients/{id}"),
    "patient_matching": ("POST", "/api/provider/patients/matching"),
    "interaction_create": ("POST", "/api/provider/patients/{patient_id}/interactions/partner"),
    "interaction_update": (
        "PATCH",
        "/api/provider/patients/{patient_id}/interactions/partner/{id}",
    ),
    "interactions": ("GET", "/api/provider/interactions"),
}

MARKETPLACE_PATH_PREFIXES = ("/api/partner/installations", "/api/partner/webhook_endpoints")

# Lists: Hint answers a bare JSON array; these headers carry counts.
TOTAL_COUNT_HEADER = "X-Total-Count"
COUNT_HEADER = "X-Count"
PAGE_SIZE = 100  # Hint's maximum `limit`

# Timestamp filter on lists. Hint's guide writes `updated_at[gt]=…`, its reference a JSON object;
# the sandbox accepts both, and we send the guide's form.
UPDATED_AT_FILTER_STYLE = "brackets"  # or "json"


def updated_after_params(since: datetime) -> dict[str, str]:
    """Query parameters for 'updated strictly after `since`'."""
    value = since.isoformat()
    if UPDATED_AT_FILTER_STYLE == "json":
        return {"updated_at": json.dumps({"gt": value})}
    return {"updated_at[gt]": value}


# Patient fields, as Hint names them (read and write unless noted).
PATIENT_ID = "id"
PATIENT_FIELDS = {
    "title": "title",
    "first_name": "first_name",
    "middle_name": "middle_name",
    "last_name": "last_name",
    "dob": "dob",
    "sex": "sex",
    "gender_identity": "gender_identity",
    "gender_other": "gender_other",  # the person's words when gender_identity is "not listed"
    "gender_deprecated": "gender",  # read only: Hint deprecated it, never write it
    "email": "email",
    "phones": "phones",  # [{"type": "mobile"|"home"|"office", "number": "…", "us_formattable"}]
    "address_line1": "address_line1",  # or ADDRESS_SHAPES below, per practice
    "address_line2": "address_line2",
    "address_city": "address_city",
    "address_state": "address_state",
    "address_zip": "address_zip",
    "address_country": "address_country",
    # read only for us
    "practitioner": "practitioner",  # {"id", "name"}
    "insurance_payer": "health_insurance_payer_name",
    "insurance_group_id": "health_insurance_group_id",
    "insurance_member_id": "health_insurance_member_id",
    # "Member contract" in the Salesforce guide; most likely this field (unconfirmed by Hint).
    "member_contract_accepted": "patient_agreement_accepted",
    "member_contract_accepted_at": "patient_agreement_accepted_at",
    "hipaa_accepted": "hipaa_authorization_accepted",
    "hipaa_accepted_at": "hipaa_authorization_accepted_at",
    "membership_status": "membership_status",
    "provider_web_link": "provider_web_link",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "archived": "archived",
}
# Two names for the street lines: Hint's API description and examples write `address_line1`,
# the go-hint client `address_line_1`. Read both; write the one the practice's Hint returned.
ADDRESS_SHAPES: dict[str, tuple[str, str]] = {
    "address_line1": ("address_line1", "address_line2"),
    "address_line_1": ("address_line_1", "address_line_2"),
}
ADDRESS_SHAPE_DEFAULT = "address_line1"
PHONE_TYPES = ("mobile", "home", "office")
# False when a number is not exactly 10 digits (Hint's API description).
PHONE_US_FORMATTABLE = "us_formattable"
# Hint's values for `gender_identity`; with "not listed", the person's words go in gender_other.
GENDER_NOT_LISTED = "not listed"
GENDER_IDENTITIES = ("man", "woman", "trans man", "trans woman", "nonbinary", GENDER_NOT_LISTED)

# Integration fields a partner writes on patients and interactions.
INTEGRATION_RECORD_ID = "integration_record_id"
INTEGRATION_WEB_LINK = "integration_web_link"
INTEGRATION_ERROR_MESSAGE = "integration_error_message"

# The app's registration with Hint (partner key). Bodies are wrapped: {"partner": {…}},
# {"app": {…}}, {"anchor": {…}}; answers may come wrapped or bare (read both).
PARTNER_WRAPPER = "partner"
APP_WRAPPER = "app"
ANCHOR_WRAPPER = "anchor"
PARTNER_AUTH_TYPE = "auth_type"
AUTH_TYPE_WANTED = "automatic_headless"  # Hint posts the install code (headless) and redirects
PARTNER_REDIRECT_URL = "redirect_url"
APP_HANDSHAKE_URL = "handshake_url"
ANCHOR_TYPE = "type"
ANCHOR_SOURCE_URL = "source_url"
# The settings anchor's name in Hint's menus (Hint's audit: MEDIUM when it is missing, and the
# tab then shows the app's generic name).
ANCHOR_SETTINGS_LABEL = "settings_label"
SETTINGS_SURFACE = "settings"
SURFACES = ("core_page", SETTINGS_SURFACE, "clinical_chart", "clinical_interaction")
# Our routes, as Hint must know them (relative to APP_URL).
CONNECT_PATH = "/hint/connect/"
HANDSHAKE_PATH = "/hint/handshake"
# Localhost mode (a laptop on plain http, sandbox partners only): Hint's product settings carry
# the laptop URLs in these fields instead; the https fields stay as production has them.
WEBHOOK_URL = "webhook_url"  # of a webhook endpoint
PARTNER_WEBHOOK_URL = "webhook_url"  # only its localhost twin is written (below)
LOCALHOST_FIELDS = {
    PARTNER_REDIRECT_URL: "localhost_redirect_url",
    PARTNER_WEBHOOK_URL: "localhost_webhook_url",  # on the partner, beside the redirect
    APP_HANDSHAKE_URL: "localhost_handshake_url",
    ANCHOR_SOURCE_URL: "localhost_source_url",
}
SERVICE_STATUS = "status"  # of a Hint-hosted service: Hint's audit wants "active"
SERVICE_URL = "service_url"
# Answer headers
DATE_HEADER = "Date"

# Partner interactions.
PARTNER_PRODUCT_ID = "partner_product_id"
