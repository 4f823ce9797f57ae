"""The staff directory: organisation units, staff and their keywords (sökord)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from switchboard.db import Base


class Unit(Base):
    """A förvaltning, avdelning or enhet; ``parent_id`` builds the organisation tree."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # forvaltning | avdelning | enhet
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)

    parent: Mapped["Unit | None"] = relationship(remote_side=[id])


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(80), unique=True)  # stable id from the HR export
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200), default="")
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    extension: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)  # E.164
    mobile: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)  # E.164
    email: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")

    unit: Mapped[Unit] = relationship()
    keywords: Mapped[list["Keyword"]] = relationship(cascade="all, delete-orphan")


class Keyword(Base):
    """A search word on a person or a unit; ``folded`` is the lower-case form searched on."""

    __tablename__ = "keywords"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    term: Mapped[str] = mapped_column(String(120))
    folded: Mapped[str] = mapped_column(String(120), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), nullable=True, index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), nullable=True, index=True)
