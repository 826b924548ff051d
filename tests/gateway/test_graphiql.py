"""GraphiQL page and its self-served assets: same origin only, integrity-pinned, allow-listed.

A tiny app of its own (the routes and the page renderer, not the gateway) on a loopback port,
with small fake asset files; one test checks the real ``node_modules`` that ``npm ci`` installs.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from graph.server.graphiql import (
    ASSETS_ENV,
    GRAPHIQL_ASSETS,
    add_graphiql_routes,
    assets_dir_from_env,
    default_assets_dir,
    render_graphiql,
)

REPO = Path(__file__).resolve().parents[2]

# URL name -> (file under the assets directory, or None for the gateway's own script; type)
SERVED: dict[str, tuple[str | None, str]] = {
    "graphiql.min.css": ("graphiql/graphiql.min.css", "text/css"),
    "graphiql.min.js": ("graphiql/graphiql.min.js", "text/javascript"),
    "react.production.min.js": ("react/umd/react.production.min.js", "text/javascript"),
    "react-dom.production.min.js": (
        "react-dom/umd/react-dom.production.min.js",
        "text/javascript",
    ),
    "csm-graphiql.js": (None, "text/javascript"),
}
FILES = [source for source, _ in SERVED.values() if source is not None]


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


class Refs(HTMLParser):
    """Every URL the page refers to, with its integrity attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str | None]] = []  # (tag, url, integrity)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for key in ("src", "href", "action", "data"):
            url = found.get(key)
            if url is not None:
                self.refs.append((tag, url, found.get("integrity")))


def write_fake_assets(root: Path) -> None:
    for source in FILES:
        path = root / source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"/* fake {source} */\n")
    # Files the packages hold that must never be reachable.
    (root / "graphiql" / "package.json").write_text('{"secret": "not served"}')


async def graphiql_client(assets: Path) -> TestClient[web.Request, web.Application]:
    app = web.Application()
    add_graphiql_routes(app, assets)

    async def page(request: web.Request) -> web.Response:
        return render_graphiql(request, request.app[GRAPHIQL_ASSETS])

    app.router.add_get("/graphql", page)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
def assets(tmp_path: Path) -> Path:
    root = tmp_path / "node_modules"
    write_fake_assets(root)
    return root


@pytest.fixture
async def client(assets: Path) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    client = await graphiql_client(assets)
    try:
        yield client
    finally:
        await client.close()


Client = TestClient[web.Request, web.Application]


async def get_page(client: Client) -> tuple[aiohttp.ClientResponse, str]:
    resp = await client.get("/graphql", headers={"Accept": "text/html"})
    return resp, await resp.text()


async def test_page_loads_only_same_origin_assets_pinned_by_integrity(
    client: Client, assets: Path
) -> None:
    resp, page = await get_page(client)
    assert resp.status == 200
    assert resp.content_type == "text/html"
    parser = Refs()
    parser.feed(page)
    loaded = [(tag, url, integrity) for tag, url, integrity in parser.refs if url != "data:,"]
    names = {URL(url).path.removeprefix("/graphiql/assets/") for _, url, _ in loaded}
    assert names == set(SERVED)
    for _tag, url, integrity in loaded:
        assert url.startswith("/graphiql/assets/"), url  # same origin, no scheme, no host
        assert integrity is not None, url
        assert integrity.startswith("sha384-"), url
        # What the gateway serves at that very URL is what the page pins.
        served = await client.get(url)
        assert served.status == 200
        assert integrity == sri(await served.read()), url
        source = SERVED[URL(url).path.removeprefix("/graphiql/assets/")][0]
        if source is not None:
            assert integrity == sri((assets / source).read_bytes())
    assert "://" not in page  # no absolute URL anywhere, so nothing from elsewhere
    assert [url for _, url, _ in parser.refs if not url.startswith("/graphiql/")] == ["data:,"]


async def test_page_policy_allows_nothing_from_elsewhere(client: Client) -> None:
    resp, page = await get_page(client)
    csp = {
        directive.split()[0]: directive.split()[1:]
        for directive in resp.headers["Content-Security-Policy"].split(";")
        if directive.strip()
    }
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]  # no inline script, no eval
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    for sources in csp.values():
        for source in sources:
            assert source in {"'self'", "'none'", "'unsafe-inline'", "data:"}, source
    assert csp["style-src"] == ["'self'", "'unsafe-inline'"]
    assert "<script>" not in page  # every script is a same-origin file
    assert 'data-endpoint="/graphql"' in page


