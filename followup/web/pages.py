"""The small HTML pages the web server answers with; every text is escaped here."""

from __future__ import annotations

import html

from starlette.responses import HTMLResponse

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;"
    "line-height:1.5;color:#222}button{font:inherit;padding:.5rem 1.25rem;cursor:pointer}"
)


def page(title: str, *paragraphs: str, form: bool = False, status: int = 200) -> HTMLResponse:
    """A small UTF-8 page; callers pass plain text."""
    body = "".join(f"<p>{html.escape(text)}</p>" for text in paragraphs)
    if form:
        # No action: the form posts to the page's own URL, whatever path a reverse proxy put in front.
        body += '<form method="post"><button type="submit">Unsubscribe</button></form>'
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>\n",
        status_code=status,
    )


def link_not_found() -> HTMLResponse:
    return page(
        "Link not found",
        "This unsubscribe link is not valid. It may have been cut off when it was copied: please open it "
        "from the email itself, or reply to that email and ask us to stop writing to you.",
        status=404,
    )


def try_again_later(status: int) -> HTMLResponse:
    return page(
        "Please try again later",
        "Something went wrong on our side. Please try again in a few minutes.",
        status=status,
    )
