"""Dashboards as data: one YAML file per dashboard, panels of SQL and a chart type.

:mod:`~headwater.dashboards.spec` is the validated model of a file,
:mod:`~headwater.dashboards.store` finds them (packaged, in app folders, in
``--dashboards DIR``, and those saved over the API), :mod:`~headwater.dashboards.api`
serves them and their panels' data, :mod:`~headwater.dashboards.grafana` exports
one as a Grafana dashboard over the server's ``/metrics``.
"""
