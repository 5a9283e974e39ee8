"""Security headers on every response."""

from __future__ import annotations

from flask import Response, current_app

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
#: Client Hints the device class reads (app.web.device); Chromium sends them from the next request on.
ACCEPT_CH = "Sec-CH-UA-Mobile, Sec-CH-UA-Platform, Sec-CH-UA-Model"


#: With TESSERA_COOKIE_SECURE the site is served over HTTPS only: browsers are told to stay on it.
HSTS = "max-age=63072000"


def add_security_headers(response: Response) -> Response:
    if current_app.config["COOKIE_SECURE"]:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=()")
    response.headers.setdefault("Accept-CH", ACCEPT_CH)
    if response.mimetype in ("text/html", "application/json"):
        # Personalized and per-visitor: never stored by a shared cache.
        response.headers["Cache-Control"] = "private, no-store"
        response.vary.add("Cookie")
    return response
