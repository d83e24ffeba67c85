"""Persons: grouping by identifier, guest checkouts, skipped rows, and customer attributes."""

from __future__ import annotations

from typing import Any

from stripe_cio.attributes import AttributeSettings

Kit = Any  # the `kit` fixture's class (tests/attributes/conftest.py)


def test_two_customers_with_one_email_are_one_person(kit: Kit) -> None:
    t = kit.T0
    computed = kit.compute(
        customers=[
            kit.customer("cus_B", " Ann@Example.COM ", created=t, delinquent=False),
            kit.customer("cus_A", "ann@example.com", created=t + 50, delinquent=True),
        ],
        charges=[
            kit.charge("ch_1", "cus_B", amount=1000),
            kit.charge("ch_2", "cus_A", amount=2500),
        ],
    )
    assert computed.persons == ["ann@example.com"]
    ann = computed.person("ann@example.com")
    assert ann["customer_id"] == "cus_A"  # the most recently created
    assert ann["customer_ids"] == ["cus_A", "cus_B"]  # sorted
    assert ann["customer_since"] == t
    assert ann["purchase_count"] == 2
    assert ann["total_spent"] == 35.0
    assert ann["delinquent"] is True


def test_a_single_customer_has_no_customer_ids_and_is_not_delinquent(kit: Kit) -> None:
    computed = kit.compute(customers=[kit.customer("cus_1", "bo@example.com")])
    bo = computed.person("bo@example.com")
    assert bo["customer_id"] == "cus_1"
    assert "customer_ids" not in bo
    assert bo["delinquent"] is False
    # Nothing to count: counts and money totals are 0, the rest absent, flags false.
    assert bo["purchase_count"] == 0
    assert bo["total_spent"] == 0
    assert bo["mrr"] == 0
    assert bo["has_open_dispute"] is False
    for absent in (
        "currency",
        "total_spent_by_currency",
        "first_purchase_at",
        "average_order_value",
        "days_between_purchases",
        "last_failed_payment_at",
        "subscription_status",
        "plan",
        "cancel_at_period_end",
        "rfm_segment",
    ):
        assert absent not in bo


def test_created_ties_go_to_the_larger_customer_id(kit: Kit) -> None:
    computed = kit.compute(
        customers=[
            kit.customer("cus_b", "x@example.com", created=kit.T0),
            kit.customer("cus_c", "x@example.com", created=kit.T0),
            kit.customer("cus_a", "x@example.com", created=kit.T0),
        ]
    )
    assert computed.person("x@example.com")["customer_id"] == "cus_c"


def test_a_guest_checkout_joins_the_person_of_its_billing_email(kit: Kit) -> None:
    computed = kit.compute(
        customers=[kit.customer("cus_1", "ann@example.com")],
        charges=[
            kit.charge("ch_1", "cus_1", amount=1000),
            kit.charge("ch_2", None, amount=700, billing_email="  ANN@example.com"),
        ],
    )
    assert computed.persons == ["ann@example.com"]
    assert computed.person("ann@example.com")["purchase_count"] == 2
    assert computed.person("ann@example.com")["total_spent"] == 17.0


def test_a_guest_checkout_with_a_new_email_creates_a_person(kit: Kit) -> None:
    computed = kit.compute(
        charges=[kit.charge("ch_1", None, amount=900, billing_email="New@Example.com ")]
    )
    guest = computed.person("new@example.com")
    assert guest["purchase_count"] == 1
    assert guest["currency"] == "usd"  # from its purchases
    assert "customer_id" not in guest
    assert "customer_since" not in guest
    assert guest["delinquent"] is False


def test_skipped_customers_and_their_charges_are_counted_with_reasons(kit: Kit) -> None:
    computed = kit.compute(
        customers=[
            kit.customer("cus_gone", "ann@example.com", deleted=True),
            kit.customer("cus_blank", "   "),
            kit.customer("cus_none", None),
            kit.customer("cus_ok", "bo@example.com"),
        ],
        charges=[
            # A deleted customer's charge does not fall back to its billing email.
            kit.charge("ch_1", "cus_gone", billing_email="ann@example.com"),
            kit.charge("ch_2", "cus_blank"),
            kit.charge("ch_3", "cus_none"),
            kit.charge("ch_4", "cus_missing"),
            kit.charge("ch_5", None, billing_email="  "),
            kit.charge("ch_6", None),
            kit.charge("ch_7", "cus_ok"),
        ],
        disputes=[kit.dispute("ch_1", 100, "lost"), kit.dispute("ch_unknown", 100, "lost")],
        subscriptions=[
            kit.subscription("sub_1", "cus_gone"),
            kit.subscription("sub_2", "cus_missing"),
        ],
    )
    assert computed.persons == ["bo@example.com"]
    skipped = computed.result.skipped.as_dict()
    assert skipped["customers"] == {"deleted": 1, "no_identifier": 2}
    assert skipped["charges"] == {"deleted": 1, "no_identifier": 4, "unknown_customer": 1}
    assert skipped["subscriptions"] == {"deleted": 1, "unknown_customer": 1}
    assert skipped["disputes"] == {"deleted": 1, "unknown_charge": 1}


