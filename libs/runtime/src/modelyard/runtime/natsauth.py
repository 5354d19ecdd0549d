"""NATS decentralized auth: an operator, its accounts and their users, as JWTs signed with nkeys.

nats-server trusts the operator (its JWT is in the server's config); the operator signs the accounts; an account
signs its users. A user's JWT carries its publish and subscribe permissions, and the server enforces them on every
connection that proves it holds the user's seed. Nothing here talks to a server: these are the credentials only.

The JWTs are NATS JWT v2 (header {"typ": "JWT", "alg": "ed25519-nkey"}, claims under "nats"), encoded here with
nkeys for the keys and the signatures.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import nkeys  # type: ignore[import-untyped]

from modelyard.contracts import permissions, streams, subjects
from modelyard.contracts.api.training import Pool, Priority

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


def _permission(allow: list[str] | None, deny: list[str] | None = None) -> dict[str, list[str]] | None:
    """None: unrestricted (the claim is left out); []: nothing at all (NATS reads an empty allow as "everything").
    deny: subjects refused even where allow matches them (NATS checks deny last)."""
    if allow is None:
        if deny:
            raise ValueError("a deny list needs an allow list here")
        return None
    for subject in (*allow, *(deny or ())):
        if not subject or any(c.isspace() for c in subject):
            raise ValueError(f"not a subject: {subject!r}")
    if not allow:
        return {"deny": [">"]}
    return {"allow": list(allow)} | ({"deny": list(deny)} if deny else {})


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
    responses: timedelta | None = None,
    pub_deny: list[str] | None = None,
) -> str:
    """A new user of the account whose seed is `account_seed`, as the text of a .creds file (JWT and seed) that
    `nats.connect(user_credentials=path)` accepts.

    pub_allow/sub_allow: the subjects it may publish to / subscribe to (wildcards allowed); None leaves that side
    unrestricted (an admin), [] allows nothing. expires_in: the JWT's lifetime; None never expires.
    responses: NATS "allow responses": the user may publish one reply to the reply subject of each request it
    received, for this long after it arrived, whatever pub_allow says; None: no such right. pub_deny: subjects
    refused although pub_allow matches them."""
    account = _keypair(account_seed, nkeys.PREFIX_BYTE_ACCOUNT, "account")
    user = _new_keypair(nkeys.PREFIX_BYTE_USER)
    nats: dict[str, Any] = {"subs": NO_LIMIT, "data": NO_LIMIT, "payload": NO_LIMIT, "type": "user", "version": 2}
    for side, allow, deny in (("pub", pub_allow, pub_deny), ("sub", sub_allow, None)):
        permission = _permission(allow, deny)
        if permission is not None:
            nats[side] = permission
    if responses is not None:
        if responses <= timedelta(0):
            raise ValueError("responses must be positive")
        nats["resp"] = {"max": 1, "ttl": int(responses.total_seconds() * 1e9)}  # a Go time.Duration: nanoseconds
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


# -- services ------------------------------------------------------------------------------------------------

SERVICES = ("gateway", "dataset", "scheduler", "registry", "distribution", "trainer")
# a responder may answer a request this long after it arrived: the longest request the gateway makes waits 600 s
# (an upload's finalize, a version's export), and NATS's own default (2 minutes) would cut those answers off
SERVICE_RESPONSE_TTL = timedelta(minutes=15)


@dataclass(frozen=True)
class Consumer:
    """A durable pull consumer a service creates (by durable name, jetstream.ensure_consumer), binds and fetches
    from, and acknowledges on; the table below repeats the services' ConsumerSpecs (tests compare them)."""

    stream: str
    durable: str
    filter_subject: str
    dead_letters: bool = True  # runtime.consumer copies what exhausts MaxDeliver to dlq.<subject>
    info: bool = False  # the service asks for the consumer's info (runtime.consumer does not; the trainer does)


