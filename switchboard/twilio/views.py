"""The Twilio blueprint with all its routes: what ``create_app`` registers.

The login layer lets these endpoints through (rule ``twilio`` in
``switchboard/access.py``, one per endpoint) and CSRF protection skips them:
Twilio posts no session and no CSRF token — the request signature checked in
:mod:`.blueprint` guards them instead.
"""

from switchboard.auth import csrf
from switchboard.twilio import control, inbound, operator, outbound  # noqa: F401  (they define the routes)
from switchboard.twilio.blueprint import bp

csrf.exempt(bp)

__all__ = ["bp"]
