"""Charts as server-side SVG: they render offline, with no CDN and no JavaScript.

Every chart carries its numbers as text too (cell labels, ``<title>`` tooltips,
an ``aria-label``), so it reads without colour and with a screen reader.
"""

from __future__ import annotations

from flask_babel import gettext
from markupsafe import Markup, escape

BLUE = (11, 87, 208)
GREEN, RED = "#11632a", "#a11919"


def _shade(value: int, top: int) -> tuple[str, str]:
    """Fill and text colour: white for nothing, deepening blue with the count."""
    if not value or not top:
        return "#ffffff", "#6b6b6b"
    k = 0.12 + 0.88 * value / top
    r, g, b = (round(255 - (255 - c) * k) for c in BLUE)
    return f"rgb({r},{g},{b})", ("#ffffff" if k > 0.55 else "#1b1b1b")


def heatmap(calls: list[list[int]], weekdays: list[str], first_hour: int | None = None,
            last_hour: int | None = None) -> Markup:
    """Calls per hour (rows) × weekday (columns); hours without calls at the edges are left out."""
    busy = [h for h in range(24) if any(calls[h])]
    lo = first_hour if first_hour is not None else (min(busy) if busy else 8)
    hi = last_hour if last_hour is not None else (max(busy) if busy else 16)
    lo, hi = min(lo, 8), max(hi, 16)
    top = max((max(row) for row in calls), default=0)
    cw, ch, left, head = 58, 22, 56, 24
    width, height = left + cw * 7 + 4, head + ch * (hi - lo + 1) + 4
    total = sum(sum(r) for r in calls)
    label = gettext("Samtal per timme och veckodag, totalt %(n)s", n=total)
    out = [f'<svg id="heatmap" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img" aria-label="{escape(label)}" '
           f'font-family="system-ui, sans-serif" font-size="12">']
    for i, day in enumerate(weekdays):
        out.append(f'<text x="{left + cw * i + cw / 2}" y="16" text-anchor="middle" font-weight="600">'
                   f'{escape(day)}</text>')
    for row, hour in enumerate(range(lo, hi + 1)):
        y = head + ch * row
        out.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{hour:02d}–{(hour + 1) % 24:02d}</text>')
        for i, day in enumerate(weekdays):
            n = calls[hour][i]
            fill, ink = _shade(n, top)
            tip = gettext("%(n)s samtal", n=n)
            out.append(f'<g class="cell" data-hour="{hour}" data-weekday="{i + 1}" data-calls="{n}">'
                       f'<title>{escape(day)} {hour:02d}–{(hour + 1) % 24:02d}: {escape(tip)}</title>'
                       f'<rect x="{left + cw * i}" y="{y}" width="{cw - 2}" height="{ch - 2}" fill="{fill}" '
                       f'stroke="#d0d0d0"/><text x="{left + cw * i + (cw - 2) / 2}" y="{y + 15}" '
                       f'text-anchor="middle" fill="{ink}">{n}</text></g>')
    out.append("</svg>")
    return Markup("".join(out))


def trend(rows: list[dict], target: float | None = None, label: str = "dag") -> Markup:
    """Calls per period as bars (answered darker), the switchboard and customer-service levels as lines (%)."""
    width, height, left, right, top_pad, bottom = 760, 240, 48, 44, 16, 40
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    n = len(rows)
    title = gettext("Samtal och servicenivå per %(period)s", period=label)
    out = [f'<svg id="trend" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
           f'role="img" aria-label="{escape(title)}" '
           f'font-family="system-ui, sans-serif" font-size="11">']
    if not n:
        empty = gettext("Inga samtal i perioden")
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">{escape(empty)}</text></svg>')
        return Markup("".join(out))
    peak = max(max(r["calls"] for r in rows), 1)
    step = plot_w / n
    bar = max(1.0, step * 0.8)
    base = top_pad + plot_h
    out.append(f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#999"/>')
    out.append(f'<text x="{left - 6}" y="{top_pad + 8}" text-anchor="end">{peak}</text>'
               f'<text x="{left - 6}" y="{base}" text-anchor="end">0</text>'
               f'<text x="{left + plot_w + 6}" y="{top_pad + 8}">100 %</text>'
               f'<text x="{left + plot_w + 6}" y="{base}">0 %</text>')
    if target is not None:
        y = base - plot_h * target / 100
        goal = gettext("mål %(target)s %%", target=format(target, "g"))
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="{GREEN}" '
                   f'stroke-dasharray="4 3"><title>{escape(goal)}</title></line>')
    every = max(1, round(n / 12))
    for i, r in enumerate(rows):
        x = left + step * i + (step - bar) / 2
        h_all, h_ans = plot_h * r["calls"] / peak, plot_h * r["answered"] / peak
        sl = r.get("service_level_switchboard")
        tip = gettext("%(period)s: %(calls)s samtal, %(answered)s besvarade, %(abandoned)s tappade",
                      period=r["period"], calls=r["calls"], answered=r["answered"], abandoned=r["abandoned"])
        tip += gettext(", växeln %(level)s %%", level=round(sl)) if sl is not None else ""
        out.append(f'<g class="bar"><title>{escape(tip)}</title>'
                   f'<rect x="{x:.1f}" y="{base - h_all:.1f}" width="{bar:.1f}" height="{h_all:.1f}" fill="#b9cdf3"/>'
                   f'<rect x="{x:.1f}" y="{base - h_ans:.1f}" width="{bar:.1f}" height="{h_ans:.1f}" '
                   f'fill="#0b57d0"/></g>')
        if i % every == 0:
            out.append(f'<text x="{x + bar / 2:.1f}" y="{base + 14}" text-anchor="middle">'
                       f'{escape(str(r["period"])[-5:])}</text>')
    lines = (("service_level_switchboard", "#7a4a00", gettext("servicenivå växeln")),
             ("service_level_service", "#6a1b9a", gettext("servicenivå kundtjänst")))
    for key, colour, name in lines:
        points = [(left + step * i + step / 2, base - plot_h * r[key] / 100) for i, r in enumerate(rows)
                  if r.get(key) is not None]
        if len(points) > 1:
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                       + " ".join(f"{x:.1f},{y:.1f}" for x, y in points) + f'"><title>{escape(name)}</title></polyline>')
        elif points:
            x, y = points[0]
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(name)}</title></circle>')
    legend_y = height - 8
    calls, answered = gettext("samtal"), gettext("besvarade i kö")
    switchboard, service = lines[0][2], lines[1][2]
    out.append(f'<rect x="{left}" y="{legend_y - 9}" width="10" height="10" fill="#b9cdf3"/>'
               f'<text x="{left + 14}" y="{legend_y}">{escape(calls)}</text>'
               f'<rect x="{left + 70}" y="{legend_y - 9}" width="10" height="10" fill="#0b57d0"/>'
               f'<text x="{left + 84}" y="{legend_y}">{escape(answered)}</text>'
               f'<line x1="{left + 190}" y1="{legend_y - 4}" x2="{left + 210}" y2="{legend_y - 4}" stroke="#7a4a00" '
               f'stroke-width="2"/><text x="{left + 214}" y="{legend_y}">{escape(switchboard)}</text>'
               f'<line x1="{left + 330}" y1="{legend_y - 4}" x2="{left + 350}" y2="{legend_y - 4}" stroke="#6a1b9a" '
               f'stroke-width="2"/><text x="{left + 354}" y="{legend_y}">{escape(service)}</text>')
    out.append("</svg>")
    return Markup("".join(out))
