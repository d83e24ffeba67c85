"""Hostile customers: emails, identifiers, metadata, text."""

from __future__ import annotations

from typing import Any

from stripe_cio.ledger.normalise import invalid_email_reason

from ._case import Case, charge, customer, event

BCC = "bcc@example.com\nBcc: victim@example.com"


def _customer_cases() -> list[Case]:
    cases = []

    def simple(tag: str, covers: str, email: Any, person: str | None, outcome: str) -> Case:
        case = Case(tag, covers, outcome)
        case.add("customers", customer(f"cus_{tag}", email))
        case.add("charges", charge(f"ch_{tag}", f"cus_{tag}"))
        if person is not None:
            case.person(person)
        return case

    cases.append(
        simple(
            "good",
            "a well-formed customer and charge (control)",
            "good@example.com",
            "good@example.com",
            "processed",
        )
    )
    cases.append(
        simple(
            "email_spaces",
            "an email with leading and trailing spaces",
            "  Spaced.Out@Example.com \t",
            "spaced.out@example.com",
            "processed",
        )
    )
    cases.append(
        simple(
            "email_case",
            "an email in mixed case",
            "MiXeD.CaSe@ExAmPlE.CoM",
            "mixed.case@example.com",
            "processed",
        )
    )
    # An email that is not one valid address (RFC 5322 addr-spec, RFC 5321 lengths) is never
    # an identifier: the customer is kept, its email is a field reject with its reason, and
    # under the email identifier it and its charge have no person (`invalid_email`).
    for tag, covers, bad in [
        ("email_inner_space", "an email with a space inside", "john doe@example.com"),
        ("email_syntax", "an email without an @", "not-an-email"),
        ("email_bcc_header", "an email with a line break and a Bcc: header", BCC),
        ("email_display_name", "an email with a display name", '"Name" <dn@example.com>'),
        (
            "email_two_addresses",
            "two emails separated by a comma",
            "a2@example.com, c2@example.com",
        ),
        ("email_300_chars", "an email of 312 characters", "x" * 300 + "@example.com"),
    ]:
        bad_case = simple(tag, covers, bad, None, f"reject:{invalid_email_reason(bad)}")
        bad_case.expect[f"ledger:customers/cus_{tag}"] = (
            f"stored, field reject:{invalid_email_reason(bad)}"
        )
        bad_case.attribute_skips.update(
            {"customers: invalid_email": 1, "charges: invalid_email": 1}
        )
        cases.append(bad_case)
    # Its customer.created event names nobody, and carries no email.
    bcc = cases[-4]
    bcc.event(
        event("evt_email_bcc_header", "customer.created", bcc.objects["customers"][0]),
        "skip:invalid_email",
    )
    cases.append(
        simple(
            "email_unicode",
            "an internationalised email and a BOM in the name",
            "José@Exämple.com",
            "josé@exämple.com",
            "processed",
        )
    )
    cases[-1].objects["customers"][0]["name"] = "Jos\u00c3\u00a9 \ufffd\ufeff"

    missing = simple(
        "email_missing", "a customer without an email (null)", None, None, "skip:no_identifier"
    )
    missing.attribute_skips.update({"customers: no_identifier": 1, "charges: no_identifier": 1})
    cases.append(missing)
    blank = simple("email_blank", "an email of spaces only", "   ", None, "skip:no_identifier")
    blank.attribute_skips.update({"customers: no_identifier": 1, "charges: no_identifier": 1})
    cases.append(blank)

    wrong = Case("email_number", "an email that is a number", "reject:invalid_field:email")
    wrong.add("customers", customer("cus_email_number", 12345), "reject:invalid_field:email")
    cases.append(wrong)

    # A valid address (local part 60, 186 in all) over Customer.io's 150-byte identifiers.
    long_email = "x" * 60 + "@" + "d" * 60 + "." + "e" * 60 + ".com"
    too_long = simple(
        "email_too_long",
        "a valid email of 186 bytes: an identifier over 150 bytes",
        long_email,
        None,
        "reject:identifier_too_long",
    )
    too_long.person(long_email, "dead:identifier_too_long")
    cases.append(too_long)

    long_id = Case(
        "id_over_150_bytes",
        "a customer id of 204 bytes (an attribute, not the identifier, under the email strategy)",
        "processed",
    )
    cid = "cus_" + "L" * 200
    long_id.add("customers", customer(cid, "longid@example.com"))
    long_id.add("charges", charge("ch_id_over_150_bytes", cid))
    long_id.person("longid@example.com")
    cases.append(long_id)

    many = Case(
        "customer_ids_over_1000_bytes",
        "40 customers sharing one email: the customer ids attribute is over 1,000 bytes",
        "reject:attribute_value_too_long",
    )
    for n in range(40):
        many.add("customers", customer(f"cus_shared_email_{n:02d}_padding", "shared@example.com"))
    many.person("shared@example.com", "dead:attribute_value_too_long")
    cases.append(many)

    meta = Case("metadata_500_keys", "metadata with 500 keys", "processed")
    meta.add(
        "customers",
        customer(
            "cus_metadata_500",
            "meta@example.com",
            metadata={f"key_{n:03d}": "v" * 20 for n in range(500)},
        ),
    )
    meta.person("meta@example.com")
    cases.append(meta)

    bad_meta = Case("metadata_list", "metadata that is a list", "reject:invalid_field:metadata")
    bad_meta.add(
        "customers",
        customer("cus_metadata_list", "metalist@example.com", metadata=["a", "b"]),
        "reject:invalid_field:metadata",
    )
    cases.append(bad_meta)

    kind = Case("wrong_object", "a charge inside the customers list", "reject:wrong_object_type")
    kind.add(
        "customers",
        {**charge("cus_wrong_object", None), "object": "charge"},
        "reject:wrong_object_type",
    )
    cases.append(kind)

    cur = Case(
        "customer_currency",
        "a customer with an unknown upper-case currency",
        "reject:unknown_currency:XYZ",
    )
    cur.add(
        "customers",
        customer("cus_currency_xyz", "xyz@example.com", currency="XYZ"),
        "reject:unknown_currency:XYZ",
    )
    cases.append(cur)

    control = Case(
        "control_chars",
        "control, escape and bidi-override characters in a name, "
        "sent in the customer.created event",
        "processed",
    )
    ctl = customer(
        "cus_control_chars", "ctl@example.com", name="Ctl\u0001\u001b[31m\u202eevil\u0007\u00ff"
    )
    control.add("customers", ctl)
    control.event(
        event("evt_control_chars", "customer.created", ctl), "sent:stripe_customer_created"
    )
    control.person("ctl@example.com")
    cases.append(control)

    # Found by this corpus: PostgreSQL text cannot hold NUL, and one such name failed the whole
    # backfill batch there. Rejected (nul_character) on every backend now.
    nul = Case(
        "nul_in_name",
        "a NUL character in a customer's name, also in its customer.created event",
        "reject:nul_character:name",
    )
    nul_customer = customer("cus_nul_name", "nul@example.com", name="Nul\u0000Name")
    nul.add("customers", nul_customer, "reject:nul_character:name")
    # The ledger rejects the event's copy too; the event itself still names its person.
    nul.event(
        event("evt_nul_name", "customer.created", nul_customer), "sent:stripe_customer_created"
    )
    nul.extra_rejects["customers: nul_character:name"] += 1
    nul.person("nul@example.com")
    cases.append(nul)

    nul_id = Case("nul_in_id", "a NUL character in a customer id", "reject:nul_character:id")
    nul_id.objects["customers"] = [customer("cus_nul\u0000id", "nulid@example.com")]
    nul_id.extra_rejects["customers: nul_character:id"] += 1
    cases.append(nul_id)
    return cases
