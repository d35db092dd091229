"""The shell of a self-contained HTML report page: no script, no external request (a strict CSP says so)."""
from __future__ import annotations

from html import escape

#: Inline styles only; ``data:`` images where a page embeds one. Nothing is fetched when the page opens.
STRICT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def page(title: str, css: str, body: str, *, csp: str = STRICT_CSP) -> str:
    """A complete page around ``body`` (already escaped HTML); ``title`` is escaped here."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{escape(csp, quote=False).replace('"', "&quot;")}">
<title>{escape(title)}</title>
<style>{css}</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""
