"""Tenancy: every row of practice data belongs to one practice and is read through it.

Models with practice data inherit `PracticeOwned`; their manager offers `for_practice(practice)`,
which is the only way views and services should start a query.
"""

from typing import Any

from django.db import models


class PracticeScopedQuerySet(models.QuerySet):
    def for_practice(self, practice: Any) -> "PracticeScopedQuerySet":
        """Rows of this practice only. `practice` may be a Practice or its primary key."""
        if practice is None:
            return self.none()
        return self.filter(practice=practice)


PracticeScopedManager = models.Manager.from_queryset(PracticeScopedQuerySet)


class PracticeOwned(models.Model):
    """Abstract base for every table holding a practice's data (non-null practice reference)."""

    practice = models.ForeignKey("handshake.Practice", on_delete=models.PROTECT, related_name="+")

    objects = PracticeScopedManager()

    class Meta:
        abstract = True
