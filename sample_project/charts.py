"""Small SVG charts as text, for the report: no plotting library needed."""

from html import escape

WIDTH, BAR, GAP = 640, 22, 8
INK, ACCENT, MUTED = "#1f2937", "#2563eb", "#93c5fd"


def bar_chart(labels, values, title):
    """Horizontal bars, one per label, longest first as given."""
    top = max(values) or 1
    left, height = 190, len(values) * (BAR + GAP) + 40
    parts = [_open(height, title), _text(10, 20, title, weight="bold")]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 34 + i * (BAR + GAP)
        length = (WIDTH - left - 70) * value / top
        parts.append(_text(left - 8, y + 15, label, anchor="end"))
        parts.append(
            f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{BAR}" fill="{ACCENT}"/>'
        )
        parts.append(_text(left + length + 6, y + 15, f"{value:,}"))
    return "".join(parts) + "</svg>"


def column_chart(labels, values, title, highlight=()):
    """Vertical columns, one per label; those in `highlight` drawn lighter (weekends)."""
    top = max(values) or 1
    height, base, left = 260, 220, 40
    step = (WIDTH - left - 10) / len(values)
    parts = [_open(height, title), _text(10, 20, title, weight="bold")]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = (base - 40) * value / top
        x = left + i * step
        fill = MUTED if label in highlight else ACCENT
        parts.append(
            f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{step * 0.8:.1f}" height="{h:.1f}"'
            f' fill="{fill}"><title>{escape(label)}: {value:,}</title></rect>'
        )
        if i % 7 == 0:
            parts.append(_text(x, base + 16, label[5:]))
    parts.append(f'<line x1="{left}" y1="{base}" x2="{WIDTH - 10}" y2="{base}" stroke="{INK}"/>')
    return "".join(parts) + "</svg>"


def _open(height, title):
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}"'
        f' viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}"'
        ' font-family="system-ui, sans-serif" font-size="12">'
    )


def _text(x, y, text, anchor="start", weight="normal"):
    return (
        f'<text x="{x:.1f}" y="{y}" text-anchor="{anchor}" font-weight="{weight}"'
        f' fill="{INK}">{escape(str(text))}</text>'
    )
