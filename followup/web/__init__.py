"""The public web server (`followup serve`): a Starlette app under uvicorn, behind a reverse proxy for TLS.

Each rule is a handler module: unsubscribe (the links of keep-in-touch mail) and health (GET
/health); app.py maps requests to them and gives every answer the same headers, refusals and
failure pages; server.py runs the app. The server needs the ledger only, never Prefect.
"""

from followup.web.app import make_app
from followup.web.server import CannotListen, serve, serving

__all__ = ["CannotListen", "make_app", "serve", "serving"]
