#!/usr/bin/env python3
"""Plots the peers benchmark: events/s against rules, both on log scales.

Reads benches/peers/results.csv (engine,form,rules,events_per_sec; an empty
events_per_sec is a size that was not run) and writes docs/peers.svg, both
relative to the repository root, whatever the working directory.

    python3 benches/peers/plot.py [RESULTS.csv [OUT.svg]]

Standard library only.
"""

import csv
import math
import sys
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

WIDTH, HEIGHT = 960, 600
LEFT, RIGHT, TOP, BOTTOM = 90, 250, 50, 70  # margins around the plot area

# One colour per engine; the best-effort form is dashed.
COLOURS = {
    "jrule": "#d62728",
    "cel": "#1f77b4",
    "rhai": "#2ca02c",
    "cedar": "#9467bd",
    "regorus": "#ff7f0e",
    "zen": "#8c564b",
}
OTHER_COLOURS = ["#17becf", "#bcbd22", "#e377c2", "#7f7f7f"]


def read(path):
    """Series keyed by (engine, form), each a sorted list of (rules, events/s)."""
    series = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = (row["engine"].strip(), row["form"].strip())
            series.setdefault(key, [])
            value = (row.get("events_per_sec") or "").strip()
            if not value:
                continue
            eps = float(value)
            if eps > 0:
                series[key].append((int(row["rules"]), eps))
    for points in series.values():
        points.sort()
    return series


def short(v):
    """10, 100, 1k, 10k, 100k, 1M, 10M."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            q = v / div
            return f"{q:g}{suffix}"
    return f"{v:g}"


def plot(series, out):
    xs = [x for pts in series.values() for x, _ in pts]
    ys = [y for pts in series.values() for _, y in pts]
    if not xs:
        raise SystemExit("no measured points in the results")
    x0, x1 = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    if x1 == x0:
        x1 += 1
    if y1 == y0:
        y1 += 1
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x):
        return LEFT + (math.log10(x) - x0) / (x1 - x0) * pw

    def py(y):
        return TOP + ph - (math.log10(y) - y0) / (y1 - y0) * ph

    s = []
    add = s.append
    add(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="13">'
    )
    add(f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="white"/>')
    add(
        f'<text x="{LEFT + pw / 2:.1f}" y="28" text-anchor="middle" font-size="16" '
        f'font-weight="bold">W1: events per second against rules</text>'
    )

    # Grid: decades solid, 2..9 faint; ticks and labels on the decades.
    for d in range(x0, x1 + 1):
        for m in range(1, 10):
            v = m * 10**d
            if d == x1 and m > 1:
                break
            x = px(v)
            add(
                f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + ph}" '
                f'stroke="{"#cccccc" if m == 1 else "#eeeeee"}" stroke-width="1"/>'
            )
            if m == 1:
                add(f'<line x1="{x:.1f}" y1="{TOP + ph}" x2="{x:.1f}" y2="{TOP + ph + 6}" stroke="black"/>')
                add(f'<text x="{x:.1f}" y="{TOP + ph + 22}" text-anchor="middle">{short(v)}</text>')
            else:
                add(f'<line x1="{x:.1f}" y1="{TOP + ph}" x2="{x:.1f}" y2="{TOP + ph + 3}" stroke="black"/>')
    for d in range(y0, y1 + 1):
        for m in range(1, 10):
            v = m * 10**d
            if d == y1 and m > 1:
                break
            y = py(v)
            add(
                f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + pw}" y2="{y:.1f}" '
                f'stroke="{"#cccccc" if m == 1 else "#eeeeee"}" stroke-width="1"/>'
            )
            if m == 1:
                add(f'<line x1="{LEFT - 6}" y1="{y:.1f}" x2="{LEFT}" y2="{y:.1f}" stroke="black"/>')
                add(f'<text x="{LEFT - 10}" y="{y + 4:.1f}" text-anchor="end">{short(v)}</text>')
            else:
                add(f'<line x1="{LEFT - 3}" y1="{y:.1f}" x2="{LEFT}" y2="{y:.1f}" stroke="black"/>')
    add(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="black"/>')
    add(
        f'<text x="{LEFT + pw / 2:.1f}" y="{HEIGHT - 20}" text-anchor="middle">'
        f"rules (log scale)</text>"
    )
    add(
        f'<text x="22" y="{TOP + ph / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 22 {TOP + ph / 2:.1f})">events per second, one thread (log scale)</text>'
    )

    # Lines, then the legend.
    others = iter(OTHER_COLOURS * 10)
    colours = {}
    legend = []
    for (engine, form), pts in series.items():
        if engine not in colours:
            colours[engine] = COLOURS.get(engine) or next(others)
        colour = colours[engine]
        dash = ' stroke-dasharray="7 4"' if form != "natural" else ""
        width = 3 if engine == "jrule" else 2
        label = escape(f"{engine} ({form})")
        if pts:
            path = " ".join(f"{'M' if i == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for i, (x, y) in enumerate(pts))
            add(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="{width}"{dash}>'
                f"<title>{label}</title></path>")
            for x, y in pts:
                add(
                    f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colour}">'
                    f"<title>{label}: {x} rules, {y:,.0f} events/s</title></circle>"
                )
        legend.append((label, colour, dash, width, bool(pts)))
    lx, ly = LEFT + pw + 20, TOP + 10
    add(f'<text x="{lx}" y="{ly}" font-weight="bold">engine (form)</text>')
    for i, (label, colour, dash, width, shown) in enumerate(legend):
        y = ly + 24 + i * 22
        add(f'<line x1="{lx}" y1="{y - 4}" x2="{lx + 34}" y2="{y - 4}" stroke="{colour}" stroke-width="{width}"{dash}/>')
        add(f'<circle cx="{lx + 17}" cy="{y - 4}" r="3.5" fill="{colour}"/>')
        note = "" if shown else " — not run"
        add(f'<text x="{lx + 42}" y="{y}">{label}{note}</text>')
    add(
        f'<text x="{lx}" y="{ly + 24 + len(legend) * 22 + 10}" font-size="11" fill="#555555">'
        f"dashed: best-effort form</text>"
    )
    add("</svg>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(s) + "\n")


def main():
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results.csv"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs" / "peers.svg"
    plot(read(src), out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
