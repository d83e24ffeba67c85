"""The attribute contract (docs/attributes.md) written as SQL for DuckDB: the yardstick.

Written from the contract, not from the pandas code, so that agreeing outputs check both.
DuckDB cannot read SQLite here (its sqlite extension would have to be downloaded), so the same
columns are read with Python's sqlite3 into pandas chunks and appended to DuckDB tables.
"""

from __future__ import annotations

import gc
import sqlite3
from pathlib import Path

import duckdb
import pandas as pd

__all__ = ["duckdb_attributes", "load_into_duckdb"]

_CHUNK = 100_000

# The same columns and expressions the attribute loader selects.
SOURCES = {
    "customers": "SELECT id, created, email, currency, delinquent, deleted FROM customers",
    "charges": (
        "SELECT id, customer, created, status, amount_captured, amount_refunded, currency,"
        " CASE WHEN customer IS NULL THEN billing_email END AS billing_email FROM charges"
    ),
    "disputes": "SELECT charge, amount, status FROM disputes",
    "subscriptions": (
        "SELECT id, customer, created, status, currency, start_date, trial_end, canceled_at,"
        " cancel_at_period_end FROM subscriptions"
    ),
    "subscription_items": (
        "SELECT subscription, position, price, quantity, price_currency, unit_amount,"
        " recurring_interval, recurring_interval_count FROM subscription_items"
    ),
    "prices": "SELECT id, nickname, lookup_key, recurring_interval FROM prices",
}
_TYPES = {
    "customers": "id VARCHAR, created BIGINT, email VARCHAR, currency VARCHAR,"
    " delinquent BOOLEAN, deleted BOOLEAN",
    "charges": "id VARCHAR, customer VARCHAR, created BIGINT, status VARCHAR,"
    " amount_captured BIGINT, amount_refunded BIGINT, currency VARCHAR, billing_email VARCHAR",
    "disputes": "charge VARCHAR, amount BIGINT, status VARCHAR",
    "subscriptions": "id VARCHAR, customer VARCHAR, created BIGINT, status VARCHAR,"
    " currency VARCHAR, start_date BIGINT, trial_end BIGINT, canceled_at BIGINT,"
    " cancel_at_period_end BOOLEAN",
    "subscription_items": "subscription VARCHAR, position BIGINT, price VARCHAR,"
    " quantity BIGINT, price_currency VARCHAR, unit_amount BIGINT, recurring_interval VARCHAR,"
    " recurring_interval_count BIGINT",
    "prices": "id VARCHAR, nickname VARCHAR, lookup_key VARCHAR, recurring_interval VARCHAR",
}


def load_into_duckdb(path: Path, con: duckdb.DuckDBPyConnection) -> None:
    """Copy the attribute columns of the SQLite ledger at `path` into DuckDB tables."""
    source = sqlite3.connect(path)
    gc.disable()  # as our loader does: millions of row tuples, no cycles among them
    try:
        for table, query in SOURCES.items():
            con.execute(f"CREATE TABLE {table} ({_TYPES[table]})")
            cursor = source.execute(query)
            names = [d[0] for d in cursor.description]
            while rows := cursor.fetchmany(_CHUNK):
                chunk = pd.DataFrame.from_records(rows, columns=names)
                con.append(table, chunk)
    finally:
        gc.enable()
        source.close()


