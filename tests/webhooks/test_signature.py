"""Our Stripe-Signature verifier checked against the official `stripe` library's, on the same
payloads and headers: where they agree, and, asserted explicitly, where they do not."""

from __future__ import annotations

import json
from collections.abc import Sequence
from unittest import mock

import pytest
import stripe
from hypothesis import given
from hypothesis import strategies as st

from stripe_cio.webhooks.signature import (
    REJECT_REASONS,
    SignatureRejected,
    signature_header,
    v1_signature,
    verify,
)

NOW = 1_700_000_000
OLD, NEW, OTHER = "whsec_old_secret", "whsec_new_secret", "whsec_unrelated"
EVENT = {"id": "evt_1", "object": "event", "type": "customer.created", "data": {"object": {}}}
BODY = json.dumps(EVENT, separators=(",", ":")).encode()


def ours(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    now: int = NOW,
    tolerance: int = 300,
) -> str | None:
    """None if our verifier accepts, else its reason (checked to be counted and secret-free)."""
    try:
        verify(payload, header, secrets, now=now, tolerance=tolerance)
    except SignatureRejected as error:
        rejected = error
    else:
        return None
    assert rejected.reason in REJECT_REASONS
    shown = " ".join([str(rejected), repr(rejected), *map(str, rejected.args)])
    assert not any(secret in shown for secret in (*secrets, OLD, NEW, OTHER))
    return rejected.reason


def stripe_accepts(
    payload: bytes, header: str | None, secret: str, *, now: int = NOW, tolerance: int | None = 300
) -> bool:
    """Whether stripe's verifier accepts, its clock (`time.time()`) held at `now`."""
    with mock.patch("time.time", return_value=float(now)):
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
        except stripe.SignatureVerificationError:
            return False
    return True


def test_we_sign_as_stripe_does() -> None:
    stripes = stripe.WebhookSignature.generate_signature_header(BODY.decode(), NEW, NOW)
    assert signature_header(BODY, [NEW], NOW) == stripes


def test_a_valid_signature_is_accepted_by_both() -> None:
    header = signature_header(BODY, [NEW], NOW)
    assert ours(BODY, header, [NEW]) is None
    assert verify(BODY, header, [NEW], now=NOW + 5) == NOW  # the signing time, not `now`
    assert stripe_accepts(BODY, header, NEW)
    with mock.patch("time.time", return_value=float(NOW)):
        event = stripe.Webhook.construct_event(BODY, header, NEW, tolerance=300)
    assert event.id == "evt_1"


@pytest.mark.parametrize("configured", [[OLD], [NEW], [OLD, NEW], [NEW, OLD], [OTHER, NEW]])
def test_a_rolled_secret_verifies_under_either(configured: list[str]) -> None:
    header = signature_header(BODY, [OLD, NEW], NOW)
    assert header.count("v1=") == 2
    assert ours(BODY, header, configured) is None
    assert stripe_accepts(BODY, header, OLD)
    assert stripe_accepts(BODY, header, NEW)
    assert not stripe_accepts(BODY, header, OTHER)
    assert ours(BODY, header, [OTHER]) == "bad_signature"


@pytest.mark.parametrize(
    "tampered",
    [
        BODY.replace(b"evt_1", b"evt_2"),  # one byte changed
        BODY + b"\n",  # a byte appended
        BODY.replace(b"evt_1", b"evt_"),  # a byte dropped
        json.dumps(EVENT, indent=2).encode(),  # the same JSON, re-serialised
        json.dumps(EVENT).encode(),  # ... with spaces after separators
    ],
)
def test_a_tampered_body_is_refused_by_both(tampered: bytes) -> None:
    header = signature_header(BODY, [NEW], NOW)
    assert json.loads(tampered) is not None  # still a JSON body: only the bytes differ
    assert ours(tampered, header, [NEW]) == "bad_signature"
    assert not stripe_accepts(tampered, header, NEW)


def test_a_wrong_secret_is_refused_by_both() -> None:
    header = signature_header(BODY, [OTHER], NOW)
    assert ours(BODY, header, [OLD, NEW]) == "bad_signature"
    assert not stripe_accepts(BODY, header, NEW)


@pytest.mark.parametrize(
    ("age", "accepted"),
    [(0, True), (300, True), (299, True), (301, False), (86_400, False), (-3_600, True)],
)
def test_the_tolerance_is_the_same_in_both(age: int, accepted: bool) -> None:
    # Exactly `tolerance` old is still accepted by both (`t < now - tolerance` refuses);
    # a timestamp an hour in the future (age -3600) is accepted by both, as documented.
    header = signature_header(BODY, [NEW], NOW - age)
    assert (ours(BODY, header, [NEW]) is None) is accepted
    assert stripe_accepts(BODY, header, NEW) is accepted
    if not accepted:
        assert ours(BODY, header, [NEW]) == "too_old"
    # A bad signature is reported as such whatever its age (the timestamp is checked after).
    assert ours(BODY + b" ", header, [NEW]) == "bad_signature"


def test_a_zero_tolerance_differs() -> None:
    # Difference: stripe treats a falsy tolerance (0 or None) as "no age check at all"; ours
    # takes 0 literally: only a timestamp not before `now` passes.
    header = signature_header(BODY, [NEW], NOW - 10)
    assert stripe_accepts(BODY, header, NEW, tolerance=0)
    assert ours(BODY, header, [NEW], tolerance=0) == "too_old"
    assert ours(BODY, signature_header(BODY, [NEW], NOW), [NEW], tolerance=0) is None


def test_a_missing_header_is_refused_by_both() -> None:
    assert ours(BODY, None, [NEW]) == "missing_header"
    assert not stripe_accepts(BODY, None, NEW)


