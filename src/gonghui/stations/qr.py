"""The check-in QR code as inline SVG, drawn on the server (no image service, no script).

Every page that shows a check-in link also draws it as a code a phone camera reads. The SVG is
markup in the page itself, so the Content-Security-Policy (`default-src 'self'`) lets it
through; it is sized by `svg.qr` in app.css, never by a `style=` attribute, which the policy
would block.
"""

from __future__ import annotations

from typing import Final

import segno
from markupsafe import Markup

# Level M survives a smudged or partly reflective screen (15% of the code) and keeps the
# symbol small enough for a phone to read from a metre away.
ERROR_LEVEL: Final = "m"
# The quiet zone the standard asks for (4 modules), white, so the code reads on any background.
BORDER: Final = 4


def qr_code(url: str) -> segno.QRCode:
    """The symbol for a URL. Never a Micro QR: many phone cameras cannot read those."""
    return segno.make(url, error=ERROR_LEVEL, micro=False)


def qr_svg(url: str, *, label: str = "签到二维码") -> Markup:
    """The code as an `<svg class="qr">`, one unit per module, scaled by CSS to its box."""
    svg = qr_code(url).svg_inline(
        scale=1,
        border=BORDER,
        dark="#000",
        light="#fff",
        omitsize=True,
        svgclass="qr",
        title=label,
    )
    # The role lets assistive technology announce the <title>; segno escapes the title itself.
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))  # noqa: S704 - segno's output
