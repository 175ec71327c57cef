"""The Content-Security-Policy every answer carries (django-csp).

No inline script anywhere: a name, title or note that slipped into a page unescaped
still cannot run. The pages' scripts are files under /static/; what a page hands its
script is JSON (json_script) or data-* attributes, and the CSRF token is read from the
page, since the cookie is HttpOnly. Our own pages need no inline style either.

The tools Django and its packages draw (the admin, DRF's browsable API, the Swagger UI
at /api/docs/) write style attributes and <style> blocks in their markup, so those paths
alone may use inline styles: never inline script.
"""

from urllib.parse import urlsplit

from csp.constants import NONE, SELF, UNSAFE_INLINE

TOOL_PAGE_PREFIXES = ("/admin/", "/api/")


def tile_server_source(tiles_url: str) -> list[str]:
    """The tile server's origin as a CSP source: "https://{s}.tiles.cn/{z}/{x}/{y}.png"
    → "https://*.tiles.cn" (Leaflet's {s} picks among subdomains)."""
    if not tiles_url:
        return []
    parts = urlsplit(tiles_url)
    return [f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"]


def content_security_policy(tiles_url: str) -> dict:
    return {
        "DIRECTIVES": {
            "default-src": [SELF],
            "script-src": [SELF],
            "style-src": [SELF],
            # data: for the small images Leaflet's and Swagger UI's stylesheets embed.
            "img-src": [SELF, "data:", *tile_server_source(tiles_url)],
            # The live sockets: 'self' covers ws:// and wss:// to the same host.
            "connect-src": [SELF],
            "object-src": [NONE],
            "base-uri": [NONE],
            "form-action": [SELF],
            "frame-ancestors": [NONE],
        }
    }


def inline_styles_on_tool_pages(get_response):
    """Lets the admin's and the API's pages keep their inline styles (see above). It sits
    inside django-csp's middleware, which reads `_csp_update` on the way out."""

    def middleware(request):
        response = get_response(request)
        if request.path.startswith(TOOL_PAGE_PREFIXES):
            response._csp_update = {"style-src": [UNSAFE_INLINE]}
        return response

    return middleware
