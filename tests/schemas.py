"""Validators for the JSON Schemas in hintpartner/hint/schemas/ (the shapes the app reads)."""

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parent.parent / "hintpartner" / "hint" / "schemas"
NAMES = ("patient", "interaction", "installation", "webhook_event")


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{name}.json").read_text())


@cache
def _registry() -> Registry:
    resources = []
    for name in NAMES:
        body = schema(name)
        resources.append((body["$id"], Resource.from_contents(body)))
    return Registry().with_resources(resources)


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name), registry=_registry())


def problems(name: str, instance: Any) -> list[str]:
    """Every way `instance` departs from the schema `name`, as `path: message` lines."""
    found = validator(name).iter_errors(instance)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in found]
