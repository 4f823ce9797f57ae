"""The Twilio blueprint with all its routes: what ``create_app`` registers.

The login layer (``switchboard.access``) lets these endpoints through and
CSRF protection skips them: Twilio posts no session and no CSRF token — the
request signature checked in :mod:`.blueprint` guards them instead. Importing
:mod:`.control` also registers the console's ``CallControl`` for channel ``twilio``.
"""

from switchboard.auth import csrf
from switchboard.twilio import control, inbound, operator, outbound  # noqa: F401  (they register the routes)
from switchboard.twilio.blueprint import allow_through_login, bp

bp.record_once(allow_through_login)  # recorded after the routes above, so it sees them all
csrf.exempt(bp)

__all__ = ["bp"]
