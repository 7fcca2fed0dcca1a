"""Every table with practice data has a non-null practice reference."""

from django.apps import apps

from handshake.models import Practice

# Tables that hold no practice's data, with the reason.
SYSTEM_MODELS = {
    "handshake.Practice": "the tenant itself",
    "hintpartner.WorkerHeartbeat": "worker liveness, no practice data",
    "hintpartner.HintBudget": "a Hint token's shared rate slot and daily count, keyed by its hash",
    "webhooks.UnroutedWebhookEvent": "events naming a practice we never saw: no tenant owns them",
    "webhooks.ReceivedWebhookEvent": "deliveries not yet sorted to a practice (or to unrouted)",
}
OUR_APPS = {"hintpartner", "handshake", "webhooks", "sync", "interactions"}


def test_every_model_of_ours_has_a_non_null_practice_reference() -> None:
    missing = []
    for model in apps.get_models():
        label = model._meta.label
        if model._meta.app_label not in OUR_APPS or label in SYSTEM_MODELS:
            continue
        field = next(
            (
                f
                for f in model._meta.concrete_fields
                if f.is_relation and f.related_model is Practice
            ),
            None,
        )
        if field is None or field.null:
            missing.append(label)
    assert missing == [], f"models without a non-null practice reference: {missing}"
