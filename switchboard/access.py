"""Who may open what: one table, checked before every request, deny by default.

Every endpoint must be listed in :data:`RULES`. An endpoint that is not is
refused (and a test fails), so a new page can never leak staff data by being
forgotten. Roles: ``admin`` may do everything; ``operator`` works the
directory and the console; ``stats`` reads statistics; ``staff`` works their
own unit's list of messages and callbacks (``/requests``, only their unit). ``public`` needs no
login; ``any`` needs a login of any role; ``operator,stats`` lists several
roles; ``twilio`` endpoints are the webhooks Twilio's platform posts to: no
login, but refused (403) without a valid ``X-Twilio-Signature`` by the Twilio
blueprint's own check (and 404 while ``twilio.enabled`` is false);
``monitoring`` is for Prometheus: no login, but loopback only or a bearer token
(:mod:`switchboard.metrics`). Nothing changes this table at run time.
"""

from __future__ import annotations

ROLES = ("admin", "operator", "stats", "staff")

# endpoint -> who may use it
RULES: dict[str, str] = {
    "static": "public",
    "web.index": "public",
    "web.healthz": "public",
    "web.home": "public",  # redirects to the role's own page (switchboard/navigation.py)
    "metrics.metrics": "monitoring",  # loopback, or VAXEL_METRICS_TOKEN (switchboard/metrics.py)
    "ivr.hours_page": "public",
    "auth.login": "public",
    "auth.logout": "any",  # any logged-in user
    "auth.password": "any",
    "callbacks.index": "operator",  # the callback list and its actions (callback/views.py)
    "callbacks.call_now": "operator",
    "callbacks.done": "operator",
    "callbacks.cancel": "operator",
    "callbacks.unit_list": "staff,operator",  # the unit's list: staff see only their unit (callback/views.py)
    "callbacks.unit_done": "staff,operator",
    "callbacks.unit_return": "staff,operator",
    "directory.static": "operator",
    "directory.page": "operator",
    "directory.api_search": "operator",
    "directory.api_entry": "operator",
    "directory.api_set_status": "operator",
    "directory.admin": "admin",
    "console.static": "operator",
    "console.page": "operator",
    "console.stream": "operator",
    "console.snapshot": "operator",
    "console.set_state": "operator",
    "console.answer": "operator",
    "console.transfer": "operator",
    "console.to_queue": "operator",
    "console.simulate": "operator",
    "console.end": "operator",
    "console.complete": "operator",
    "console.cancel": "operator",
    "console.hold": "operator",
    "console.wrapup": "operator",
    "console.message": "operator",
    "flowadmin.static": "admin",
    "flowadmin.editor": "admin",
    "flowadmin.save_draft": "admin",
    "flowadmin.publish": "admin",
    "flowadmin.discard": "admin",
    "flowadmin.history": "admin",
    "flowadmin.diff": "admin",
    "flowadmin.rollback": "admin",
    "flowadmin.api_testcall": "admin",
    "hoursadmin.page": "admin",
    "hoursadmin.save_schedule": "admin",
    "hoursadmin.save_special": "admin",
    "hoursadmin.delete_special": "admin",
    "hoursadmin.add_notice": "admin",
    "hoursadmin.end_notice": "admin",
    "audit.log_page": "admin",
    "audit.log_csv": "admin",
    "directory.export": "admin",
    "stats.dashboard": "operator,stats",  # the statistics dashboard (stats/views.py)
    "stats.api_report": "stats",
    "stats.api_calls": "stats",  # personal=1 is for admins only (checked in the view)
    "directory.edit_entry": "admin",
    "directory.delete_entry": "admin",
    "directory.save_unit": "admin",
    "directory.export_units": "admin",
    "directory.import_units": "admin",
    "directory.save_rota": "admin",
    "directory.export_rota": "admin",
    "directory.import_rota": "admin",
    "directory.import_rota_ics": "admin",
    # Twilio webhooks (switchboard/twilio/): the citizen's call (inbound.py)
    "twilio.voice": "twilio",
    "twilio.step": "twilio",
    "twilio.dial": "twilio",
    "twilio.whisper": "twilio",
    "twilio.whisper_answer": "twilio",
    "twilio.wait": "twilio",
    "twilio.offer": "twilio",
    "twilio.queue_result": "twilio",
    "twilio.status": "twilio",
    "twilio.fallback": "twilio",
    # operators taking callers with <Dial><Queue> (operator.py)
    "twilio.operator": "twilio",
    "twilio.operator_next": "twilio",
    "twilio.dequeued": "twilio",
    # the console's actions on a Twilio call fetch their TwiML here (control.py)
    "twilio.console_dial": "twilio",
    "twilio.console_consult": "twilio",
    "twilio.console_hold": "twilio",
    # callbacks placed through the REST API (outbound.py)
    "twilio.callback_answer": "twilio",
    "twilio.callback_dialled": "twilio",
    "twilio.callback_wait": "twilio",
    "twilio.callback_left": "twilio",
    "twilio.callback_status": "twilio",
}


def allowed(rule: str, role: str | None) -> bool:
    """May a user with ``role`` (None = anonymous) use an endpoint with ``rule``?"""
    if rule in ("public", "twilio", "monitoring"):
        return True
    if role is None:
        return False
    if rule == "any" or role == "admin":
        return True
    return role in rule.split(",")
