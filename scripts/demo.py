"""`make demo`: a throw-away stack in a temporary folder, the thin flow walked through it, then everything stopped.

What it shows: health and version; a dataset created and read back over HTTP; the DatasetCreated event read off
the DATASETS stream; bad input answered with ProblemDetails; a missing key answered with 401; new users and keys;
then a YOLO dataset it generates uploaded (resumable, sha256-checked), imported, reviewed by a reviewer, published
as an immutable version (twice: same manifest) and exported as an Ultralytics zip; then a YOLO model trained on it
(2 epochs on the CPU) by the stack's trainer, watched live over the WebSocket, its checkpoints and ONNX listed;
then the model registered as a draft version with lineage, refused release before approval and refused approval by
its own submitter (four eyes), approved by a second admin, released signed, and verified with the stock
`model_signing verify key` command (and refused once one byte of the model changes); then deployed to the stack's
edge agent, dev-edge-1, which verifies, installs and answers an inference locally; then a second organisation on
another plan, isolated from the first, a scoped key refused what its scopes leave out, an access token, and a
revocation that stops both, all in the audit trail.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from uuid import UUID

import httpx
from rich.console import Console

from modelyard.client import devstack, stackfile, synthetic
from modelyard.client.api import ApiError, ModelyardClient
from modelyard.client.events import tail
from modelyard.client.uploader import upload_file
from modelyard.contracts.api.datasets import DatasetCreate, Task
from modelyard.contracts.api.identity import Permission, Role
from modelyard.contracts.api.models import ModelVersion, Transition
from modelyard.contracts.api.training import ConfigMode, JobCreate
from modelyard.contracts.api.uploads import UploadKind
from modelyard.contracts.envelope import Event
from modelyard.contracts.plans import Plan

out = Console(highlight=False, soft_wrap=True)
APPROVE = Transition.APPROVE
DEMO_METRICS = ("precision", "recall", "f1", "map50", "inference_ms")


async def walk(info: stackfile.StackInfo, token: str, workdir: Path) -> None:
    async with ModelyardClient(info.gateway, token) as api:
        out.print(f"[bold]1. health[/]   {(await api.health()).model_dump()}")
        out.print(f"[bold]2. version[/]  {(await api.version()).model_dump()}")
        dataset = await api.create_dataset(
            DatasetCreate(name="parking-lot cars", task=Task.DETECT, ai_module="vehicles", description="camera 3")
        )
        out.print(f"[bold]3. POST /api/v1/datasets[/] → 201 id={dataset.id} status={dataset.status.value}")
        again = await api.get_dataset(dataset.id)
        out.print(f"[bold]4. GET  /api/v1/datasets/{dataset.id}[/] → 200 name={again.name!r}")
        async for subject, event in tail(info.nats, "dataset.>", from_start=True, limit=1):
            shown = event.model_dump_json() if isinstance(event, Event) else repr(event)
            out.print(f"[bold]5. event on {subject}[/]: {shown}")
        bad = await api.raw("POST", "/api/v1/datasets", json={"name": "", "task": "juggle"})
        out.print(f"[bold]6. bad input[/] → {bad.status_code} {bad.headers['content-type']}")
        out.print(json.dumps(bad.json(), indent=2))
    async with ModelyardClient(info.gateway) as anonymous:
        try:
            await anonymous.create_dataset(DatasetCreate(name="x", task=Task.DETECT))
        except ApiError as exc:
            out.print(f"[bold]7. no API key[/] → {exc.problem.status} {exc.problem.detail}")
    async with ModelyardClient(info.gateway, token) as api:
        user = await api.create_user("ann", Role.ANNOTATOR)
        out.print(
            f"[bold]8. POST /api/v1/users[/] → {user.name} ({user.role.value}), key shown once: {user.api_key[:16]}…"
        )
        reviewer = await api.create_user("rita", Role.REVIEWER)
    await datasets_flow(info, token, reviewer.api_key, workdir)


async def datasets_flow(info: stackfile.StackInfo, token: str, reviewer_key: str, workdir: Path) -> None:
    """Bring data, review it, publish a version: what a user does before anything trains."""
    archive = synthetic.detect_zip(workdir / "parking.zip", train=12, val=4)
    async with ModelyardClient(info.gateway, token) as api:
        dataset = await api.create_dataset(DatasetCreate(name="parking cameras", task=Task.DETECT, ai_module="parking"))
        out.print(f"[bold]9. dataset[/] {dataset.name!r} ({dataset.id})")
        upload = await upload_file(api, archive, dataset.id, UploadKind.YOLO_ZIP)
        out.print(
            f"[bold]10. upload[/] {archive.name}: {upload.size:,} bytes in {upload.chunk_count} chunk(s), "
            f"sha256 checked, state {upload.state.value}"
        )
        done = await api.wait_upload(upload.id)
        classes = ", ".join((await api.get_dataset(dataset.id)).class_names)
        out.print(f"    import {done.state.value}: {done.imported_samples} samples (classes {classes})")
        samples = (await api.list_samples(dataset.id, limit=100)).samples
    async with ModelyardClient(info.gateway, reviewer_key) as review:
        for sample in samples[:-2]:
            await review.review_sample(dataset.id, sample.id, "approve")
        await review.review_sample(dataset.id, samples[-1].id, "reject", "blurred frame")
    async with ModelyardClient(info.gateway, token) as api:
        stats = await api.dataset_stats(dataset.id)
        balance = [(c.name, c.instances) for c in stats.class_balance]
        out.print(f"[bold]11. review[/] by rita: verified {stats.verified}, rejected {stats.rejected}, boxes {balance}")
        version = await api.publish_version(dataset.id, val_fraction=0.25, seed=1)
        again = await api.publish_version(dataset.id, val_fraction=0.25, seed=1)
        out.print(
            f"[bold]12. version {version.version}[/] published: {version.sample_count} samples "
            f"({version.train_count} train / {version.val_count} val), manifest {version.manifest_sha256[:16]}…"
        )
        same = again.manifest_sha256 == version.manifest_sha256
        out.print(f"    published again → version {again.version}, same manifest: {same}")
        link = await api.export_version(dataset.id, version.version)
        out.print(f"[bold]13. export[/] Ultralytics zip, {link.size:,} bytes, presigned for {link.expires_in_s}s")
    out.print("[bold]14. the DATASETS stream[/] (modelyard events tail 'dataset.>' --from-start):")
    async for subject, event in tail(info.nats, "dataset.>", from_start=True, limit=8):
        name = event.event_type if isinstance(event, Event) else "?"
        out.print(f"    {subject:<28} {name}")
    job_id = await training_flow(info, token, dataset.id, version.version)
    model_id = await registry_flow(info, token, job_id, workdir)
    await edge_flow(info, token, model_id, archive)
    await access_flow(info, token, dataset.id, version.version)


async def training_flow(info: stackfile.StackInfo, token: str, dataset_id: UUID, version: int) -> UUID:
    """Train on the version (2 epochs on the CPU) and watch it live over the WebSocket."""
    overrides = {"epochs": 2, "imgsz": 64, "batch": 8, "workers": 0}
    async with ModelyardClient(info.gateway, token) as api:
        resolved = await api.resolve_config("detect", "developer", overrides)
        out.print(f"[bold]15. config[/] {resolved.cli_preview}")
        job = await api.create_job(
            JobCreate(
                name="parking-yolo",
                dataset_id=dataset_id,
                dataset_version=version,
                mode=ConfigMode.DEVELOPER,
                overrides=overrides,
            )
        )
        out.print(f"[bold]16. job[/] {job.id} {job.status.value}; live (WebSocket /ws/training/{{id}}):")
        async for update in api.watch_job(job.id):
            if update.get("event") != "training_status":
                continue
            map50 = update["metrics"].get("metrics/mAP50(B)")
            shown = f", mAP50 {map50:.3f}" if map50 is not None else ""
            out.print(
                f"    {update['status']:<9} epoch {update['current_epoch']}/{update['total_epochs']} "
                f"({update['progress_percent']:.0f}%){shown}"
            )
            if update["status"] in ("completed", "failed", "cancelled"):
                break
        for checkpoint in (await api.job_checkpoints(job.id)).checkpoints:
            digest = checkpoint.sha256[:16]
            out.print(f"[bold]17. artifact[/] {checkpoint.name:<11} {checkpoint.size:>11,} bytes sha256 {digest}…")
    return job.id


async def registry_flow(info: stackfile.StackInfo, token: str, job_id: UUID, workdir: Path) -> UUID:
    """The trained model as a draft version with lineage; the approval gate (four eyes); a signed release that the
    stock `model_signing` command verifies, and that fails verification once one byte changes."""
    async with ModelyardClient(info.gateway, token) as api:
        model = await _registered(api, job_id)
        lineage = await api.model_lineage(model.id)
        shown = ", ".join(f"{k} {v:.3f}" for k, v in sorted(model.metrics.items()) if k in DEMO_METRICS)
        out.print(f"[bold]18. model[/] {model.ai_module} {model.version} ({model.status.value}): {shown}")
        out.print(
            f"    lineage: job {lineage.job_id} attempt {lineage.attempt}, dataset v{lineage.dataset_version} "
            f"manifest {lineage.manifest_sha256[:12]}…, config {lineage.config_sha256[:12]}…, "
            f"{lineage.framework_version}"
        )
        for refused in (api.release_model(model.id, "ship it"), api.transition_model(model.id, APPROVE, "mine")):
            try:
                await refused
            except ApiError as exc:
                out.print(f"[bold]19. refused[/] → {exc.problem.status} {exc.problem.detail}")
        admin = await api.create_user("olga", Role.ORG_ADMIN)
    async with ModelyardClient(info.gateway, admin.api_key) as olga:
        approved = await olga.transition_model(model.id, APPROVE, "mAP fine for the pilot")
        out.print(f"[bold]20. approved[/] by olga (a second admin): {approved.status.value}")
        release = await olga.release_model(model.id, "pilot on the parking cameras")
        out.print(f"[bold]21. released[/] {release.version} as release #{release.counter}, key {release.key_id}")
        folder = workdir / "release"
        signature = await olga.download_release(model.id, folder)
        public_key = workdir / "release-key.pem"
        public_key.write_text((await olga.signing_keys()).keys[0].public_key_pem)
    cli = str(Path(sys.executable).parent / "model_signing")
    argv = [cli, "verify", "key", str(folder), "--public_key", str(public_key), "--signature", str(signature)]
    ok = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: ASYNC221
    verdict = "verified" if ok.returncode == 0 else ok.stderr
    out.print(f"[bold]22. model_signing verify key {folder.name}[/] → {verdict}")
    model_file = folder / "model.onnx"
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 1
    model_file.write_bytes(bytes(data))
    bad = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: ASYNC221
    out.print(f"    one byte of model.onnx changed → {'REFUSED' if bad.returncode else 'verified?!'}")
    return model.id


async def edge_flow(info: stackfile.StackInfo, token: str, model_id: UUID, archive: Path) -> None:
    """Deploy the release to the stack's edge agent, watch it install, and ask the agent (not the cloud) to infer."""
    async with ModelyardClient(info.gateway, token) as api:
        (device,) = [d for d in (await api.list_devices()).devices if d.name == devstack.EDGE_AGENT]
        deployment = await api.create_deployment(model_id, device=device.id)
        out.print(f"[bold]23. deploy[/] to {device.name} → deployment {deployment.id}")
        async for state in api.watch_deployment(deployment.id, timeout_s=120):
            steps = ", ".join(f"{d.name} {d.status.value}" for d in state.devices)
            out.print(f"    {state.status.value}: {steps}")
    agent = info.edge_agents[devstack.EDGE_AGENT]
    with zipfile.ZipFile(archive) as zf:
        image = zf.read(next(n for n in zf.namelist() if n.endswith((".jpg", ".png"))))
    async with httpx.AsyncClient(base_url=agent, timeout=30) as edge:
        answer = (await edge.post("/v1/models/parking/infer", params={"conf": 0.01}, content=image)).json()
    top = ", ".join(f"{d['class_name']} {d['confidence']:.2f}" for d in answer["detections"][:3])
    out.print(
        f"[bold]24. edge inference[/] {agent}/v1/models/parking/infer → version {answer['model_version']} "
        f"(release #{answer['counter']}): {len(answer['detections'])} boxes above conf 0.01"
        + (f"; top: {top}" if top else " (2 epochs on 12 images teach a model little)")
    )


