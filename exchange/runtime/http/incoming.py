"""Reading a request the Binance way: the raw query string and body (the signature covers them as
sent), parameters from both, the API key header; answers as compact JSON."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .api import Api
from .binance.errors import ILLEGAL_CHARS, error
from .binance.params import Params, parse_pairs

API: web.AppKey[Api] = web.AppKey("api", Api)


def api_of(request: web.Request) -> Api:
    return request.app[API]


def raw_query(request: web.Request) -> str:
    return request.rel_url.raw_query_string


async def raw_body(request: web.Request) -> str:
    """The body as sent (any content type: python-binance labels a form body as JSON); the size is
    bounded by the app's client_max_size."""
    if not request.body_exists:
        return ""
    data = await request.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise error(ILLEGAL_CHARS, "Illegal characters found in the request body.") from None


async def public(request: web.Request) -> Params:
    api = api_of(request)
    api.admit(f"ip{request.remote}")
    return Params(parse_pairs(raw_query(request)))


async def signed(request: web.Request) -> tuple[int, Params]:
    return api_of(request).signed(request.headers.get("X-MBX-APIKEY"), raw_query(request), await raw_body(request))


async def keyed(request: web.Request) -> tuple[int, Params]:
    return api_of(request).keyed(request.headers.get("X-MBX-APIKEY"), raw_query(request), await raw_body(request))


def answer(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data, separators=(",", ":")), status=status, content_type="application/json")