@dataclass(frozen=True)
class ServiceNeeds:
    """What one service does on NATS beyond what every service does (answer `svc.<service>.>` in its queue group,
    its health subject included; receive replies on its own inbox; read the streams' info at start)."""

    requests: tuple[str, ...] = ()  # request subjects of other services it calls
    refused: tuple[str, ...] = ()  # subjects refused although `requests` or `publishes` match them
    publishes: tuple[str, ...] = ()  # events it publishes (outbox relay or js.publish) and core notices
    listens: tuple[str, ...] = ()  # core subscriptions besides its requests and its inbox
    consumers: tuple[Consumer, ...] = ()
    stream_api: tuple[str, ...] = ()  # further $JS.API subjects (names relative to $JS.API.)


@dataclass(frozen=True)
class Permissions:
    """A service user's allow lists (every subject not in them is refused by the server) and the inbox prefix its
    connections must use (nats.connect / NatsBroker inbox_prefix=...): only this service may subscribe there."""

    pub_allow: tuple[str, ...]
    sub_allow: tuple[str, ...]
    inbox_prefix: str
    pub_deny: tuple[str, ...] = ()

    def may_publish(self, subject: str) -> bool:
        """What the server decides for a publish to `subject` (a request's reply aside)."""
        return _matched(self.pub_allow, subject) and not _matched(self.pub_deny, subject)

    def may_subscribe(self, subject: str) -> bool:
        """What the server decides for a subscription to the concrete (wildcard-free) `subject`."""
        return _matched(self.sub_allow, subject)


def _matched(patterns: tuple[str, ...], subject: str) -> bool:
    return any(subjects.matches(pattern, subject) for pattern in patterns)


def _audit(service: str) -> str:
    return subjects.AUDIT_TEMPLATE.format(service=service, action=">")


