"""Packaged apps: the five seed systems, each one folder that ``headwater apps run NAME`` starts.

``headwater/apps/<name>/`` holds ``app.yaml`` (title, description, seed, the
SQL scripts, connector configs and dashboards in the order they are applied,
and what the app requires), the ``*.sql`` scripts, ``connectors/*.json``
(Kafka Connect's ``{"name", "config"}``), ``dashboards/*.yaml`` (the dashboard
file contract, loaded by ``headwater.dashboards``) and a ``README.md`` of what
the app shows. :mod:`headwater.apps.spec` reads them, :mod:`headwater.apps.runner`
applies them to a running server (ksqlDB and Connect REST) or an embedded
Session, idempotently: a rerun changes nothing and fails on nothing.
"""