async def access_flow(info: stackfile.StackInfo, token: str, dataset_id: UUID, version: int) -> None:
    """Another organisation on seed 001's Professional plan, isolated from this one; a scoped key; a token; a
    revocation; the audit trail of it all."""
    async with ModelyardClient(info.gateway, token) as root:
        org = await root.create_org("harbour-logistics", Plan.PRO)
        out.print(f"[bold]25. POST /api/v1/orgs[/] → {org.name} on the {org.plan.value} plan; its admin's key once")
    async with ModelyardClient(info.gateway, org.admin_api_key) as harbour:
        mine = await harbour.list_datasets()
        theirs = await harbour.raw("GET", f"/api/v1/datasets/{dataset_id}")
        out.print(f"    its admin sees {mine.total} datasets; the first org's dataset → {theirs.status_code}")
        job = JobCreate(name="x", dataset_id=dataset_id, dataset_version=version)
        refused = await harbour.raw("POST", "/api/v1/training/jobs", json=job.model_dump(mode="json"))
        out.print(f"    training on the pro plan → {refused.status_code} {refused.json()['detail']}")
        key = await harbour.create_key("dashboard", scopes=[Permission.DATASET_READ, Permission.MODEL_READ])
    async with ModelyardClient(info.gateway, key.api_key) as dashboard:
        write = await dashboard.raw("POST", "/api/v1/datasets", json={"name": "d", "task": "detect"})
        out.print(
            f"[bold]26. a key scoped to {', '.join(s.value for s in key.scopes or [])}[/] creating a dataset → "
            f"{write.status_code} {write.json()['detail']}"
        )
        access = await dashboard.access_token(300)
        out.print(f"    exchanged for an access token (JWT, {access.expires_in} s): {access.access_token[:24]}…")
    async with ModelyardClient(info.gateway, org.admin_api_key) as harbour:
        await harbour.revoke_key(key.id)
    async with ModelyardClient(info.gateway, access.access_token) as late:
        gone = await late.raw("GET", "/api/v1/datasets")
        out.print(f"[bold]27. key revoked[/] → its token now gets {gone.status_code} {gone.json()['detail']}")
    async with ModelyardClient(info.gateway, org.admin_api_key) as harbour:
        for _ in range(50):
            trail = await harbour.list_audit(action="api_key.*")
            if trail.total >= 2:
                break
            await asyncio.sleep(0.1)
        actions = ", ".join(f"{e.action} by {e.actor}" for e in reversed(trail.events))
        out.print(f"[bold]28. GET /api/v1/audit?action=api_key.*[/] → {actions}")


async def _registered(api: ModelyardClient, job_id: UUID) -> ModelVersion:
    for _ in range(300):
        page = await api.list_models(job_id=job_id)
        if page.models:
            return page.models[0]
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the registry did not register job {job_id}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="modelyard-demo-") as tmp:
        stack = devstack.DevStack(Path(tmp) / ".modelyard", gateway_port=devstack.pick_gateway_port(0))
        try:
            with out.status("starting nats-server, PostgreSQL, S3, the dataset service and the gateway..."):
                info = stack.start()
            out.print(f"[green]stack up[/]: gateway {info.gateway}, nats {info.nats}, s3 {info.s3}")
            token = (stack.root / stackfile.TOKEN_FILE).read_text().strip()
            asyncio.run(walk(info, token, Path(tmp)))
        finally:
            stack.stop()
            out.print("[green]stack stopped[/]; the demo left nothing running")


if __name__ == "__main__":
    main()
