"""Per-service NATS credentials, without a server: the allow lists, the .creds they become, the settings and connect
options that use them, and `python -m modelyard.runtime.natsauth`. tests/test_service_credentials.py has the server."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from faststream.nats import NatsCredentials
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from modelyard.runtime.natsauth import (
    SERVICE_PERMISSIONS,
    SERVICES,
    create_trust,
    main,
    parse_creds,
    service_creds,
    service_permissions,
    user_creds,
    verify_jwt,
)
from modelyard.runtime.service import broker_auth, nats_auth
from modelyard.runtime.settings import ServiceSettings

# nats-server refuses a CONNECT line over max_control_line (4 KiB by default); the user JWT is most of it, the
# signature of the nonce, the client's name and options take the rest
CONNECT_ROOM = 4096 - 512


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MODELYARD_DEMO_", extra="ignore", frozen=True)

    service_name: str = "dataset"


def test_every_service_has_narrow_lists_and_its_own_inbox() -> None:
    assert set(SERVICE_PERMISSIONS) == set(SERVICES)
    for service, allowed in SERVICE_PERMISSIONS.items():
        assert allowed.inbox_prefix == f"_INBOX_{service}"
        assert allowed.may_subscribe(f"svc.{service}.health")
        assert allowed.may_subscribe(f"_INBOX_{service}.abc.1")
        assert not allowed.may_subscribe("_INBOX.abc.1")  # nats-py's default inbox: every service's, so no one's
        for other in set(SERVICES) - {service}:
            assert not allowed.may_subscribe(f"svc.{other}.health")
            assert not allowed.may_subscribe(f"_INBOX_{other}.abc.1")
        assert allowed.may_publish("$JS.API.STREAM.INFO.JOBS")
        for api in ("STREAM.DELETE.JOBS", "STREAM.PURGE.JOBS", "STREAM.CREATE.OTHER", "CONSUMER.DELETE.JOBS.x"):
            assert not allowed.may_publish(f"$JS.API.{api}"), (service, api)
        assert not allowed.may_publish("svc.x.y") and not allowed.may_publish("edge.status.device")


def test_stream_declaration_can_be_left_to_an_admin() -> None:
    declaring, reading = service_permissions("dataset"), service_permissions("dataset", declare_streams=False)
    assert declaring.may_publish("$JS.API.STREAM.UPDATE.DATASETS")
    assert declaring.may_publish("$JS.API.STREAM.CREATE.AUDIT")
    assert not reading.may_publish("$JS.API.STREAM.UPDATE.DATASETS")
    assert not reading.may_publish("$JS.API.STREAM.CREATE.AUDIT")
    assert reading.may_publish("$JS.API.STREAM.INFO.DATASETS")
    assert set(declaring.pub_allow) - set(reading.pub_allow) == {
        p for p in declaring.pub_allow if ".STREAM.CREATE." in p or ".STREAM.UPDATE." in p
    }
    with pytest.raises(ValueError, match="unknown service"):
        service_permissions("edge")


def test_a_trainer_can_be_held_to_its_pool() -> None:
    every, gpu = service_permissions("trainer"), service_permissions("trainer", pool="gpu")
    for pool in ("cpu", "gpu"):
        for priority in ("high", "normal", "low"):
            next_msg = f"$JS.API.CONSUMER.MSG.NEXT.DISPATCH.trainers-{pool}-{priority}"
            assert every.may_publish(next_msg)
            assert gpu.may_publish(next_msg) is (pool == "gpu")
    assert gpu.may_subscribe("dispatch.gpu.high") and not gpu.may_subscribe("dispatch.cpu.high")
    assert set(gpu.pub_allow) < set(every.pub_allow)
    for service, pool in (("dataset", "gpu"), ("trainer", "tpu")):
        with pytest.raises(ValueError, match="trainers only"):
            service_permissions(service, pool=pool)


def test_each_services_jwt_fits_a_default_servers_connect_line() -> None:
    trust = create_trust()
    for service in SERVICES:  # the trainer of every pool is the largest
        jwt, _ = parse_creds(service_creds(trust.account_seed, service))
        assert len(jwt) < CONNECT_ROOM, (service, len(jwt))


def test_responses_and_deny_in_user_creds() -> None:
    trust = create_trust()
    creds = user_creds(trust.account_seed, "x", pub_allow=["a.>"], sub_allow=["b"], expires_in=None, pub_deny=["a.b"])
    claims = verify_jwt(parse_creds(creds)[0], trust.account_pub)
    assert claims["nats"]["pub"] == {"allow": ["a.>"], "deny": ["a.b"]}
    assert "resp" not in claims["nats"]
    with pytest.raises(ValueError, match="deny"):
        user_creds(trust.account_seed, "x", pub_allow=None, sub_allow=None, expires_in=None, pub_deny=["a"])
    with pytest.raises(ValueError, match="responses"):
        user_creds(trust.account_seed, "x", pub_allow=[], sub_allow=[], expires_in=None, responses=timedelta(0))


def test_settings_name_the_creds_file_and_the_connections_use_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert DemoSettings().nats_creds_path is None
    assert nats_auth(DemoSettings()) == {} and broker_auth(DemoSettings()) == {}

    path = tmp_path / "dataset.creds"
    monkeypatch.setenv("MODELYARD_DEMO_NATS_CREDS_PATH", str(path))
    with pytest.raises(ValidationError, match="no NATS credentials file"):
        DemoSettings()
    path.write_text(service_creds(create_trust().account_seed, "dataset"))
    settings = DemoSettings()
    assert settings.nats_creds_path == path
    assert nats_auth(settings) == {"user_credentials": str(path), "inbox_prefix": "_INBOX_dataset"}
    broker = broker_auth(settings)
    assert broker["inbox_prefix"] == "_INBOX_dataset" and "user_credentials" not in broker
    assert isinstance(broker["security"], NatsCredentials) and broker["security"].credentials == str(path)


def test_the_command_line_writes_creds_and_shows_permissions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    trust = create_trust()
    assert main(["permissions", "scheduler", "--no-declare-streams"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["pub_allow"] == list(service_permissions("scheduler", declare_streams=False).pub_allow)
    assert shown["inbox_prefix"] == "_INBOX_scheduler"
    assert main(["permissions", "trainer", "--pool", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["sub_allow"][2] == "dispatch.cpu.>"
    with pytest.raises(SystemExit):
        main(["permissions", "dataset", "--pool", "cpu"])
    assert "trainers only" in capsys.readouterr().err

    monkeypatch.delenv("MODELYARD_NATS_ACCOUNT_SEED", raising=False)
    with pytest.raises(SystemExit):
        main(["service-creds", "dataset"])
    assert "no account seed" in capsys.readouterr().err

    monkeypatch.setenv("MODELYARD_NATS_ACCOUNT_SEED", trust.account_seed)
    assert main(["service-creds", "registry", "--expires-days", "30"]) == 0
    claims = verify_jwt(parse_creds(capsys.readouterr().out)[0], trust.account_pub)
    assert claims["name"] == "service:registry" and "exp" in claims

    seed_file, out = tmp_path / "account.seed", tmp_path / "gateway.creds"
    seed_file.write_text(trust.account_seed + "\n")
    monkeypatch.delenv("MODELYARD_NATS_ACCOUNT_SEED")
    assert main(["service-creds", "gateway", "--account-seed-file", str(seed_file), "--out", str(out)]) == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    claims = verify_jwt(parse_creds(out.read_text())[0], trust.account_pub)
    assert claims["nats"]["sub"]["allow"] == list(SERVICE_PERMISSIONS["gateway"].sub_allow)

    seed_file.write_text(parse_creds(out.read_text())[1])  # a user seed, not the account's
    with pytest.raises(SystemExit):
        main(["service-creds", "gateway", "--account-seed-file", str(seed_file)])
    assert "account seed" in capsys.readouterr().err
