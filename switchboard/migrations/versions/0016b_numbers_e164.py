"""every stored directory number in E.164: numbers stored before they were validated where they enter

Revision ID: 0016b
Revises: 0016
Create Date: 2026-12-01

A number in national or any other form ("070-174 06 50", "0046 70 ...") becomes E.164 ("+46701740650"); an
extension in ``staff_numbers`` stays as it is. Text that is no number ("ring mig på mobilen") is never
dialled: it is taken out of the number column and kept where people read it — a staff member's
``notes``, a presence's ``reason`` (a "forwarded" status without a number becomes "absent") — so nothing is
lost. Numbers are read as Swedish (the region of every site so far). Data only: the downgrade keeps E.164.
"""
import logging
import re

import phonenumbers
import sqlalchemy as sa
from alembic import op

revision = "0016b"
down_revision = "0016"
branch_labels = None
depends_on = ("0003",)  # the directory tables

log = logging.getLogger("alembic.runtime.migration")
REGION = "SE"
EXTENSION = re.compile(r"\d{2,6}")


def e164(raw: str) -> str | None:
    """The E.164 form of a phone number written any way, else None (kept in step with directory.numbers)."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, REGION)
    except phonenumbers.NumberParseException:
        return None
    if parsed.extension or not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def upgrade() -> None:
    conn = op.get_bind()
    staff = conn.execute(sa.text("SELECT id, phone, mobile, notes FROM staff")).all()
    for staff_id, phone, mobile, notes in staff:
        values, kept = {"phone": phone, "mobile": mobile}, []
        for column, raw in list(values.items()):
            if raw is None or raw.strip() == "":
                values[column] = None
                continue
            number = e164(raw)
            if number is None:
                kept.append(f"{column}: {raw.strip()}")
            values[column] = number
        if values != {"phone": phone, "mobile": mobile} or kept:
            note = notes or ""
            if kept:
                note = (note + "\n" if note else "") + "Inte ett telefonnummer (taget ur nummerfältet vid " \
                                                         "uppgraderingen): " + "; ".join(kept)
                log.warning("staff %s: %s is not a phone number; moved to the notes", staff_id, "; ".join(kept))
            conn.execute(sa.text("UPDATE staff SET phone = :phone, mobile = :mobile, notes = :notes WHERE id = :id"),
                         {**values, "notes": note, "id": staff_id})
    for row_id, staff_id, value, label in conn.execute(
            sa.text("SELECT id, staff_id, value, label FROM staff_numbers")).all():
        if EXTENSION.fullmatch(value.strip()):
            continue
        number = e164(value)
        if number is not None:
            if number != value:
                conn.execute(sa.text("UPDATE staff_numbers SET value = :v WHERE id = :id"), {"v": number, "id": row_id})
            continue
        log.warning("staff %s: other number %r is not a phone number; moved to the notes", staff_id, value)
        note = conn.execute(sa.text("SELECT notes FROM staff WHERE id = :id"), {"id": staff_id}).scalar() or ""
        text = f"Inte ett telefonnummer (taget ur övriga nummer vid uppgraderingen): {label or 'nummer'}: {value}"
        conn.execute(sa.text("UPDATE staff SET notes = :n WHERE id = :id"),
                     {"n": (note + "\n" if note else "") + text, "id": staff_id})
        conn.execute(sa.text("DELETE FROM staff_numbers WHERE id = :id"), {"id": row_id})
    for staff_id, status, reason, forward_to in conn.execute(
            sa.text("SELECT staff_id, status, reason, forward_to FROM presence WHERE forward_to IS NOT NULL")).all():
        number = e164(forward_to)
        if number is not None:
            if number != forward_to:
                conn.execute(sa.text("UPDATE presence SET forward_to = :f WHERE staff_id = :id"),
                             {"f": number, "id": staff_id})
            continue
        log.warning("presence of staff %s: forward %r is not a phone number; now absent with it as the reason",
                    staff_id, forward_to)
        reason = ((reason or "") + " – " if reason else "") + f"hänvisning: {forward_to.strip()}"
        conn.execute(sa.text("UPDATE presence SET forward_to = NULL, reason = :r, status = :s WHERE staff_id = :id"),
                     {"r": reason, "s": "absent" if status == "forwarded" else status, "id": staff_id})


def downgrade() -> None:
    pass  # E.164 is what every version of vaxel reads and writes; nothing to undo
