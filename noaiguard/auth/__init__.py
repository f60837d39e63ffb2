"""The decision endpoint for a web server that keeps serving the site itself.

nginx (``auth_request``), Caddy (``forward_auth``) or Traefik (``forwardAuth``) ask
``noaiguard serve-auth`` about every request before serving it, and add the opt-out signals it
answers with to their own response; deploy/ has the configurations. The web server never hands
the files to Python, so this is the fastest way to run noaiguard.

* :mod:`.endpoint`: what is answered (decisions, robots.txt and noaiguard's other files, health);
* :mod:`.original`: the visitor's request, read off the web server's subrequest;
* :mod:`.http`: the small HTTP/1.1 server it listens with (needs httptools, so it is imported
  only when serving);
* :mod:`.command`: ``noaiguard serve-auth``.
"""

from __future__ import annotations

#: Where the web server asks about a request.
AUTH_PATH = "/.noaiguard/auth"
#: Answered 200 while serve-auth runs, for the web server's or the container's health check.
HEALTH_PATH = "/.noaiguard/health"
#: How a refusal is answered, whatever ``policy.block.status`` says: the status all three web
#: servers read as "deny" (nginx turns anything but 401 and 403 into a 500).
REFUSED = 403
