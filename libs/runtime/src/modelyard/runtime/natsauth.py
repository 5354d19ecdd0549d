"""NATS decentralized auth: an operator, its accounts and their users, as JWTs signed with nkeys.

nats-server trusts the operator (its JWT is in the server's config); the operator signs the accounts; an account
signs its users. A user's JWT carries its publish and subscribe permissions, and the server enforces them on every
connection that proves it holds the user's seed. Nothing here talks to a server: these are the credentials only.

The JWTs are NATS JWT v2 (header {"typ": "JWT", "alg": "ed25519-nkey"}, claims under "nats"), encoded here with
nkeys for the keys and the signatures.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import nkeys  # type: ignore[import-untyped]

from modelyard.contracts import streams, subjects

NO_LIMIT = -1
JWT_HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}
DEFAULT_OPERATOR = "modelyard"
DEFAULT_ACCOUNT = "MODELYARD"
SYSTEM_ACCOUNT = "SYS"
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class NatsTrust:
    """What a server in operator mode is configured with, plus the application account's seed (which signs users).

    The JWTs are public (signed, not secret); account_seed is a secret."""

    operator_jwt: str
    system_account_pub: str
    system_account_jwt: str
    account_pub: str
    account_jwt: str
    account_seed: str = field(repr=False)

    @property
    def resolver_preload(self) -> dict[str, str]:
        """account public key → account JWT, for the server's `resolver_preload`."""
        return {self.system_account_pub: self.system_account_jwt, self.account_pub: self.account_jwt}


# -- keys and JWTs -------------------------------------------------------------------------------------------


def _new_keypair(prefix: int) -> Any:
    return nkeys.from_seed(nkeys.encode_seed(secrets.token_bytes(32), prefix))


def _keypair(seed: str, prefix: int, what: str) -> Any:
    try:
        kp = nkeys.from_seed(seed.strip().encode())
        role, _ = nkeys.decode_seed(seed.strip().encode())
    except nkeys.NkeysError as exc:
        raise ValueError(f"not a valid nkey seed for {what}") from exc
    if role != prefix:
        raise ValueError(f"the seed is not an {what} seed")
    return kp


def account_public_key(account_seed: str) -> str:
    """The public key (A...) of an account seed (SA...); ValueError if it is not one."""
    return _public(_keypair(account_seed, nkeys.PREFIX_BYTE_ACCOUNT, "account"))


def _public(kp: Any) -> str:
    return str(kp.public_key.decode())


def _seed(kp: Any) -> str:
    return str(kp.seed.decode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _encode_jwt(claims: dict[str, Any], issuer: Any) -> str:
    """Sign `claims` as `issuer`: sets iss, iat and jti (base32 of the SHA-512/256 of the claims, as the Go library
    does) and returns header.payload.signature."""
    claims = {**claims, "iss": _public(issuer), "iat": int(time.time()), "jti": ""}
    claims["jti"] = base64.b32encode(hashlib.new("sha512_256", _json(claims)).digest()).rstrip(b"=").decode()
    signing_input = f"{_b64(_json(JWT_HEADER))}.{_b64(_json(claims))}"
    signature: bytes = issuer.sign(signing_input.encode())
    return f"{signing_input}.{_b64(signature)}"


def decode_jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a NATS JWT, unverified (see verify_jwt)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("a JWT has three dot-separated parts")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload))
    return claims


