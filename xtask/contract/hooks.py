"""Schemathesis hooks for `cargo xtask contract`.

The OpenAPI document states every rule JSON Schema can carry (patterns,
enums, lengths, one object per party kind). A few rules it can only state
in words; this file teaches the generator those, and nothing else:

* the formats `ir-national-id`, `ir-legal-entity-id` and `ir-economic-code`:
  digits whose last one is a check digit (hamgam_domain::validation);
* path parameters that name a record (`{id}` under a collection, the
  sync routes' `{instance}`): most cases get one that exists, so the
  operation reaches its logic rather than its 404; the rest keep the
  generated value, so "not found" is still tried;
* rules that tie one field to another or to records that exist, each
  named in its field's description: references (`party_id`, `product_id`,
  `related_id`, `invoice_id`) name records of the tenant; a discount is at
  most what it discounts; at most one phone and one address is the
  default; a cheque carries its serial; a payment's settlements add up
  to its amount, the first one's method is its method, and the
  single-settlement fields beside them repeat the first or are absent; a
  return names the invoice it corrects; client `totals`, when sent, equal the API's own; a document
  date has a tax rate in the tenant's table.

Generated bodies are adjusted to those rules just before they are sent
(not dropped), so every operation still gets its full share of examples.
"""

import json
import os
import random
import time
import urllib.request
from decimal import Decimal, InvalidOperation

import schemathesis
from hypothesis import strategies as st

BASE = os.environ["HAMGAM_CONTRACT_BASE"]
TOKEN = os.environ["HAMGAM_CONTRACT_TOKEN"]
TENANT = os.environ["HAMGAM_CONTRACT_TENANT"]
# The first day of the contract tenant's rate table (its config).
FIRST_RATE_DATE = os.environ["HAMGAM_CONTRACT_FIRST_RATE"]
# The run is reproducible: `cargo xtask contract` fixes schemathesis's seed
# too.
random.seed(int(os.environ.get("HAMGAM_CONTRACT_SEED", "0")))


# ------------------------------------------------------------- check digits


def _national_id(first9):
    s = sum(d * w for d, w in zip(first9, range(10, 1, -1)))
    r = s % 11
    return first9 + [r if r < 2 else 11 - r]


def _legal_entity_id(first10):
    weights = [29, 27, 23, 19, 17]
    t = first10[9] + 2
    s = sum((d + t) * weights[i % 5] for i, d in enumerate(first10))
    r = s % 11
    return first10 + [0 if r == 10 else r]


def _digits(n):
    return st.lists(st.integers(0, 9), min_size=n, max_size=n)


def _text(ds):
    return "".join(map(str, ds))


national_ids = (
    _digits(9).filter(lambda d: len(set(d)) > 1).map(_national_id).map(_text)
)
legal_entity_ids = (
    _digits(10)
    .filter(lambda d: any(d[3:9]) and len(set(d)) > 1)
    .map(_legal_entity_id)
    .map(_text)
)
economic_codes = st.one_of(
    national_ids,
    legal_entity_ids,
    _digits(12).filter(lambda d: len(set(d)) > 1).map(_text),
    _digits(14).filter(lambda d: len(set(d)) > 1).map(_text),
)

schemathesis.openapi.format("ir-national-id", national_ids)
schemathesis.openapi.format("ir-legal-entity-id", legal_entity_ids)
schemathesis.openapi.format("ir-economic-code", economic_codes)


# ----------------------------------------------------- records that exist


# Listings are read at most once a second: fresh enough to follow the
# run's own deletions, cheap enough not to dominate it.
_CACHE = {}


def _get(path):
    now = time.monotonic()
    hit = _CACHE.get(path)
    if hit and now - hit[0] < 1.0:
        return hit[1]
    items = _fetch(path)
    _CACHE[path] = (now, items)
    return items


def _fetch(path):
    req = urllib.request.Request(
        f"{BASE}/api/v1/tenants/{TENANT}/{path}",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)["items"]


DOCUMENT_KINDS = [
    "quotes",
    "sales-orders",
    "sales-invoices",
    "sales-returns",
    "purchase-invoices",
    "purchase-returns",
    "correction-notes",
]
RETURN_KINDS = {"sales-returns", "purchase-returns", "correction-notes"}

def _parties():
    return [p["id"] for p in _get("parties?limit=500")]


def _products():
    return [p["id"] for p in _get("products?limit=500")]


def _documents(kind):
    return _get(f"{kind}?limit=500")


def _any_document():
    return [d["id"] for kind in DOCUMENT_KINDS for d in _documents(kind)]

# What a receipt or a payment may settle (store::crm::settles).
SETTLES = {"receipts": "sales-invoices", "payments": "purchase-invoices"}


# ------------------------------------------------------------- the rules


def _dec(value):
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


def _one_default(items):
    seen = False
    for item in items or []:
        if isinstance(item, dict) and item.get("default"):
            if seen:
                item["default"] = False
            seen = True


