from hintpartner.hint import signing

SECRET = "s3cret"
BODY = b'{"user": {"id": "u-1"}, "practice": {"id": "p-test"}}'


def test_it_accepts_the_signature_of_the_same_body() -> None:
    assert signing.verify(BODY, signing.sign(BODY, SECRET), SECRET)


def test_the_signature_is_hex_hmac_sha256_with_the_scheme() -> None:
    header = signing.sign(BODY, SECRET)
    assert header.startswith("sha256=")
    assert len(header) == len("sha256=") + 64


def test_it_rejects_a_missing_header() -> None:
    assert not signing.verify(BODY, None, SECRET)
    assert not signing.verify(BODY, "", SECRET)


def test_it_rejects_the_all_zero_signature() -> None:
    assert not signing.verify(BODY, "sha256=" + "0" * 64, SECRET)


def test_it_rejects_the_signature_of_a_different_body() -> None:
    assert not signing.verify(BODY, signing.sign(BODY + b" ", SECRET), SECRET)


def test_it_rejects_a_signature_made_with_another_secret() -> None:
    assert not signing.verify(BODY, signing.sign(BODY, "other"), SECRET)


def test_it_rejects_a_bare_hex_digest_without_the_scheme() -> None:
    assert not signing.verify(BODY, signing.sign(BODY, SECRET).removeprefix("sha256="), SECRET)


def test_it_refuses_everything_when_no_secret_is_configured() -> None:
    assert not signing.verify(BODY, signing.sign(BODY, ""), "")


def test_the_mismatch_description_never_contains_the_secret() -> None:
    text = signing.describe_mismatch(BODY, "sha256=" + "0" * 64, SECRET)
    assert SECRET not in text
    assert f"{len(BODY)} bytes" in text