def test_stripe_id_makes_each_customer_a_person_and_skips_guests(kit: Kit) -> None:
    settings = AttributeSettings(identifier="stripe_id")
    computed = kit.compute(
        settings=settings,
        customers=[
            kit.customer("cus_1", "ann@example.com"),
            kit.customer("cus_2", "ann@example.com"),
            kit.customer("cus_3", None),
        ],
        charges=[kit.charge("ch_1", "cus_2"), kit.charge("ch_2", None, billing_email="a@b.c")],
    )
    assert computed.persons == ["cus_1", "cus_2", "cus_3"]
    assert computed.person("cus_2")["purchase_count"] == 1
    assert "customer_ids" not in computed.person("cus_2")
    assert computed.result.skipped.as_dict()["charges"] == {"no_identifier": 1}


def test_a_metadata_key_groups_customers_by_its_value(kit: Kit) -> None:
    settings = AttributeSettings(identifier="metadata:user_id")
    computed = kit.compute(
        settings=settings,
        customers=[
            kit.customer("cus_1", "a@example.com", metadata_value="u-42"),
            kit.customer("cus_2", "b@example.com", metadata_value=" u-42 ", created=kit.T0 + 1),
            kit.customer("cus_3", "c@example.com", metadata_value="U-42"),  # case kept
            kit.customer("cus_4", "d@example.com"),  # no such key
        ],
        charges=[kit.charge("ch_1", "cus_1"), kit.charge("ch_2", None, billing_email="a@b.c")],
    )
    assert computed.persons == ["U-42", "u-42"]
    assert computed.person("u-42")["customer_ids"] == ["cus_1", "cus_2"]
    assert computed.person("u-42")["customer_id"] == "cus_2"
    skipped = computed.result.skipped.as_dict()
    assert skipped["customers"] == {"no_identifier": 1}
    assert skipped["charges"] == {"no_identifier": 1}


def test_the_person_index_is_sorted_and_named(kit: Kit) -> None:
    computed = kit.compute(
        customers=[
            kit.customer("cus_1", "zed@example.com"),
            kit.customer("cus_2", "al@example.com"),
        ]
    )
    assert computed.persons == ["al@example.com", "zed@example.com"]
    assert computed.frame.index.name == "person"


def test_the_prefix_names_every_column(kit: Kit) -> None:
    computed = kit.compute(
        settings=AttributeSettings(prefix="pay_"),
        customers=[kit.customer("cus_1", "al@example.com")],
    )
    assert all(str(name).startswith("pay_") for name in computed.frame.columns)
    assert "pay_customer_id" in computed.frame.columns
    assert len(computed.frame.columns) == 30


def test_an_email_that_is_not_an_address_identifies_nobody(kit: Kit) -> None:
    computed = kit.compute(
        customers=[
            kit.customer("cus_bcc", "a@b.com\nBcc: x@y.com"),
            kit.customer("cus_named", '"Name" <a@b.com>'),
            kit.customer("cus_two", "a@b.com, c@d.com"),
            kit.customer("cus_long", "x" * 300 + "@example.com"),
            kit.customer("cus_ok", " Ok@Example.com "),
            kit.customer("cus_wide", "José@Exämple.com"),
        ],
        charges=[
            kit.charge("ch_1", "cus_bcc"),
            kit.charge("ch_2", None, billing_email="not-an-email"),
            kit.charge("ch_3", None, billing_email=" Guest@Example.com "),
            kit.charge("ch_4", "cus_ok"),
        ],
    )
    assert computed.persons == ["guest@example.com", "josé@exämple.com", "ok@example.com"]
    skipped = computed.result.skipped.as_dict()
    assert skipped["customers"] == {"invalid_email": 4}
    assert skipped["charges"] == {"invalid_email": 2}
    # Under stripe_id the email is not the identifier: every customer is a person.
    by_id = kit.compute(
        settings=AttributeSettings(identifier="stripe_id"),
        customers=[kit.customer("cus_bcc", "a@b.com\nBcc: x@y.com")],
    )
    assert by_id.persons == ["cus_bcc"]
