"""Generators of the seed systems' events, with the seeds' field names and realistic distributions.

- ``audit_log`` (seed 000, a Spring/MongoDB generator read by a Mongo source
  connector): ``{"_id", "type", "details": {"name", "action", "userId",
  "productId"}, "created_at"}``. The seed draws every field uniformly; here the
  event types follow a shop funnel (pages far more often than orders), the
  screen and action follow the type, 100 products have Zipf-like popularity
  and 5,000 users Zipf-like activity. ``userId`` and ``productId`` keep the
  seed's text form with a leading space (``" 42"``), so the seed's downstream
  queries see what they always saw. ``created_at`` is the event's time (UTC,
  ISO local date-time with microseconds, no zone); the seed added up to four
  hours by mistake. Spring's ``_class`` fields are left out.
- ``website_visits`` (seed 002, a Scala producer keyed by country):
  ``{"visitDate", "country", "lastAction", "duration"}`` with ``visitDate`` the
  epoch milliseconds as text, as in the seed. Countries and last actions are
  weighted (a quarter of visits end in the shopping cart: abandoned carts),
  and ``duration`` is the visit's length in seconds, log-normal around a median
  that depends on the last page. The seed put a timestamp there by mistake.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from datetime import UTC, datetime
from typing import Any

from headwater.connect.data import ConnectSchema, Field
from headwater.datagen.base import Generator

_STRING = ConnectSchema("string")


def _cumulative(weights: list[float]) -> list[float]:
    return list(itertools.accumulate(weights))


def _pick(rng: random.Random, options: list[Any], cum_weights: list[float]) -> Any:
    return options[bisect.bisect_right(cum_weights, rng.random() * cum_weights[-1])]


def _zipf(n: int, s: float) -> list[float]:
    return _cumulative([1.0 / (rank + 1) ** s for rank in range(n)])


class AuditLogGenerator(Generator):
    """Seed 000's audit-log events."""

    TYPES = ["PAGE", "LOGIN", "ADD_TO_CART", "SIGNUP", "ORDER"]
    TYPE_WEIGHTS = _cumulative([0.50, 0.18, 0.17, 0.08, 0.07])
    #: (screen, action) per event type, with weights.
    SCREENS: dict[str, tuple[list[tuple[str, str]], list[float]]] = {
        "PAGE": ([("PRODUCT_LISTING", "VIEW"), ("PRODUCT_DETAILS", "VIEW"), ("PRODUCT_LISTING", "CLICK"),
                  ("PRODUCT_DETAILS", "CLICK"), ("CART", "VIEW")], _cumulative([0.35, 0.30, 0.15, 0.10, 0.10])),
        "LOGIN": ([("PRODUCT_LISTING", "CLICK"), ("CART", "CLICK")], _cumulative([0.6, 0.4])),
        "SIGNUP": ([("PRODUCT_LISTING", "CLICK"), ("CART", "CLICK")], _cumulative([0.7, 0.3])),
        "ADD_TO_CART": ([("PRODUCT_DETAILS", "CLICK"), ("PRODUCT_LISTING", "CLICK")], _cumulative([0.75, 0.25])),
        "ORDER": ([("CART", "CLICK")], _cumulative([1.0])),
    }
    PRODUCTS = 100
    USERS = 5000

    def __init__(self) -> None:
        details = ConnectSchema("struct", name="EventDetails", fields=(
            Field("name", _STRING), Field("action", _STRING), Field("userId", _STRING), Field("productId", _STRING)))
        self.value_schema = ConnectSchema("struct", name="EventModel", fields=(
            Field("_id", ConnectSchema("int64")), Field("type", _STRING), Field("details", details),
            Field("created_at", _STRING)))
        self.key_field = "_id"
        # A fixed population: the same users and product ranking whatever the seed.
        population = random.Random(1080)
        self._user_ids = [f" {population.randrange(-(2**63), 2**63)}" for _ in range(self.USERS)]
        products = [f" {p}" for p in range(self.PRODUCTS)]
        population.shuffle(products)
        self._products = products
        self._product_weights = _zipf(self.PRODUCTS, 1.1)
        self._user_weights = _zipf(self.USERS, 0.8)

    def value(self, iteration: int, rng: random.Random, now_ms: int) -> dict[str, Any]:
        event_type = _pick(rng, self.TYPES, self.TYPE_WEIGHTS)
        screens, weights = self.SCREENS[event_type]
        name, action = _pick(rng, screens, weights)
        created = datetime.fromtimestamp(now_ms / 1000, UTC).replace(tzinfo=None)
        return {
            "_id": rng.randrange(-(2**63), 2**63),
            "type": event_type,
            "details": {
                "name": name,
                "action": action,
                "userId": _pick(rng, self._user_ids, self._user_weights),
                "productId": _pick(rng, self._products, self._product_weights),
            },
            "created_at": created.isoformat(timespec="microseconds"),
        }


class WebsiteVisitGenerator(Generator):
    """Seed 002's website visits."""

    COUNTRIES = ["INDIA", "UAE", "GERMANY", "QATAR"]
    COUNTRY_WEIGHTS = _cumulative([0.38, 0.27, 0.22, 0.13])
    ACTIONS = ["LISTING_PAGE", "SHOPPING_CART", "CONFIGURATION_PAGE", "FAQ"]
    ACTION_WEIGHTS = _cumulative([0.42, 0.25, 0.20, 0.13])
    #: Median visit length in seconds by last page (log-normal, sigma below).
    MEDIAN_DURATION_S = {"LISTING_PAGE": 45.0, "SHOPPING_CART": 180.0, "CONFIGURATION_PAGE": 120.0, "FAQ": 60.0}
    DURATION_SIGMA = 0.8
    MAX_DURATION_S = 4 * 3600

    def __init__(self) -> None:
        self.value_schema = ConnectSchema("struct", name="VisitStats", fields=(
            Field("visitDate", _STRING), Field("country", _STRING), Field("lastAction", _STRING),
            Field("duration", ConnectSchema("int64"))))
        self.key_field = "country"

    def value(self, iteration: int, rng: random.Random, now_ms: int) -> dict[str, Any]:
        action = _pick(rng, self.ACTIONS, self.ACTION_WEIGHTS)
        seconds = rng.lognormvariate(math.log(self.MEDIAN_DURATION_S[action]), self.DURATION_SIGMA)
        return {
            "visitDate": str(now_ms),
            "country": _pick(rng, self.COUNTRIES, self.COUNTRY_WEIGHTS),
            "lastAction": action,
            "duration": max(1, min(self.MAX_DURATION_S, round(seconds))),
        }
