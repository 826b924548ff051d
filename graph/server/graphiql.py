"""GraphiQL for a browser ``GET /graphql``, with every asset served by the gateway itself.

Why: analysts explore the schema in GraphiQL, often from networks with no internet access, and
paste credentials (an ``Authorization`` bearer token) into its headers editor. A page that
pulls code from a CDN would go blank there and would hand those credentials to whoever serves
that code. So the browser code comes from the npm packages pinned in ``package.json`` and
``package-lock.json``, installed by the project's own set-up (``npm ci --omit=dev``, which checks
every package against the lock file's registry integrity hash), and nothing third-party is
committed. The gateway serves only an allow-list of files from them, the page pins each with
Subresource Integrity, and its Content-Security-Policy lets it load nothing from elsewhere.
Without the assets, ``/graphql`` answers 503 with a page that says how to install them.

Where the assets are, laid out like ``node_modules`` (``graphiql/graphiql.min.js``,
``react/umd/react.production.min.js``, ...):

- by default, ``<repo root>/node_modules``, found from this package's location (the checkout
  that ``pip install -e .`` points at); no setting needed;
- or the directory named by the environment variable ``CSM_GRAPHIQL_ASSETS`` (for an install
  that is not a checkout, or assets kept elsewhere).

The policy, checked against graphiql 3.8.3's bundle rather than guessed: no ``'unsafe-eval'``
(its only ``new Function`` is webpack's fallback after ``globalThis``); ``style-src`` needs
``'unsafe-inline'``, since react-remove-scroll (Radix dialogs) inserts a ``<style>`` element and
markdown-rendered descriptions carry ``style`` attributes (inline styles load nothing); fonts and
a few images are ``data:`` URIs in ``graphiql.min.css``. The page has no inline script: the
mounting code is this module's own ``/graphiql/assets/csm-graphiql.js``. URLs carry a content
hash (``?v=``) so the year-long ``Cache-Control`` never serves a stale file after an upgrade.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import Final

from aiohttp import web

__all__ = [
    "ASSETS_ENV",
    "ASSETS_URL",
    "GRAPHIQL_ASSETS",
    "add_graphiql_routes",
    "assets_dir_from_env",
    "default_assets_dir",
    "render_graphiql",
]

log = logging.getLogger(__name__)

ASSETS_ENV: Final = "CSM_GRAPHIQL_ASSETS"
ASSETS_URL: Final = "/graphiql/assets/"
GRAPHIQL_ASSETS: Final = web.AppKey("csm.graphiql_assets", Path)
INSTALL_COMMAND: Final = "npm ci --omit=dev --no-audit --no-fund"

_JS: Final = "text/javascript; charset=utf-8"
_CSS: Final = "text/css; charset=utf-8"
_IMMUTABLE: Final = "public, max-age=31536000, immutable"
_COMMON_HEADERS: Final = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
PAGE_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HELP_CSP: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

# Mounts GraphiQL on #graphiql against its data-endpoint (same origin: fetch for queries and
# mutations, a WebSocket for subscriptions). Headers are not persisted in localStorage.
_MOUNT_JS: Final = b"""\
(function () {
  "use strict";
  var root = document.getElementById("graphiql");
  var endpoint = root.getAttribute("data-endpoint") || "/graphql";
  var ws = new URL(endpoint, window.location.href);
  ws.protocol = ws.protocol === "https:" ? "wss:" : "ws:";
  var fetcher = GraphiQL.createFetcher({
    url: endpoint,
    subscriptionUrl: ws.href,
    enableIncrementalDelivery: false
  });
  var defaultQuery = [
    "# csm-graph: customer self-management GraphQL.",
    "#",
    "# Docs: the book icon at top left; Ctrl-Space completes.",
    "# To ask as someone, paste into Headers (below), e.g.",
    "#   {\\"Authorization\\": \\"Bearer <token>\\"}",
    "# In development: csm-graph token --role analyst --channel web",
    "",
    "query {",
    "  __typename",
    "}",
    ""
  ].join("\\n");
  root.textContent = "";
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: "headers"
    })
  );
})();
"""


@dataclass(frozen=True, slots=True)
class _Asset:
    name: str  # served at ASSETS_URL + name
    content_type: str
    source: str | None = None  # path under the assets directory; None: this module's own code


_ASSETS: Final = (
    _Asset("graphiql.min.css", _CSS, "graphiql/graphiql.min.css"),
    _Asset("react.production.min.js", _JS, "react/umd/react.production.min.js"),
    _Asset("react-dom.production.min.js", _JS, "react-dom/umd/react-dom.production.min.js"),
    _Asset("graphiql.min.js", _JS, "graphiql/graphiql.min.js"),
    _Asset("csm-graphiql.js", _JS),
)


def default_assets_dir() -> Path:
    """``<repo root>/node_modules``: this file is ``<repo root>/graph/server/graphiql.py``."""
    return Path(__file__).resolve().parents[2] / "node_modules"


def assets_dir_from_env(environ: Mapping[str, str] | None = None) -> Path:
    """``$CSM_GRAPHIQL_ASSETS`` when set and non-empty, else :func:`default_assets_dir`."""
    value = (os.environ if environ is None else environ).get(ASSETS_ENV, "").strip()
    return Path(value).expanduser() if value else default_assets_dir()


def _digest(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")


_MOUNT_SRI: Final = _digest(_MOUNT_JS)


@functools.lru_cache(maxsize=64)
def _file_sri(path: Path, mtime_ns: int, size: int) -> str:
    """Hashed once per file version: the key changes when ``npm ci`` replaces the file."""
    return _digest(path.read_bytes())


def _integrity(assets_dir: Path) -> dict[str, str] | list[str]:
    """SRI per asset name, or the missing files' paths relative to ``assets_dir``."""
    found: dict[str, str] = {}
    missing: list[str] = []
    for asset in _ASSETS:
        if asset.source is None:
            found[asset.name] = _MOUNT_SRI
            continue
        path = assets_dir / asset.source
        try:
            stat = path.stat()
            if not S_ISREG(stat.st_mode):
                raise IsADirectoryError(path)
            found[asset.name] = _file_sri(path, stat.st_mtime_ns, stat.st_size)
        except OSError:
            missing.append(asset.source)
    return missing or found


