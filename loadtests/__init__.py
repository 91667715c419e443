"""Locust scenarios for the vote endpoint. They speak HTTP only: Locust + the standard library.

Run them the Locust way::

    locust -f loadtests --host http://127.0.0.1:8000                 # web UI
    locust -f loadtests --host URL --headless -u 50 -r 50 -t 30s SingleVoter
    locust -f loadtests --host URL --headless --shape step -u 100 -t 2m BatchVoter --batch-size 500

``locustfile.py`` is the one locustfile (users, shape, event hooks); the ``_``-prefixed modules
are helpers Locust's directory loader skips, so nothing is loaded (or hooked) twice.
"""
