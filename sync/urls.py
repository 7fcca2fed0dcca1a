from django.urls import path

from sync import views_patients

app_name = "sync"
urlpatterns: list = []

# The patient mirror: list, live search, detail, and backfill from Hint (issue 5).
urlpatterns += [
    path("patients/", views_patients.patient_list, name="patients"),
    path("patients/panel", views_patients.patients_panel, name="patients-panel"),
    path("patients/<int:pk>", views_patients.patient_detail, name="patient"),
    path("backfill/panel", views_patients.backfill_panel, name="backfill-panel"),
    path("backfill/start", views_patients.backfill_start, name="backfill-start"),
]