def _serve_file(
    path: Path, content_type: str
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        # FileResponse answers 404 itself when the file is absent.
        headers = {"Content-Type": content_type, "Cache-Control": _IMMUTABLE, **_COMMON_HEADERS}
        return web.FileResponse(path, headers=headers)

    return handler


async def _serve_mount_js(request: web.Request) -> web.Response:
    headers = {"Cache-Control": _IMMUTABLE, **_COMMON_HEADERS}
    return web.Response(
        body=_MOUNT_JS, headers=headers, content_type="text/javascript", charset="utf-8"
    )


def add_graphiql_routes(app: web.Application, assets_dir: Path) -> None:
    """One GET route per allow-listed asset (no pattern, so no listing and no traversal).

    Also stores ``assets_dir`` under :data:`GRAPHIQL_ASSETS` for the GraphQL view.
    """
    app[GRAPHIQL_ASSETS] = assets_dir
    for asset in _ASSETS:
        url = ASSETS_URL + asset.name
        if asset.source is None:
            app.router.add_get(url, _serve_mount_js)
        else:
            app.router.add_get(url, _serve_file(assets_dir / asset.source, asset.content_type))


def _url(name: str, sri: str) -> str:
    # A content-derived version, so an upgraded file never meets a year-old cached copy.
    version = hashlib.sha256(sri.encode("ascii")).hexdigest()[:16]
    return html.escape(f"{ASSETS_URL}{name}?v={version}")


def _page(sri: Mapping[str, str], endpoint: str) -> str:
    css, ep = _ASSETS[0].name, html.escape(endpoint)
    scripts = "\n".join(
        f'<script defer src="{_url(a.name, sri[a.name])}" integrity="{sri[a.name]}"></script>'
        for a in _ASSETS[1:]
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>csm-graph · GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{_url(css, sri[css])}" integrity="{sri[css]}">
{scripts}
</head>
<body style="margin:0">
<div id="graphiql" data-endpoint="{ep}" style="height:100vh">Loading GraphiQL…</div>
<noscript>GraphiQL needs JavaScript. The GraphQL endpoint itself is POST {ep}.</noscript>
</body>
</html>
"""


def _help_page(missing: list[str], endpoint: str) -> str:
    items = "\n".join(f"<li><code>{html.escape(m)}</code></li>" for m in missing)
    ep = html.escape(endpoint)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>GraphiQL assets are not installed</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:46em;margin:2em auto;padding:0 1em}}
code,pre{{background:#f3f3f3;padding:.1em .3em}}pre{{padding:.6em}}</style>
</head>
<body>
<h1>GraphiQL assets are not installed</h1>
<p>This gateway serves GraphiQL's files itself (it loads nothing from the internet), and
these are missing from its assets directory:</p>
<ul>
{items}
</ul>
<p>To install them, run in the csm-graph project directory (the one with
<code>package.json</code> and <code>package-lock.json</code>; needs Node.js and npm):</p>
<pre>{INSTALL_COMMAND}</pre>
<p>or set <code>{ASSETS_ENV}</code> to a directory laid out like <code>node_modules</code>
that holds them, and reload this page.</p>
<p>The GraphQL endpoint itself works without them: send queries with
<code>POST {ep}</code> (JSON body <code>{{"query": "..."}}</code>).</p>
</body>
</html>
"""


def render_graphiql(
    request: web.Request, assets_dir: Path, *, endpoint: str = "/graphql"
) -> web.Response:
    """The GraphiQL page against ``endpoint``, or a 503 page saying how to install the assets."""
    found = _integrity(assets_dir)
    if isinstance(found, list):
        log.warning("GraphiQL assets missing under %s: %s", assets_dir, ", ".join(found))
        return web.Response(
            status=503,
            text=_help_page(found, endpoint),
            content_type="text/html",
            headers={
                "Content-Security-Policy": _HELP_CSP,
                "Cache-Control": "no-store",
                **_COMMON_HEADERS,
            },
        )
    return web.Response(
        text=_page(found, endpoint),
        content_type="text/html",
        headers={
            "Content-Security-Policy": PAGE_CSP,
            "Cache-Control": "no-cache",
            **_COMMON_HEADERS,
        },
    )