SIG = v1_signature(BODY, NEW, NOW)
ARABIC_NOW = str(NOW).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))


@pytest.mark.parametrize(
    ("header", "our_verdict", "stripe_verdict"),
    [
        # Both refuse.
        (f"v1={SIG}", "malformed_header", False),  # no t
        (f"t=now,v1={SIG}", "malformed_header", False),  # non-numeric t
        (f"t=,v1={SIG}", "malformed_header", False),  # empty t
        (f"t={NOW}", "malformed_header", False),  # no v1
        (f"t={NOW},v0={SIG}", "malformed_header", False),  # only v0 (a test scheme)
        (f"t={NOW},v1={SIG.upper()}", "bad_signature", False),  # hex is lower case
        (f"t={NOW},v1=", "bad_signature", False),
        ("", "missing_header", False),
        ("   ", "missing_header", False),  # stripe: "unable to extract timestamp"
        ("garbage", "malformed_header", False),
        (f"t={NOW + 1},t={NOW},v1={SIG}", "malformed_header", False),  # stripe signs the first t
        # Both accept: unknown keys and elements are ignored.
        (f"t={NOW},v1={SIG},v0=abc,foo=bar", None, True),
        (f"foo=bar,t={NOW},v1=0000,v1={SIG},v2=x", None, True),
        (f"t={NOW},v1={SIG},flag", None, True),
        # Difference: stripe uses the first of two t's; ours refuses an ambiguous timestamp.
        (f"t={NOW},t={NOW + 1},v1={SIG}", "malformed_header", True),
        (f"t={NOW},t={NOW},v1={SIG}", "malformed_header", True),
        # Difference: stripe parses t with Python's int(), which takes a sign, surrounding
        # spaces, underscores and non-ASCII digits; ours takes ASCII digits only.
        (f"t=+{NOW},v1={SIG}", "malformed_header", True),
        (f"t= {NOW},v1={SIG}", "malformed_header", True),
        (f"t={NOW:_},v1={SIG}", "malformed_header", True),
        (f"t={ARABIC_NOW},v1={SIG}", "malformed_header", True),
        # Difference: stripe does not strip spaces around elements, so " v1" is not a v1
        # signature to it, nor " t" a timestamp; ours strips each element.
        (f"t={NOW}, v1={SIG}", None, False),
        (f" t={NOW},v1={SIG}", None, False),
        (f"t={NOW},v1={SIG}, ", None, True),
        # Difference: a bare "v1" or "t" element (no "=") makes stripe's parser fail (an
        # IndexError it reports as a malformed header); ours skips elements without "=".
        (f"t={NOW},v1={SIG},v1", None, False),
        (f"t,t={NOW},v1={SIG}", None, False),
        # Difference: stripe splits an element at its first two "=" and drops the rest.
        (f"t={NOW},v1={SIG}=junk", "bad_signature", True),
    ],
)
def test_malformed_headers(header: str, our_verdict: str | None, stripe_verdict: bool) -> None:
    assert ours(BODY, header, [NEW]) == our_verdict
    assert stripe_accepts(BODY, header, NEW) is stripe_verdict


def test_a_non_ascii_signature_differs() -> None:
    # Difference: stripe compares str signatures with hmac.compare_digest, which raises
    # TypeError (not SignatureVerificationError) on non-ASCII text; ours compares bytes.
    header = f"t={NOW},v1=é{SIG[1:]}"
    assert ours(BODY, header, [NEW]) == "bad_signature"
    with pytest.raises(TypeError, match="non-ASCII"):
        stripe_accepts(BODY, header, NEW)


def test_a_non_utf8_body_differs() -> None:
    # Difference: stripe decodes the body as UTF-8 before signing it, so a body that is not
    # UTF-8 raises UnicodeDecodeError even with a valid signature; ours verifies the raw bytes.
    body = b"\xff\xfe" + BODY
    header = signature_header(body, [NEW], NOW)
    assert ours(body, header, [NEW]) is None
    with pytest.raises(UnicodeDecodeError):
        stripe_accepts(body, header, NEW)


def test_no_secret_configured() -> None:
    # Difference in kind: ours refuses to run without a secret (a configuration error, not a
    # rejected delivery); stripe rejects the delivery.
    header = signature_header(BODY, [NEW], NOW)
    with pytest.raises(ValueError, match="secret"):
        verify(BODY, header, [], now=NOW)
    assert not stripe_accepts(BODY, header, " ")


# Distinct secrets: alphanumeric, so no two are the same HMAC key (keys differing only by
# trailing NUL bytes are, and such a "different" secret would verify).
secrets_ = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1)
whsecs = secrets_.map(lambda text: "whsec_" + text)
bodies = st.one_of(st.binary(), st.text(st.characters(codec="utf-8")).map(str.encode))


@given(
    body=bodies,
    signing=st.lists(whsecs, min_size=1, max_size=3, unique=True),
    others=st.lists(whsecs, max_size=3, unique=True),
    timestamp=st.integers(0, 2**40),
    data=st.data(),
)
def test_accepts_iff_a_secret_is_shared(
    body: bytes,
    signing: list[str],
    others: list[str],
    timestamp: int,
    data: st.DataObject,
) -> None:
    pool = list(dict.fromkeys([*signing, *others]))
    configured = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4), "configured")
    header = signature_header(body, signing, timestamp)
    shared = bool(set(configured) & set(signing))
    assert (ours(body, header, configured, now=timestamp) is None) is shared
    if shared:
        assert ours(body + b".", header, configured, now=timestamp) == "bad_signature"
        assert ours(body, header, configured, now=timestamp + 301) == "too_old"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return
    for secret in configured:
        verdict = stripe_accepts(body, header, secret, now=timestamp, tolerance=None)
        assert verdict is (secret in signing)
