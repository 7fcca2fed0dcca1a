"""What a person does in the app over HTTP, shared by the end-to-end tests: open a page, post a
form, and "Sync to Hint" (the preview, then "Sync patient" carrying it)."""

import re

import requests


def session_key(url: str) -> str:
    return url.split("session_key=", 1)[1].split("&", 1)[0]


def app_get(stack, key: str, path: str, **params) -> requests.Response:
    return requests.get(
        stack.app_url + path, params=params, headers={"X-Hint-Session-Key": key}, timeout=20
    )


def app_post(stack, key: str, path: str, data=None, files=None) -> requests.Response:
    return requests.post(
        stack.app_url + path,
        data={"session_key": key, **(data or {})},
        files=files,
        allow_redirects=False,
        timeout=30,
    )


def link(stack, key: str, contact_path: str, patient_id: str) -> requests.Response:
    """ "Sync to Hint" as a person does it: the preview, then "Sync patient" carrying it."""
    shown = app_get(stack, key, f"{contact_path}/link", patient_id=patient_id)
    assert shown.status_code == 200, shown.text[:500]
    seen = re.search(r'name="seen" value="([^"]*)"', shown.text).group(1)
    return app_post(stack, key, f"{contact_path}/link", {"patient_id": patient_id, "seen": seen})
