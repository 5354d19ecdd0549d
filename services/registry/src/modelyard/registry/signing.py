"""Release signing with the OpenSSF model-signing package: a release directory (model.onnx, release.json) signed
with an EC P-256 key into a Sigstore bundle, verifiable offline with the stock `model_signing verify key` command."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from model_signing import signing, verifying


class SignatureInvalid(ValueError):
    """The bundle does not match the directory or the key."""


def create_key(path: Path) -> None:
    """A new EC P-256 private key in PEM, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


@dataclass(frozen=True)
class Signer:
    private_key_path: Path
    key_id: str
    public_key_pem: str

    @classmethod
    def load(cls, path: Path, *, create: bool = False) -> Signer:
        if not path.exists():
            if not create:
                raise FileNotFoundError(f"release signing key {path} does not exist")
            create_key(path)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"{path}: release signing needs an EC P-256 private key")
        public = key.public_key()
        der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return cls(path, hashlib.sha256(der).hexdigest()[:16], pem.decode())

    def sign(self, directory: Path, signature: Path) -> None:
        """Sign every file in `directory` (its layout included) into the bundle at `signature`."""
        config = signing.Config()  # type: ignore[no-untyped-call]
        config.use_elliptic_key_signer(private_key=self.private_key_path).sign(directory, signature)


def verify(directory: Path, signature: Path, public_key: Path) -> None:
    """Raise SignatureInvalid unless `signature` covers exactly the files of `directory`, signed by the key.
    A fresh verifying config each time: model-signing 1.1.1 keeps state between verifications."""
    try:
        config = verifying.Config()  # type: ignore[no-untyped-call]
        config.use_elliptic_key_verifier(public_key=public_key).verify(directory, signature)
    except Exception as exc:  # ValueError mostly, but also KeyError and InvalidSignature: all refusals
        raise SignatureInvalid(f"{type(exc).__name__}: {exc}") from exc
