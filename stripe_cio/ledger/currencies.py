"""The ISO 4217 currency codes the ledger accepts: those Stripe supports, in lower case."""

from __future__ import annotations

# Stripe's presentment currencies, lower case as the API sends them.
# Source: https://docs.stripe.com/currencies ("Supported presentment currencies"; "You must use
# all lowercase letters when passing the three-letter ISO code").
_CURRENT = """
usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp byn
bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel ghs gip gmd
gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt lak lbp
lkr lrd lsl mad mdl mga mkd mmk mnt mop mru mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd omr
pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sll sos srd stn szl
thb tjs tnd top try ttd twd tzs uah ugx uyu uzs ves vnd vuv wst xaf xcd xcg xof xpf yer zar zmw
"""
# Codes Stripe accepted in the past and has since retired (the euro replaced eek, hrk, ltl, lvl;
# redenominations replaced mro, std, vef, byr): a ledger holds history, so old charges in them
# must still load.
_RETIRED = "eek hrk ltl lvl mro std svc vef byr"

STRIPE_CURRENCIES: frozenset[str] = frozenset(_CURRENT.split()) | frozenset(_RETIRED.split())
