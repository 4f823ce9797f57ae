"""The shared base: what every other package may import, and which imports nothing of ours.

``db`` (declarative base, column types, engines, sessions), ``clock`` (the
service clock), ``settings`` (defaults, TOML, ``VAXEL_*``), ``services`` (the
runtime services of the running app: settings, database, clock, adapters'
call controls) and ``audit`` (the audit record every change writes); ``csvsafe``
(cells every CSV we write neutralises, so no spreadsheet runs them as formulas).
"""