@pytest.mark.parametrize("name", sorted(SERVED))
async def test_each_asset_is_served_with_its_type_and_long_cache(client: Client, name: str) -> None:
    resp = await client.get(f"/graphiql/assets/{name}")
    assert resp.status == 200
    assert resp.content_type == SERVED[name][1]
    assert resp.charset == "utf-8"
    assert "immutable" in resp.headers["Cache-Control"]
    assert "max-age=31536000" in resp.headers["Cache-Control"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/graphiql/assets/",
        "/graphiql/assets",
        "/graphiql/assets/nope.js",
        "/graphiql/assets/package.json",
        "/graphiql/assets/graphiql/package.json",
        "/graphiql/assets/graphiql/graphiql.min.js",
        "/graphiql/assets/graphiql.min.js/",
        "/graphiql/assets/../graphiql/package.json",
        "/graphiql/assets/%2e%2e/graphiql/package.json",
        "/graphiql/assets/..%2Fgraphiql%2Fpackage.json",
        "/graphiql/assets/graphiql.min.js%2F..%2F..%2Fgraphiql%2Fpackage.json",
        "/graphiql/assets/%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/graphiql/",
    ],
)
async def test_unknown_names_and_traversal_are_404(client: Client, path: str) -> None:
    # Sent as written: no client-side normalisation of dots or escapes.
    url = client.make_url("/").with_path(path, encoded=True)
    async with client.session.get(url) as resp:
        assert resp.status == 404, path
        assert "secret" not in await resp.text()


async def test_without_assets_a_503_page_says_how_to_install_them(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    client = await graphiql_client(empty)
    try:
        resp, page = await get_page(client)
        assert resp.status == 503
        assert resp.content_type == "text/html"
        assert "<title>GraphiQL assets are not installed</title>" in page
        assert "npm ci --omit=dev" in page
        assert ASSETS_ENV in page
        assert "POST /graphql" in page
        for source in FILES:
            assert source in page
        assert "<script" not in page
        assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
        assert resp.headers["Cache-Control"] == "no-store"  # installed later: shows at once
        missing = await client.get("/graphiql/assets/graphiql.min.js")
        assert missing.status == 404
    finally:
        await client.close()


async def test_one_missing_file_is_named_and_the_rest_is_not(assets: Path) -> None:
    (assets / "react-dom/umd/react-dom.production.min.js").unlink()
    client = await graphiql_client(assets)
    try:
        resp, page = await get_page(client)
        assert resp.status == 503
        assert "react-dom/umd/react-dom.production.min.js" in page
        assert "graphiql/graphiql.min.css" not in page
    finally:
        await client.close()


async def test_integrity_follows_a_reinstalled_file(client: Client, assets: Path) -> None:
    _, before = await get_page(client)
    (assets / "graphiql/graphiql.min.js").write_text("/* a newer release, longer */\n")
    _, after = await get_page(client)
    assert sri(b"/* a newer release, longer */\n") in after
    assert sri(b"/* a newer release, longer */\n") not in before
    # The URL changes too, so no year-old cached copy meets the new hash.
    assert {u for _, u, _ in _refs(before)} != {u for _, u, _ in _refs(after)}


def _refs(page: str) -> list[tuple[str, str, str | None]]:
    parser = Refs()
    parser.feed(page)
    return parser.refs


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({}, None), ({ASSETS_ENV: " "}, None), ({ASSETS_ENV: "/srv/graphiql"}, "/srv/graphiql")],
)
def test_assets_dir_from_env(environ: dict[str, str], expected: str | None) -> None:
    assert assets_dir_from_env(environ) == (Path(expected) if expected else default_assets_dir())
    assert default_assets_dir() == REPO / "node_modules"


async def test_real_assets_installed_by_npm_ci() -> None:
    real = default_assets_dir()
    if not (real / "graphiql" / "package.json").is_file():
        pytest.skip(
            f"no GraphiQL assets in {real}: run `npm ci --omit=dev --no-audit --no-fund` "
            "in the project directory"
        )
    pinned = json.loads((REPO / "package.json").read_text())["dependencies"]
    for package, version in pinned.items():
        installed = json.loads((real / package / "package.json").read_text())["version"]
        assert installed == version, f"{package}: node_modules has {installed}, pinned {version}"
    for source in FILES:
        assert (real / source).stat().st_size > 1000, source
    client = await graphiql_client(real)
    try:
        resp, page = await get_page(client)
        assert resp.status == 200, page
        bundle = (real / "graphiql/graphiql.min.js").read_bytes()
        assert sri(bundle) in page
        assert b"window.GraphiQL" in bundle  # the UMD global the mounting script uses
        served = await client.get("/graphiql/assets/graphiql.min.js")
        assert served.status == 200
        assert await served.read() == bundle
    finally:
        await client.close()
