from django.urls import path

from sync import (
    views_batches,
    views_contacts,
    views_contacts_admin,
    views_link,
    views_log,
    views_patients,
)

app_name = "sync"
urlpatterns: list = []

# Contacts, "Sync to Hint", batches, sync log and options (issue 6).
urlpatterns += [
    path("contacts/", views_contacts.contact_list, name="contacts"),
    path("contacts/panel", views_contacts.contacts_panel, name="contacts-panel"),
    path("contacts/new", views_contacts.contact_create, name="contact-create"),
    path("contacts/<int:pk>", views_contacts.contact_detail, name="contact-detail"),
    path("contacts/<int:pk>/edit", views_contacts.contact_edit, name="contact-edit"),
    path("contacts/<int:pk>/status", views_contacts.contact_status, name="contact-status"),
    path("contacts/<int:pk>/retry", views_contacts.contact_write_retry, name="contact-write-retry"),
    path("batches/", views_batches.batch_list, name="batches"),
    path("batches/patients", views_batches.batch_start_patients, name="batch-start-patients"),
    path("batches/csv", views_batches.batch_start_csv, name="batch-start-csv"),
    path("batches/patients/plan", views_batches.batch_plan_patients, name="batch-plan-patients"),
    path("batches/csv/plan", views_batches.batch_plan_csv, name="batch-plan-csv"),
    path("batches/<int:pk>/apply", views_batches.batch_apply, name="batch-apply"),
    path("batches/<int:pk>", views_batches.batch_detail, name="batch-detail"),
    path("batches/<int:pk>/progress", views_batches.batch_progress, name="batch-progress"),
    path("batches/<int:pk>/abort", views_batches.batch_abort, name="batch-abort"),
    path("batches/<int:pk>/resume", views_batches.batch_resume, name="batch-resume"),
    path("batches/<int:pk>/rows.csv", views_batches.batch_rows_csv, name="batch-rows-csv"),
    path("log/", views_log.log_list, name="log"),
    path("log/<int:pk>", views_log.log_detail, name="log-detail"),
    path("log/<int:pk>/retry", views_log.log_retry, name="log-retry"),
    path("options/", views_log.options_edit, name="options"),
    path("options/panel", views_log.settings_panel, name="settings-panel"),
]

# "Sync to Hint", "Create new patient" and "Unlink": each shown first (GET), done by its POST
# (issue 18).
urlpatterns += [
    path("contacts/<int:pk>/sync", views_link.contact_sync, name="contact-sync"),
    path(
        "contacts/<int:pk>/sync/search", views_link.contact_sync_search, name="contact-sync-search"
    ),
    path("contacts/<int:pk>/link", views_link.contact_link, name="contact-link"),
    path(
        "contacts/<int:pk>/create-patient",
        views_link.contact_create_patient,
        name="contact-create-patient",
    ),
    path("contacts/<int:pk>/unlink", views_link.contact_unlink, name="contact-unlink"),
]

# The patient mirror: list, live search, detail, and backfill from Hint (issue 5).
urlpatterns += [
    path("patients/", views_patients.patient_list, name="patients"),
    path("patients/panel", views_patients.patients_panel, name="patients-panel"),
    path("patients/<int:pk>", views_patients.patient_detail, name="patient"),
    path("backfill/panel", views_patients.backfill_panel, name="backfill-panel"),
    path("backfill/start", views_patients.backfill_start, name="backfill-start"),
]

# Contacts an admin manages: export the list as a CSV batch's input, delete a contact (issue 18).
urlpatterns += [
    path(
        "contacts/export.csv",
        views_contacts_admin.contacts_export,
        name="contacts-export",
    ),
    path(
        "contacts/<int:pk>/delete",
        views_contacts_admin.contact_delete_view,
        name="contact-delete",
    ),
]