def _needs(trainer_pools: tuple[str, ...]) -> dict[str, ServiceNeeds]:
    dispatch = [(pool.value, priority.value) for pool in Pool for priority in Priority]
    taken = [(pool, priority) for pool, priority in dispatch if pool in trainer_pools]
    return {
        "gateway": ServiceNeeds(
            # every request a user can make (the gateway forwards them); a trainer's claim is not one. Wildcards per
            # service, not the fifty-odd subjects: a user JWT travels in the CONNECT line, which nats-server limits
            # to 4 KiB by default (max_control_line)
            requests=tuple(f"svc.{service}.>" for service in sorted({s.split(".")[1] for s in permissions.SUBJECTS})),
            refused=(subjects.SVC_JOB_CLAIM,),
            publishes=(_audit("gateway"), subjects.AUDIT_USER_CREATED, subjects.GATEWAY_KEY_REVOKED),
            # revocations from the other replicas; the job cache and live views read job and epoch events as they
            # pass (core subscriptions, no consumer)
            listens=(subjects.GATEWAY_KEY_REVOKED, subjects.JOBS_ALL, subjects.telemetry_metrics("*")),
            consumers=(Consumer(streams.AUDIT.name, "gateway-audit", subjects.AUDIT_ALL),),
        ),
        "dataset": ServiceNeeds(
            publishes=(subjects.DATASETS_ALL, _audit("dataset")),  # the DATASETS stream has one writer
            consumers=(Consumer(streams.DATASETS.name, "dataset-importer", subjects.DATASET_UPLOAD_FINALIZED),),
        ),
        "scheduler": ServiceNeeds(
            requests=(subjects.SVC_DATASET_GET, subjects.SVC_VERSION_GET),
            publishes=(
                subjects.JOB_QUEUED,
                subjects.job_status("*"),
                subjects.job_cancel("*"),
                subjects.JOB_SUCCEEDED,
                *(subjects.dispatch(pool, priority) for pool, priority in dispatch),
                _audit("scheduler"),
            ),
            # a dispatch that exhausted its deliveries (scheduler.lost): the advisory, then the message itself
            listens=(f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{streams.DISPATCH.name}.*",),
            consumers=(
                Consumer(streams.JOBS.name, "scheduler-reports", subjects.TRAINING_REPORTS),
                Consumer(streams.TELEMETRY.name, "scheduler-metrics", subjects.telemetry_metrics(">")),
                Consumer(streams.TELEMETRY.name, "scheduler-logs", subjects.telemetry_logs(">")),
            ),
            stream_api=(f"STREAM.MSG.GET.{streams.DISPATCH.name}", f"STREAM.MSG.DELETE.{streams.DISPATCH.name}"),
        ),
        "registry": ServiceNeeds(
            publishes=(subjects.MODELS_ALL, _audit("registry")),  # the MODELS stream has one writer
            consumers=(Consumer(streams.JOBS.name, "registry-completions", subjects.JOB_SUCCEEDED),),
        ),
        "distribution": ServiceNeeds(
            requests=(subjects.SVC_MODEL_GET, subjects.SVC_MODEL_RELEASE_GET, subjects.SVC_REGISTRY_KEYS),
            publishes=(subjects.EDGE_DEPLOY_ALL, _audit("distribution")),
            consumers=(
                Consumer(streams.EDGE.name, "distribution-status", subjects.EDGE_STATUS_ALL),
                Consumer(streams.EDGE.name, "distribution-heartbeats", subjects.EDGE_HEARTBEAT_ALL),
            ),
        ),
        "trainer": ServiceNeeds(
            requests=(subjects.SVC_JOB_CLAIM,),
            publishes=(subjects.TRAINING_REPORTS, subjects.telemetry_metrics("*"), subjects.telemetry_logs("*")),
            # the doorbell (a new dispatch in its pool) and the cancel of the job it runs
            listens=(*(f"dispatch.{pool}.>" for pool in trainer_pools), subjects.job_cancel("*")),
            # one work-queue consumer per pool and priority (streams.dispatch_consumer); the trainer acks, naks and
            # terminates itself (the scheduler handles what exhausts its deliveries), it dead-letters nothing
            consumers=tuple(
                Consumer(
                    streams.DISPATCH.name,
                    f"trainers-{pool}-{priority}",
                    subjects.dispatch(pool, priority),
                    dead_letters=False,
                    info=True,  # it asks each consumer for its backlog before it fetches
                )
                for pool, priority in taken
            ),
        ),
    }


def service_inbox_prefix(service: str) -> str:
    """Where a service's replies arrive (connect with inbox_prefix=...); only that service may subscribe there."""
    return f"_INBOX_{_token(service, 'service')}"


def service_permissions(service: str, *, declare_streams: bool = True, pool: str | None = None) -> Permissions:
    """The least a service needs on NATS, from the contracts (subjects, streams) and the table above.

    declare_streams: every service declares the streams at start (jetstream.ensure_streams: STREAM.INFO, then
    STREAM.CREATE or STREAM.UPDATE when one is missing or differs). That right lets its holder change a stream's
    subjects, and so read any subject through its own consumer: False leaves only STREAM.INFO, for deployments that
    declare the streams with other (admin) credentials; a service then starts only while the streams match.
    pool: a trainer's pool (its dispatch consumers and doorbell); None: every pool. Only trainers have one."""
    if pool is not None and (service != "trainer" or pool not in set(Pool)):
        raise ValueError(f"a pool ({', '.join(Pool)}) is for trainers only, not {service!r} {pool!r}")
    needs = _needs(tuple(Pool) if pool is None else (pool,)).get(service)
    if needs is None:
        raise ValueError(f"unknown service {service!r}: one of {', '.join(SERVICES)}")
    api = "$JS.API"
    stream_api = [f"{api}.STREAM.INFO.{spec.name}" for spec in streams.ALL_STREAMS]
    if declare_streams:
        stream_api += [f"{api}.STREAM.{op}.{spec.name}" for op in ("CREATE", "UPDATE") for spec in streams.ALL_STREAMS]
    consumer_api: list[str] = []
    for c in needs.consumers:
        consumer_api += [
            # jetstream.ensure_consumer names the consumer, so the create subject carries its filter: only this
            # consumer, with this filter, may be made or updated
            f"{api}.CONSUMER.CREATE.{c.stream}.{c.durable}.{c.filter_subject}",
            f"{api}.CONSUMER.MSG.NEXT.{c.stream}.{c.durable}",
            f"$JS.ACK.{c.stream}.{c.durable}.>",  # ack, nak, in_progress, term
        ]
        if c.info:
            consumer_api.append(f"{api}.CONSUMER.INFO.{c.stream}.{c.durable}")
        if c.dead_letters:
            consumer_api.append(subjects.dead_letter(c.filter_subject))
    pub = [
        *needs.requests,
        *needs.publishes,
        *stream_api,
        *consumer_api,
        *(f"{api}.{name}" for name in needs.stream_api),
    ]
    inbox = service_inbox_prefix(service)
    sub = [f"svc.{service}.>", f"{inbox}.>", *needs.listens]
    return Permissions(tuple(dict.fromkeys(pub)), tuple(dict.fromkeys(sub)), inbox, needs.refused)


SERVICE_PERMISSIONS: dict[str, Permissions] = {service: service_permissions(service) for service in SERVICES}


def service_creds(
    account_seed: str,
    service: str,
    *,
    expires_in: timedelta | None = None,
    declare_streams: bool = True,
    pool: str | None = None,
) -> str:
    """A .creds file for one service (see service_permissions): it answers requests sent to it for up to
    SERVICE_RESPONSE_TTL after they arrived, and may do nothing the table does not name."""
    allowed = service_permissions(service, declare_streams=declare_streams, pool=pool)
    return user_creds(
        account_seed,
        f"service:{service}",
        pub_allow=list(allowed.pub_allow),
        sub_allow=list(allowed.sub_allow),
        expires_in=expires_in,
        responses=SERVICE_RESPONSE_TTL,
        pub_deny=list(allowed.pub_deny),
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m modelyard.runtime.natsauth service-creds SERVICE`: a service's .creds on stdout (or --out, mode
    0600), signed with the account seed from $MODELYARD_NATS_ACCOUNT_SEED or --account-seed-file.
    `python -m modelyard.runtime.natsauth permissions SERVICE`: its allow lists as JSON (for nsc users)."""
    import argparse
    import os
    import sys
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m modelyard.runtime.natsauth")
    commands = parser.add_subparsers(dest="command", required=True)
    creds = commands.add_parser("service-creds", help="write a service's .creds (operator mode)")
    creds.add_argument("service", choices=SERVICES)
    creds.add_argument("--account-seed-file", type=Path, help="default: $MODELYARD_NATS_ACCOUNT_SEED")
    creds.add_argument("--expires-days", type=int, help="lifetime of the credentials; default: no expiry")
    creds.add_argument("--no-declare-streams", action="store_true", help="STREAM.INFO only (see service_permissions)")
    creds.add_argument("--pool", help="a trainer's pool only (default: every pool)")
    creds.add_argument("--out", type=Path, help="write here (mode 0600) instead of stdout")
    shown = commands.add_parser("permissions", help="a service's allow lists as JSON")
    shown.add_argument("service", choices=SERVICES)
    shown.add_argument("--no-declare-streams", action="store_true")
    shown.add_argument("--pool")
    args = parser.parse_args(argv)

    declare = not args.no_declare_streams
    if args.command == "permissions":
        try:
            allowed = service_permissions(args.service, declare_streams=declare, pool=args.pool)
        except ValueError as exc:
            parser.error(str(exc))
        sys.stdout.write(json.dumps(dataclasses.asdict(allowed), indent=2) + "\n")
        return 0
    if args.account_seed_file is not None:
        seed = args.account_seed_file.read_text().strip()
    else:
        seed = os.environ.get("MODELYARD_NATS_ACCOUNT_SEED", "").strip()
    if not seed:
        parser.error("no account seed: set MODELYARD_NATS_ACCOUNT_SEED or pass --account-seed-file")
    expires = None if args.expires_days is None else timedelta(days=args.expires_days)
    try:
        text = service_creds(seed, args.service, expires_in=expires, declare_streams=declare, pool=args.pool)
    except ValueError as exc:
        parser.error(str(exc))
    if args.out is None:
        sys.stdout.write(text)
    else:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        args.out.chmod(0o600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