def _collection(path):
    # /api/v1/tenants/{tenant}/<collection>[/{id}]
    return path.split("/")[5]


def _party(body):
    _one_default(body.get("phones"))
    _one_default(body.get("addresses"))


def _document(kind, body):
    # Read afresh: the run itself deletes parties, products and documents.
    parties, products = _parties(), _products()
    if parties:
        body["party_id"] = random.choice(parties)
    # Client totals must equal the API's own (check_totals): a generator
    # cannot know them, so it sends none.
    body.pop("totals", None)
    if isinstance(body.get("date"), str) and body["date"] < FIRST_RATE_DATE:
        body["date"] = FIRST_RATE_DATE
    if kind in RETURN_KINDS or "related_id" in body:
        documents = _any_document()
        if documents:
            body["related_id"] = random.choice(documents)
    net = Decimal(0)
    lines = body.get("lines")
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, dict):
            continue
        if "product_id" in line:
            if products:
                line["product_id"] = random.choice(products)
            else:
                del line["product_id"]
        gross = _dec(line.get("quantity", 0)) * _dec(line.get("unit_price", 0))
        # Rounding to the currency's unit moves the gross by less than 1.
        room = gross + _dec(line.get("additions", 0)) - 1
        if _dec(line.get("discount", 0)) > max(room, Decimal(0)):
            line["discount"] = "0"
        net += max(room - _dec(line.get("discount", 0)), Decimal(0))
    if _dec(body.get("discount", 0)) > net + _dec(body.get("additions", 0)):
        body["discount"] = "0"


def _settlements(body):
    """Several settlements: they add up to the amount, the first one's
    method is `method`, a cheque carries its serial, and the
    single-settlement fields are left out (they may only repeat the
    first settlement)."""
    parts = [p for p in body["settlements"] if isinstance(p, dict)]
    amount = int(_dec(body.get("amount", 0)))
    if not parts or amount < 1:
        return
    parts = parts[: min(len(parts), amount)]
    for part in parts:
        part["amount"] = "1"
        if part.get("method") == "cheque" and not str(part.get("reference", "")).strip():
            part["reference"] = "1234567"
    parts[-1]["amount"] = str(amount - (len(parts) - 1))
    body["settlements"] = parts
    body["method"] = parts[0].get("method", body.get("method"))
    for field in ("cheque_number", "cheque_due", "reference"):
        body.pop(field, None)


def _payment(kind, body):
    parties = _parties()
    if parties:
        body["party_id"] = random.choice(parties)
    if isinstance(body.get("settlements"), list) and body["settlements"]:
        _settlements(body)
    elif body.get("method") == "cheque" and not str(body.get("cheque_number", "")).strip():
        body["cheque_number"] = "1234567"
    if "invoice_id" in body:
        invoices = _documents(SETTLES[kind])
        if invoices:
            invoice = random.choice(invoices)
            body["invoice_id"] = invoice["id"]
            body["party_id"] = invoice["party_id"]
            body["currency"] = invoice["currency"]
        else:
            del body["invoice_id"]


# ------------------------------------------------------ records by path


# The tenant's one connector instance (the contract config names it).
INSTANCE = "sepidar-300"
# Share of cases whose path names a record that exists.
EXISTING = 0.8
# CRM kinds as the sync routes name them, and their collections.
SYNC_KINDS = {
    "party": "parties",
    "product": "products",
    "quote": "quotes",
    "sales_invoice": "sales-invoices",
    "receipt": "receipts",
}


def _path(case):
    params = case.path_parameters
    if not isinstance(params, dict) or random.random() >= EXISTING:
        return
    parts = case.operation.path.split("/")
    collection = parts[5]
    if "instance" in params:
        params["instance"] = INSTANCE
    if "id" not in params:
        return
    if collection == "sync":
        # /sync/outbox/{id}/retry and /sync/records/{kind}/{id}
        if parts[6] == "outbox":
            ids = [row["id"] for row in _get("sync/outbox?limit=500")]
        else:
            kind = random.choice(sorted(SYNC_KINDS))
            params["kind"] = kind
            ids = [r["id"] for r in _get(f"{SYNC_KINDS[kind]}?limit=500")]
    else:
        ids = [item["id"] for item in _get(f"{collection}?limit=500")]
    if ids:
        params["id"] = random.choice(ids)


# `before_call` rather than `map_body`: it sees the cases of every phase
# (examples and coverage too, which the body map hooks do not reach).
@schemathesis.hook
def before_call(context, case, **kwargs):
    _path(case)
    body = case.body
    if not isinstance(body, dict):
        return
    kind = _collection(case.operation.path)
    if kind == "parties":
        _party(body)
    elif kind in DOCUMENT_KINDS:
        _document(kind, body)
    elif kind in SETTLES:
        _payment(kind, body)
