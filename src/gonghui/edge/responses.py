"""Downloads with names people can read: workbooks and stored documents."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.responses import Response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download(
    content: bytes, filename: str, media_type: str = XLSX, *, inline: bool = False
) -> Response:
    # RFC 5987's filename*, so that a Chinese file name survives every browser.
    disposition = "inline" if inline else "attachment"
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(filename)}"},
    )
