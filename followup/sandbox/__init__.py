"""A local server that answers like SendGrid's v3 mail send API, for the demo, tests and load tests.

    with Sandbox(SandboxConfig(latency_ms=50)) as sandbox:
        ...  # point the SendGrid transport at sandbox.url with sandbox.config.api_key
        sandbox.messages()  # what it accepted

Endpoints: POST /v3/mail/send (SendGrid's answers, errors and limits), GET /sandbox/messages
(JSON), GET /sandbox/message-keys (each accepted message's id and message_key), GET
/sandbox/stats (counts), GET /sandbox/outbox (an HTML page). Everything it keeps is
in memory.
"""

from followup.sandbox.app import SandboxConfig
from followup.sandbox.server import Sandbox, serve

__all__ = ["Sandbox", "SandboxConfig", "serve"]
