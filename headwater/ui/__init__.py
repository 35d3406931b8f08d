"""The web UI, served by ``headwater up`` on the same port as the APIs.

Pages are server-rendered Jinja2 shells (``templates/``) that carry no data:
their scripts (``static/``) fetch everything from the guarded JSON APIs with
the API key kept in ``sessionStorage``. So a page can be served without a key
while every byte of data still needs one, and the pages work the same under
``--admin-key`` as without. :mod:`headwater.ui.routes` assembles the pages.
"""
