from django.urls import include, path, re_path

from sandbox import api, control, views

patterns = [
    path("healthz", views.healthz, name="healthz"),
    path("hint-sdk.js", views.sdk_js, name="sdk"),
    # host page
    path("", views.home, name="home"),
    path("switch", views.switch, name="switch"),
    path("app/", views.app_page, name="app"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/install", views.install, name="install"),
    path("settings/<str:action>", views.installation_action, name="installation-action"),
    path("patients/new", views.patient_new, name="patient-new"),
    path("patients/<str:patient_id>/", views.chart, name="chart"),
    path("patients/<str:patient_id>/<str:action>", views.patient_action, name="patient-action"),
    path(
        "patients/<str:patient_id>/interactions/<str:interaction_id>/",
        views.interaction_page,
        name="interaction",
    ),
    path("sandbox/deliveries", views.deliveries, name="deliveries"),
    path("sandbox/deliveries/<str:event_id>/resend", views.resend, name="resend"),
    path("sandbox/tools", views.tools, name="tools"),
    # control API for tests and scripts
    path("_sandbox/state", control.state),
    path("_sandbox/install", control.install),
    path("_sandbox/uninstall", control.uninstall),
    path("_sandbox/handshake", control.handshake),
    path("_sandbox/faults", control.faults),
    path("_sandbox/trigger", control.trigger),
    path("_sandbox/events", control.events),
    path("_sandbox/registration", control.registration),
    # Hint's Provider API
    path("api/provider/patients", api.patients_view),
    path("api/provider/patients/matching", api.patients_matching_view),
    path("api/provider/patients/<str:patient_id>", api.patient_view),
    path(
        "api/provider/patients/<str:patient_id>/interactions/partner",
        api.interaction_create_view,
    ),
    path(
        "api/provider/patients/<str:patient_id>/interactions/partner/<str:interaction_id>",
        api.interaction_update_view,
    ),
    path("api/provider/interactions", api.interactions_view),
    # Hint's Partner API
    path("api/partner/installations/connect", api.installations_connect_view),
    path("api/partner/installations", api.installations_view),
    path(
        "api/partner/installations/<str:installation_id>/activate", api.installation_activate_view
    ),
    path(
        "api/partner/installations/<str:installation_id>/deactivate",
        api.installation_deactivate_view,
    ),
    path("api/partner/partner", api.partner_view),
    path("api/partner/app", api.app_view),
    path("api/partner/app/anchors", api.anchors_view),
    path("api/partner/app/anchors/<str:anchor_id>", api.anchor_view),
    path("api/partner/app/services", api.services_view),
    path("api/partner/webhook_endpoints", api.webhook_endpoints_view),
    path("api/partner/webhook_events", api.webhook_events_view),
    path("api/partner/webhook_requests", api.webhook_requests_view),
    path("api/oauth/tokens", api.oauth_tokens_view),
    re_path(r"^api/(?P<rest>.*)$", api.api_not_found),
]

# Namespaced ("sandbox:home") although this is the root URLconf of the sandbox process.
urlpatterns = [path("", include((patterns, "sandbox")))]
