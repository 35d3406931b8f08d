"""The JSON APIs the web UI's pages read: the topic browser's (``browse.py``) and the flow view's (``flow.py``).

Both share one :class:`~headwater.server.rates.LiveRates` sampler (stopped when the app shuts down), so a
topic's rate is the same figure on every page.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from headwater.server import browse, flow
from headwater.server.app import ServerState
from headwater.server.rates import LiveRates


def routes(state: ServerState) -> list[BaseRoute]:
    rates = LiveRates(state.log, state.session)
    state.closers.append(rates)
    return [*browse.routes(state, rates), *flow.routes(state, rates)]
