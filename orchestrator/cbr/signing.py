"""SDK-HMAC-SHA256 request signing and verification, as Huawei Cloud's API gateway expects it.

Verification also takes the SDK's opt-in ``SDK-HMAC-SM3`` (the same scheme with SM3 for SHA-256, and
``X-Sdk-Content-Sm3``) where the standard library's OpenSSL provides SM3; the asymmetric
``SDK-ECDSA-P256-SHA256`` and ``SDK-SM2-SM3`` are refused by name.

The canonical form follows the official SDK core exactly (see the signing vectors in the tests):
the canonical URI always ends in ``/`` and is fully decoded then re-encoded piece by piece, query
pairs are sorted by name then value, and only the headers named in ``SignedHeaders`` are signed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "X-Sdk-Date"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_PAYLOAD_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
CONTENT_SHA256_HEADER = "X-Sdk-Content-Sha256"
MAX_CLOCK_SKEW = timedelta(minutes=15)



@dataclass(frozen=True)
class HmacAlgorithm:
    """One HMAC signing scheme of the SDK: its name in ``Authorization``, its hash, its content header."""

    name: str
    digest: str  # a hashlib name
    content_header: str

    def hexdigest(self, data: bytes) -> str:
        return hashlib.new(self.digest, data).hexdigest()

    def hmac_hex(self, key: str, message: str) -> str:
        return hmac.new(key.encode(), message.encode(), self.digest).hexdigest()


HMAC_SHA256 = HmacAlgorithm(ALGORITHM, "sha256", CONTENT_SHA256_HEADER)
HMAC_SM3 = HmacAlgorithm("SDK-HMAC-SM3", "sm3", "X-Sdk-Content-Sm3")
ASYMMETRIC_ALGORITHMS = ("SDK-ECDSA-P256-SHA256", "SDK-SM2-SM3")


def verifiable_algorithms() -> dict[str, HmacAlgorithm]:
    """The schemes :func:`verify_request` checks: SHA-256 always, SM3 when hashlib has it."""
    schemes = [HMAC_SHA256, HMAC_SM3]
    return {s.name: s for s in schemes if s.digest in hashlib.algorithms_available}


_AUTHORIZATION = re.compile(r"^(\S+) Access=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]+)$")


class SignatureError(Exception):
    """A request's signature is missing, malformed, stale or wrong. The text never holds secrets."""


@dataclass(frozen=True)
class Credentials:
    """A permanent or temporary AK/SK pair. ``repr`` hides the secret and the token."""

    access_key: str
    secret_key: str
    security_token: str | None = None

    def __repr__(self) -> str:
        return f"Credentials(access_key={self.access_key!r}, secret_key='***')"


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_uri(path: str) -> str:
    """Decode the path fully, re-encode each segment, and end it with one ``/``."""
    encoded = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """Sort (name, value) pairs by name then value and encode both sides."""
    return "&".join(f"{_encode(name)}={_encode(value)}" for name, value in sorted(params))


def parse_raw_query(raw_query: str) -> list[tuple[str, str]]:
    """Split a query string as sent (``+`` is not a space here) into decoded pairs."""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def _signed_header_names(headers: Mapping[str, str]) -> list[str]:
    return sorted({name.lower() for name in headers if "_" not in name})


def _canonical_headers(headers: Mapping[str, str], names: list[str]) -> str:
    lowered = {name.lower(): value for name, value in headers.items()}
    return "".join(f"{name}:{lowered[name].strip()}\n" for name in names)


def _payload_hash(
    headers: Mapping[str, str], body: bytes | None, signed: list[str], algorithm: HmacAlgorithm
) -> str:
    if not body:
        return algorithm.hexdigest(b"")
    lowered = {name.lower(): value for name, value in headers.items()}
    preset = lowered.get(algorithm.content_header.lower())
    if preset is not None and algorithm.content_header.lower() in signed:
        return preset
    return algorithm.hexdigest(body)


def canonical_request(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_names: list[str],
    body: bytes | None,
    algorithm: HmacAlgorithm = HMAC_SHA256,
) -> str:
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            _canonical_headers(headers, signed_names),
            ";".join(signed_names),
            _payload_hash(headers, body, signed_names, algorithm),
        ]
    )


