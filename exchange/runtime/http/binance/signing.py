"""Binance request signing: HMAC-SHA256 of totalParams (query string + body, less `signature`) with
the account's secret, `timestamp` within `recvWindow` of the server's clock. Pure: strings in."""

from __future__ import annotations

import hashlib
import hmac

from .errors import INVALID_SIGNATURE, INVALID_TIMESTAMP, MANDATORY_PARAM, BinanceError, error
from .params import Params, parse_pairs

MAX_RECV_WINDOW_MS = 60_000
DEFAULT_RECV_WINDOW_MS = 5_000
AHEAD_MS = 1_000  # a timestamp at most this far ahead of the server is accepted, as on Binance


def sign(secret: str, total_params: str) -> str:
    return hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()


def split_signature(raw: str) -> tuple[str, str | None]:
    """(raw without its `signature=` parameter, the signature) of a raw query string or body."""
    if not raw:
        return raw, None
    parts = raw.split("&")
    kept, signature = [], None
    for part in parts:
        if part.startswith("signature="):
            if signature is not None:
                raise error(INVALID_SIGNATURE, "Signature for this request is not valid: sent twice.")
            signature = part[len("signature="):]
        else:
            kept.append(part)
    return "&".join(kept), signature


def verify(query: str, body: str, secret: str, now_ms: int) -> Params:
    """Check the signature and the timestamp of a signed request; returns its parameters (query and
    body together, without `signature`). Raises -1022 (signature), -1021 (timestamp), -1102."""
    query_rest, sig_q = split_signature(query)
    body_rest, sig_b = split_signature(body)
    if sig_q is not None and sig_b is not None:
        raise error(INVALID_SIGNATURE, "Signature for this request is not valid: sent twice.")
    signature = sig_q if sig_q is not None else sig_b
    if not signature:
        raise error(MANDATORY_PARAM, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    expected = sign(secret, query_rest + body_rest)
    if len(signature) != 64 or not hmac.compare_digest(signature.lower().encode(), expected.encode()):
        raise error(INVALID_SIGNATURE)
    params = Params(parse_pairs(query_rest) + parse_pairs(body_rest))
    check_timestamp(params, now_ms)
    return params


def check_timestamp(params: Params, now_ms: int) -> None:
    timestamp = params.integer("timestamp", 0, 2**53)
    window = params.integer("recvWindow", 1, MAX_RECV_WINDOW_MS, DEFAULT_RECV_WINDOW_MS)
    if timestamp >= now_ms + AHEAD_MS:
        raise BinanceError(INVALID_TIMESTAMP, "Timestamp for this request was 1000ms ahead of the server's time.")
    if now_ms - timestamp > window:
        raise BinanceError(INVALID_TIMESTAMP, "Timestamp for this request is outside of the recvWindow.")