ATTRIBUTE_SQL = """
CREATE OR REPLACE MACRO exponent(cur) AS CASE
    WHEN cur IN ('bif','clp','djf','gnf','jpy','kmf','krw','mga','pyg','rwf','ugx','vnd','vuv',
                 'xaf','xof','xpf') THEN 0
    WHEN cur IN ('bhd','jod','kwd','omr','tnd') THEN 3
    ELSE 2 END;
-- n / d rounded half to even, exactly, for integers n and d > 0.
CREATE OR REPLACE MACRO rem(n, d) AS ((n % d) + d) % d;
CREATE OR REPLACE MACRO hediv(n, d) AS ((n - rem(n, d)) // d) + CASE
    WHEN 2 * rem(n, d) > d OR (2 * rem(n, d) = d AND ((n - rem(n, d)) // d) % 2 != 0) THEN 1
    ELSE 0 END;
CREATE OR REPLACE MACRO major(minor, cur) AS
    CAST(minor AS DOUBLE) / CAST(power(10, exponent(cur)) AS DOUBLE);

CREATE TEMP TABLE cust AS
SELECT id, created, currency, coalesce(delinquent, false) AS delinquent,
       CASE WHEN NOT deleted THEN nullif(lower(trim(email)), '') END AS person
FROM customers;

CREATE TEMP TABLE ch AS
SELECT c.*, CASE WHEN c.customer IS NULL THEN nullif(lower(trim(c.billing_email)), '')
                 ELSE cu.person END AS person
FROM charges c LEFT JOIN cust cu ON cu.id = c.customer;

CREATE TEMP TABLE persons AS
SELECT person FROM cust WHERE person IS NOT NULL
UNION SELECT person FROM ch WHERE person IS NOT NULL;

CREATE TEMP TABLE lost AS
SELECT charge, sum(amount) AS lost FROM disputes WHERE status = 'lost' GROUP BY charge;

CREATE TEMP TABLE purchase AS
SELECT ch.*, coalesce(lost.lost, 0) AS lost FROM ch LEFT JOIN lost ON lost.charge = ch.id
WHERE ch.person IS NOT NULL AND ch.status = 'succeeded' AND ch.amount_captured > 0;

CREATE TEMP TABLE pc AS
SELECT person, currency, count(*) AS n, sum(amount_captured) AS captured,
       sum(amount_refunded) AS refunded,
       sum(amount_captured - amount_refunded - lost) AS spent,
       max(created) AS last_created,
       arg_max(id, (created, id)) AS last_id
FROM purchase GROUP BY person, currency;

CREATE TEMP TABLE subs AS
SELECT s.*, cu.person FROM subscriptions s JOIN cust cu ON cu.id = s.customer
WHERE cu.person IS NOT NULL;

CREATE TEMP TABLE cust_agg AS
SELECT person, arg_max(id, (created, id)) AS customer_id,
       CASE WHEN count(*) > 1 THEN list(id ORDER BY id) END AS customer_ids,
       min(created) AS since, bool_or(delinquent) AS delinquent,
       arg_max(currency, (created, id)) FILTER (WHERE currency IS NOT NULL) AS currency
FROM cust WHERE person IS NOT NULL GROUP BY person;

CREATE TEMP TABLE primary_currency AS
SELECT p.person, coalesce(c.currency, b.currency, s.currency) AS currency
FROM persons p
LEFT JOIN cust_agg c ON c.person = p.person
LEFT JOIN (SELECT person, arg_max(currency, (n, last_created, last_id)) AS currency
           FROM pc GROUP BY person) b ON b.person = p.person
LEFT JOIN (SELECT person, arg_max(currency, (created, id)) AS currency
           FROM subs WHERE currency IS NOT NULL GROUP BY person) s ON s.person = p.person;

CREATE TEMP TABLE by_currency AS
SELECT person, map(list(currency ORDER BY currency),
                   list(major(spent, currency) ORDER BY currency)) AS totals
FROM pc GROUP BY person;

CREATE TEMP TABLE lcm_all AS
SELECT coalesce(list_reduce(list(DISTINCT coalesce(recurring_interval_count, 1)),
                            lambda a, b: lcm(a, b)), 1) AS l
FROM subscription_items WHERE coalesce(recurring_interval_count, 1) >= 1;

CREATE TEMP TABLE monthly AS
SELECT s.id, any_value(s.person) AS person, sum(
    CASE WHEN i.unit_amount IS NOT NULL AND i.quantity IS NOT NULL
              AND coalesce(i.recurring_interval_count, 1) >= 1
              AND coalesce(i.price_currency, s.currency) = pr.currency
         THEN i.unit_amount * i.quantity
              * CASE i.recurring_interval WHEN 'day' THEN 365 WHEN 'week' THEN 52
                    WHEN 'month' THEN 12 WHEN 'year' THEN 1 ELSE 0 END
              * ((SELECT l FROM lcm_all) // coalesce(i.recurring_interval_count, 1))
         ELSE 0 END) AS numerator
FROM subs s JOIN primary_currency pr ON pr.person = s.person
LEFT JOIN subscription_items i ON i.subscription = s.id
GROUP BY s.id;

CREATE TEMP TABLE primary_sub AS
SELECT * FROM (
    SELECT s.*, coalesce(m.numerator, 0) AS numerator, row_number() OVER (
        PARTITION BY s.person
        ORDER BY s.status IN ('active','past_due','trialing','unpaid','paused','incomplete') DESC,
                 CASE WHEN s.status IN ('active','past_due','trialing','unpaid','paused',
                                        'incomplete') THEN coalesce(m.numerator, 0) END DESC,
                 s.created DESC, s.id DESC) AS rank
    FROM subs s LEFT JOIN monthly m ON m.id = s.id)
WHERE rank = 1;

CREATE TEMP TABLE first_item AS
SELECT i.subscription,
       CASE WHEN trim(p.nickname) <> '' THEN p.nickname
            WHEN trim(p.lookup_key) <> '' THEN p.lookup_key ELSE i.price END AS plan,
       coalesce(i.recurring_interval, p.recurring_interval) AS plan_interval
FROM (SELECT *, row_number() OVER (PARTITION BY subscription ORDER BY position) AS rank
      FROM subscription_items) i
LEFT JOIN prices p ON p.id = i.price
WHERE i.rank = 1;

CREATE TEMP TABLE activity AS
SELECT person, count(*) AS purchase_count, min(created) AS first_at, max(created) AS last_at,
       count(*) FILTER (WHERE created > $as_of - 30 * 86400 AND created <= $as_of) AS w30,
       count(*) FILTER (WHERE created > $as_of - 90 * 86400 AND created <= $as_of) AS w90,
       count(*) FILTER (WHERE created > $as_of - 365 * 86400 AND created <= $as_of) AS w365,
       count(*) FILTER (WHERE amount_refunded > 0) AS refund_count
FROM purchase GROUP BY person;

CREATE TEMP TABLE rfm AS
SELECT a.person,
       1 + (5 * (rank() OVER (ORDER BY a.last_at) - 1)) // count(*) OVER () AS r,
       1 + (5 * (rank() OVER (ORDER BY a.purchase_count) - 1)) // count(*) OVER () AS f,
       1 + (5 * (rank() OVER (PARTITION BY pr.currency ORDER BY coalesce(m.spent, 0)) - 1))
           // count(*) OVER (PARTITION BY pr.currency) AS m
FROM activity a JOIN primary_currency pr ON pr.person = a.person
LEFT JOIN pc m ON m.person = a.person AND m.currency = pr.currency;

SELECT p.person,
    ca.customer_id, ca.customer_ids, ca.since AS customer_since,
    pr.currency AS currency,
    major(coalesce(m.spent, 0), pr.currency) AS total_spent,
    bc.totals AS total_spent_by_currency,
    coalesce(a.purchase_count, 0) AS purchase_count,
    a.first_at AS first_purchase_at, a.last_at AS last_purchase_at,
    major(hediv(m.captured, m.n), pr.currency) AS average_order_value,
    coalesce(a.w30, 0) AS purchases_last_30d, coalesce(a.w90, 0) AS purchases_last_90d,
    coalesce(a.w365, 0) AS purchases_last_365d,
    CASE WHEN a.purchase_count >= 2 THEN
        hediv((a.last_at - a.first_at) * 10, (a.purchase_count - 1) * 86400) / 10 END
        AS days_between_purchases,
    coalesce(a.refund_count, 0) AS refund_count,
    major(coalesce(m.refunded, 0), pr.currency) AS refunded_total,
    coalesce(d.n, 0) AS dispute_count, coalesce(d.open, false) AS has_open_dispute,
    coalesce(f.recent, 0) AS failed_payment_count_90d, f.last_at AS last_failed_payment_at,
    ps.status AS subscription_status, fi.plan AS plan, fi.plan_interval AS plan_interval,
    major(coalesce(hediv(mrr.numerator, 12 * (SELECT l FROM lcm_all)), 0), pr.currency) AS mrr,
    ps.start_date AS subscription_started_at, ps.trial_end AS trial_ends_at,
    ps.canceled_at AS canceled_at, ps.cancel_at_period_end AS cancel_at_period_end,
    coalesce(ca.delinquent, false) AS delinquent,
    CASE WHEN r.r >= 4 AND r.f >= 4 AND r.m >= 4 THEN 'champion'
         WHEN r.r >= 3 AND r.f >= 3 THEN 'loyal'
         WHEN r.r = 5 AND r.f = 1 THEN 'new'
         WHEN r.r >= 3 THEN 'promising'
         WHEN r.f >= 3 THEN 'at_risk'
         WHEN r.r IS NOT NULL THEN 'hibernating' END AS rfm_segment
FROM persons p
JOIN primary_currency pr ON pr.person = p.person
LEFT JOIN cust_agg ca ON ca.person = p.person
LEFT JOIN by_currency bc ON bc.person = p.person
LEFT JOIN pc m ON m.person = p.person AND m.currency = pr.currency
LEFT JOIN activity a ON a.person = p.person
LEFT JOIN (SELECT ch.person, count(*) AS n, bool_or(d.status IN ('warning_needs_response',
               'warning_under_review', 'needs_response', 'under_review')) AS open
           FROM disputes d JOIN ch ON ch.id = d.charge WHERE ch.person IS NOT NULL
           GROUP BY ch.person) d ON d.person = p.person
LEFT JOIN (SELECT person, max(created) AS last_at, count(*) FILTER (
               WHERE created > $as_of - 90 * 86400 AND created <= $as_of) AS recent
           FROM ch WHERE status = 'failed' AND person IS NOT NULL GROUP BY person) f
    ON f.person = p.person
LEFT JOIN primary_sub ps ON ps.person = p.person
LEFT JOIN first_item fi ON fi.subscription = ps.id
LEFT JOIN (SELECT m.person, sum(m.numerator) AS numerator FROM monthly m JOIN subs s USING (id)
           WHERE s.status IN ('active', 'past_due') GROUP BY m.person) mrr
    ON mrr.person = p.person
LEFT JOIN rfm r ON r.person = p.person
ORDER BY p.person
"""


def duckdb_attributes(con: duckdb.DuckDBPyConnection, as_of: int) -> pd.DataFrame:
    """Run the attribute SQL over the loaded tables: one row per person, sorted by person."""
    *setup, query = [part.strip() for part in ATTRIBUTE_SQL.split(";\n") if part.strip()]
    for statement in setup:
        con.execute(statement.replace("$as_of", str(int(as_of))))
    return con.execute(query.replace("$as_of", str(int(as_of)))).df().set_index("person")