def string_to_sign(date_value: str, canonical: str, algorithm: HmacAlgorithm = HMAC_SHA256) -> str:
    digest = algorithm.hexdigest(canonical.encode())
    return f"{algorithm.name}\n{date_value}\n{digest}"


def _signature(secret_key: str, to_sign: str) -> str:
    return HMAC_SHA256.hmac_hex(secret_key, to_sign)


def _find(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def format_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(DATE_FORMAT)


def parse_date(value: str) -> datetime:
    try:
        return datetime.strptime(value, DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise SignatureError(f"{DATE_HEADER} is not in the form YYYYMMDDTHHMMSSZ") from exc


def sign_request(
    credentials: Credentials,
    method: str,
    host: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes | None,
    now: datetime | None = None,
) -> dict[str, str]:
    """Return the headers to send: those given plus date, host, token and ``Authorization``.

    ``path`` is the path as it will be sent (already percent-encoded); ``query`` holds the unencoded
    pairs, which must be sent as ``canonical_query(query)``.
    """
    signed = dict(headers)
    if _find(signed, DATE_HEADER) is None:
        signed[DATE_HEADER] = format_date(now or datetime.now(UTC))
    date_value = _find(signed, DATE_HEADER) or ""
    parse_date(date_value)
    if _find(signed, "host") is None:
        signed["Host"] = host
    if credentials.security_token and _find(signed, "X-Security-Token") is None:
        signed["X-Security-Token"] = credentials.security_token
    content_type = _find(signed, "content-type")
    if content_type is not None and not content_type.startswith(("application/json", "application/bson")):
        signed.setdefault(CONTENT_SHA256_HEADER, UNSIGNED_PAYLOAD)
    signed = {name: value.strip() for name, value in signed.items()}
    names = _signed_header_names(signed)
    canonical = canonical_request(method, path, query, signed, names, body)
    signature = _signature(credentials.secret_key, string_to_sign(date_value, canonical))
    signed["Authorization"] = (
        f"{ALGORITHM} Access={credentials.access_key}, SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return signed


@dataclass(frozen=True)
class VerifiedRequest:
    access_key: str
    security_token: str | None


def _algorithm_of(authorization: str) -> HmacAlgorithm:
    """The scheme an ``Authorization`` value names (its first word), if this side verifies it."""
    name = authorization.split(" ", 1)[0]
    algorithm = verifiable_algorithms().get(name)
    if algorithm is not None:
        return algorithm
    if name in (HMAC_SM3.name, *ASYMMETRIC_ALGORITHMS):
        known = ", ".join(verifiable_algorithms())
        raise SignatureError(f"the signing algorithm {name} is not supported (supported: {known})")
    raise SignatureError("the Authorization header is malformed")


def verify_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes | None,
    secret_for: Callable[[str], str | None],
    now: datetime,
    max_skew: timedelta = MAX_CLOCK_SKEW,
) -> VerifiedRequest:
    """Check a received request's signature; raise :class:`SignatureError` when it does not hold."""
    authorization = _find(headers, "Authorization")
    if authorization is None:
        raise SignatureError("the request carries no Authorization header")
    algorithm = _algorithm_of(authorization.strip())
    match = _AUTHORIZATION.match(authorization.strip())
    if match is None:
        raise SignatureError("the Authorization header is malformed")
    _, access_key, signed_list, signature = match.groups()
    secret = secret_for(access_key)
    if secret is None:
        raise SignatureError("unknown access key")
    names = signed_list.split(";")
    if "host" not in names or DATE_HEADER.lower() not in names:
        raise SignatureError("host and x-sdk-date must be signed")
    date_value = _find(headers, DATE_HEADER)
    if date_value is None:
        raise SignatureError(f"{DATE_HEADER} header is missing")
    if abs(now - parse_date(date_value.strip())) > max_skew:
        raise SignatureError(f"{DATE_HEADER} is more than {max_skew} away from the server clock")
    if any(_find(headers, name) is None for name in names):
        raise SignatureError("a signed header is missing from the request")
    query = parse_raw_query(raw_query)
    canonical = canonical_request(method, raw_path, query, headers, names, body, algorithm)
    expected = algorithm.hmac_hex(secret, string_to_sign(date_value.strip(), canonical, algorithm))
    if not hmac.compare_digest(expected, signature):
        raise SignatureError("the signature does not match")
    return VerifiedRequest(access_key=access_key, security_token=_find(headers, "X-Security-Token"))
