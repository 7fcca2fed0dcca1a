from django.urls import path

from interactions import views

app_name = "interactions"

urlpatterns = [
    path("new", views.note_new, name="note-new"),
    path("mine", views.my_drafts, name="my-drafts"),
    path("patient/<str:patient_id>/", views.patient_notes, name="patient-notes"),
    path("<int:note_id>/", views.note_detail, name="note"),
    path("<int:note_id>/save", views.note_save, name="note-save"),
    path("<int:note_id>/sync", views.note_sync, name="note-sync"),
    path("<int:note_id>/retry", views.note_retry, name="note-retry"),
    path("<int:note_id>/status", views.note_status, name="note-status"),
    path("<int:note_id>/sign/review", views.note_sign_review, name="note-sign-review"),
    path("<int:note_id>/sign", views.note_sign, name="note-sign"),
    path("<int:note_id>/addenda", views.note_addend, name="note-addend"),
    path("<int:note_id>/discard", views.note_discard, name="note-discard"),
    path("panels/chart", views.chart_panel, name="chart-panel"),
    path("panels/interaction", views.interaction_panel, name="interaction-panel"),
    path("panels/my-drafts", views.my_drafts_panel, name="my-drafts-panel"),
]
