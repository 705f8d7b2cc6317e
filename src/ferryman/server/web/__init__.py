"""The dashboard: server-rendered pages, live updates over server-sent events, login.

``install.install(app)`` adds it to the FastAPI app of :func:`ferryman.server.create_app`:

::

    /                        → /releases
    /login, /logout          a token in, a signed session cookie out
    /releases                every release, filtered by system, environment, phase, version
    /releases/<id>           the build DAG, the world view, canary charts, gates, audit
    /releases/<id>/events    the live part of that page, as server-sent events
    /releases/<id>/actions/<pause|resume|promote|rollback|abort>   (POST, CSRF)
    /gates                   the gates inbox; POST …/gates/<gate>/<approve|reject> (CSRF)
    /static/…                the page's own CSS and script (package data)

Pages are rendered from Jinja2 templates shipped in the package; the graphs
and charts are inline SVG laid out in Python (:mod:`.layout`), so the browser
fetches nothing but this server's own files.
"""