def verify_jwt(token: str, issuer_pub: str) -> dict[str, Any]:
    """The claims of `token` if `issuer_pub` (an nkey public key) signed it; ValueError otherwise."""
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey

    header, payload, signature = token.split(".")
    raw = base64.b32decode(issuer_pub + "=" * (-len(issuer_pub) % 8))
    key = VerifyKey(raw[1:-2])  # prefix byte, 32-byte ed25519 key, crc16
    try:
        key.verify(f"{header}.{payload}".encode(), base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    except BadSignatureError as exc:
        raise ValueError(f"the JWT was not signed by {issuer_pub}") from exc
    claims = decode_jwt_claims(token)
    if claims.get("iss") != issuer_pub:
        raise ValueError(f"the JWT names {claims.get('iss')} as issuer, not {issuer_pub}")
    return claims


def _account_claims(account: Any, name: str, *, jetstream: bool) -> dict[str, Any]:
    limits: dict[str, Any] = {
        "subs": NO_LIMIT,
        "data": NO_LIMIT,
        "payload": NO_LIMIT,
        "imports": NO_LIMIT,
        "exports": NO_LIMIT,
        "wildcards": True,
        "conn": NO_LIMIT,
        "leaf": NO_LIMIT,
    }
    if jetstream:  # JetStream is off for an account unless it has storage limits
        limits |= {"mem_storage": NO_LIMIT, "disk_storage": NO_LIMIT, "streams": NO_LIMIT, "consumer": NO_LIMIT}
    return {
        "sub": _public(account),
        "name": name,
        "nats": {"limits": limits, "default_permissions": {"pub": {}, "sub": {}}, "type": "account", "version": 2},
    }


def create_trust(operator_name: str = DEFAULT_OPERATOR, account_name: str = DEFAULT_ACCOUNT) -> NatsTrust:
    """A new operator, its system account and one application account with JetStream enabled.

    The operator's seed is not kept: with a memory resolver, new accounts mean a new trust (and a server restart)."""
    operator = _new_keypair(nkeys.PREFIX_BYTE_OPERATOR)
    system = _new_keypair(nkeys.PREFIX_BYTE_ACCOUNT)
    account = _new_keypair(nkeys.PREFIX_BYTE_ACCOUNT)
    operator_jwt = _encode_jwt(
        {
            "sub": _public(operator),
            "name": operator_name,
            "nats": {"system_account": _public(system), "type": "operator", "version": 2},
        },
        operator,
    )
    return NatsTrust(
        operator_jwt=operator_jwt,
        system_account_pub=_public(system),
        system_account_jwt=_encode_jwt(_account_claims(system, SYSTEM_ACCOUNT, jetstream=False), operator),
        account_pub=_public(account),
        account_jwt=_encode_jwt(_account_claims(account, account_name, jetstream=True), operator),
        account_seed=_seed(account),
    )


# -- users ---------------------------------------------------------------------------------------------------


def _permission(allow: list[str] | None) -> dict[str, list[str]] | None:
    """None: unrestricted (the claim is left out); []: nothing at all (NATS reads an empty allow as "everything")."""
    if allow is None:
        return None
    for subject in allow:
        if not subject or any(c.isspace() for c in subject):
            raise ValueError(f"not a subject: {subject!r}")
    return {"allow": list(allow)} if allow else {"deny": [">"]}


def format_creds(user_jwt: str, user_seed: str) -> str:
    """The text of a standard .creds file, as nsc writes it."""
    return (
        "-----BEGIN NATS USER JWT-----\n"
        f"{user_jwt}\n"
        "------END NATS USER JWT------\n"
        "\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n"
        "\n"
        "-----BEGIN USER NKEY SEED-----\n"
        f"{user_seed}\n"
        "------END USER NKEY SEED------\n"
        "\n"
        "*************************************************************\n"
    )


def parse_creds(text: str) -> tuple[str, str]:
    """(user JWT, user seed) from the text of a .creds file."""
    found = re.search(r"-+BEGIN NATS USER JWT-+\s*\n\s*(\S+)\s*\n.*-+BEGIN USER NKEY SEED-+\s*\n\s*(\S+)", text, re.S)
    if found is None:
        raise ValueError("not a NATS .creds file")
    return found.group(1), found.group(2)


def user_creds(
    account_seed: str,
    name: str,
    *,
    pub_allow: list[str] | None,
    sub_allow: list[str] | None,
    expires_in: timedelta | None,
) -> str:
    """A new user of the account whose seed is `account_seed`, as the text of a .creds file (JWT and seed) that
    `nats.connect(user_credentials=path)` accepts.

    pub_allow/sub_allow: the subjects it may publish to / subscribe to (wildcards allowed); None leaves that side
    unrestricted (an admin), [] allows nothing. expires_in: the JWT's lifetime; None never expires."""
    account = _keypair(account_seed, nkeys.PREFIX_BYTE_ACCOUNT, "account")
    user = _new_keypair(nkeys.PREFIX_BYTE_USER)
    nats: dict[str, Any] = {"subs": NO_LIMIT, "data": NO_LIMIT, "payload": NO_LIMIT, "type": "user", "version": 2}
    for side, allow in (("pub", pub_allow), ("sub", sub_allow)):
        permission = _permission(allow)
        if permission is not None:
            nats[side] = permission
    claims: dict[str, Any] = {"sub": _public(user), "name": name, "nats": nats}
    if expires_in is not None:
        if expires_in <= timedelta(0):
            raise ValueError("expires_in must be positive")
        claims["exp"] = int(time.time() + expires_in.total_seconds())
    return format_creds(_encode_jwt(claims, account), _seed(user))


# -- devices -------------------------------------------------------------------------------------------------


def _token(value: object, what: str) -> str:
    text = str(value)
    if not _TOKEN.fullmatch(text):
        raise ValueError(f"{what} {text!r} is not a plain subject token (letters, digits, '-', '_')")
    return text


def device_inbox_prefix(device_id: object) -> str:
    """Where a device's replies arrive (nats.connect(inbox_prefix=...)); only this device may subscribe there."""
    return f"_INBOX_{_token(device_id, 'device id')}"


def device_consumer(device_id: object) -> str:
    """The durable pull consumer on the EDGE stream a device takes its deployments from."""
    return f"edge-{_token(device_id, 'device id')}"


def device_permissions(org_id: object, device_id: object) -> tuple[list[str], list[str]]:
    """(pub_allow, sub_allow) for a device: its own reports, its own consumer, its own inbox; nothing else.

    The consumer may be created only through the create subject that names its filter (the server refuses a request
    whose filter differs from the one in the subject): a create subject without the filter would let a device
    create its consumer with filter edge.deploy.> and read every device's deployments."""
    org, device = _token(org_id, "org id"), _token(device_id, "device id")
    stream, consumer = streams.EDGE.name, device_consumer(device)
    pub_allow = [
        subjects.edge_status(device),  # its deployment reports (js.publish; the PubAck comes to its inbox)
        subjects.edge_heartbeat(device),  # its heartbeats
        f"$JS.API.CONSUMER.INFO.{stream}.{consumer}",  # js.consumer_info: does its consumer exist?
        # js.add_consumer with name= and filter_subject= (nats-py puts the filter in the subject)
        f"$JS.API.CONSUMER.CREATE.{stream}.{consumer}.{subjects.edge_deploy(org, device)}",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}",  # sub.fetch on its consumer
        f"$JS.ACK.{stream}.{consumer}.>",  # msg.ack(), in_progress(), term() on what its consumer delivered
    ]
    sub_allow = [f"{device_inbox_prefix(device)}.>"]  # replies: API responses, fetched messages, PubAcks
    return pub_allow, sub_allow
