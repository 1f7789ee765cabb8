"""Writes a TUF repository with python-tuf's Metadata API, for vouch's client
to read: consistent snapshots, a delegation with path patterns, a second
root version (root key rotation), targets with sha256 and one with only
sha512; ed25519 keys, an ECDSA P-256 snapshot key and an RSA-PSS timestamp
key.

usage: write_repo.py OUT_DIR [--odd-names]
With --odd-names, also delegated roles named `?`, `#`, `/x` and `../x`,
each with one target under `odd/N/`. Prints the target paths and their
sha256 on stdout, one per line.
"""
import hashlib
import os
import sys
from datetime import datetime, timedelta, timezone

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer


def expiry(days: int) -> datetime:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    return now + timedelta(days=days)


def main() -> int:
    out = sys.argv[1]
    odd = ["?", "#", "/x", "../x"] if "--odd-names" in sys.argv[2:] else []
    meta_dir = os.path.join(out, "metadata")
    targets_dir = os.path.join(out, "targets")
    os.makedirs(meta_dir, exist_ok=True)
    os.makedirs(targets_dir, exist_ok=True)
    signers = {name: CryptoSigner.generate_ed25519() for name in
               ("root", "root2", "targets", "releases", "odd")}
    # The other key types vouch's client verifies: ECDSA P-256 and RSA-PSS.
    signers["snapshot"] = CryptoSigner.generate_ecdsa()
    signers["timestamp"] = CryptoSigner.generate_rsa()

    root = Metadata(Root(expires=expiry(365)))
    for role in ("root", "targets", "snapshot", "timestamp"):
        root.signed.add_key(signers[role].public_key, role)
    root.signed.consistent_snapshot = True

    contents = {
        "hello.txt": b"hello from python-tuf\n",
        "apps/app-1.0.tgz": b"\x1f\x8b app bytes " * 50,
        "apps/only512.bin": b"sha512 only",
    }
    for i, _ in enumerate(odd):
        contents[f"odd/{i}/f.txt"] = f"under an odd role name {i}\n".encode()
    odd_roles = {name: Metadata(Targets(expires=expiry(365))) for name in odd}
    targets = Metadata(Targets(expires=expiry(365)))
    releases = Metadata(Targets(expires=expiry(365)))
    for path, data in contents.items():
        tf = TargetFile.from_data(path, data, ["sha256"])
        if path == "apps/only512.bin":
            tf = TargetFile.from_data(path, data, ["sha512"])
        if path.startswith("odd/"):
            odd_roles[odd[int(path.split("/")[1])]].signed.targets[path] = tf
        else:
            (releases if path.startswith("apps/") else targets).signed.targets[path] = tf
        for h in tf.hashes.values():
            d, name = os.path.split(path)
            p = os.path.join(targets_dir, d, f"{h}.{name}")
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
    roles = {"releases": DelegatedRole(
        name="releases", keyids=[signers["releases"].public_key.keyid], threshold=1,
        terminating=True, paths=["apps/*"])}
    for i, name in enumerate(odd):
        roles[name] = DelegatedRole(
            name=name, keyids=[signers["odd"].public_key.keyid], threshold=1,
            terminating=True, paths=[f"odd/{i}/*"])
    targets.signed.delegations = Delegations(
        keys={signers["releases"].public_key.keyid: signers["releases"].public_key,
              signers["odd"].public_key.keyid: signers["odd"].public_key},
        roles=roles,
    )

    snapshot = Metadata(Snapshot(expires=expiry(30)))
    snapshot.signed.meta["targets.json"] = MetaFile(version=1)
    snapshot.signed.meta["releases.json"] = MetaFile(version=1)
    for name in odd:
        snapshot.signed.meta[f"{name}.json"] = MetaFile(version=1)
    timestamp = Metadata(Timestamp(expires=expiry(7)))
    timestamp.signed.snapshot_meta = MetaFile(version=1)

    ser = JSONSerializer(compact=False)
    root.sign(signers["root"])
    root.to_file(os.path.join(meta_dir, "1.root.json"), ser)
    # Rotate the root key: version 2 is signed by the old and the new key.
    root.signed.revoke_key(signers["root"].public_key.keyid, "root")
    root.signed.add_key(signers["root2"].public_key, "root")
    root.signed.version += 1
    root.signatures.clear()
    root.sign(signers["root"], append=True)
    root.sign(signers["root2"], append=True)
    root.to_file(os.path.join(meta_dir, "2.root.json"), ser)

    targets.sign(signers["targets"])
    targets.to_file(os.path.join(meta_dir, "1.targets.json"), ser)
    releases.sign(signers["releases"])
    releases.to_file(os.path.join(meta_dir, "1.releases.json"), ser)
    for name, md in odd_roles.items():
        md.sign(signers["odd"])
        # Clients ask for 1.{quote(name)}.json; a static server decodes the
        # URL, so the file carries the name as it is (`/` making a folder).
        path = os.path.join(meta_dir, f"1.{name}.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        md.to_file(path, ser)
    snapshot.sign(signers["snapshot"])
    snapshot.to_file(os.path.join(meta_dir, "1.snapshot.json"), ser)
    timestamp.sign(signers["timestamp"])
    timestamp.to_file(os.path.join(meta_dir, "timestamp.json"), ser)
    # A second timestamp version, kept aside so tests can serve it and then
    # roll back to version 1.
    timestamp.signed.version = 2
    timestamp.signatures.clear()
    timestamp.sign(signers["timestamp"])
    timestamp.to_file(os.path.join(out, "timestamp-v2.json"), ser)

    for path, data in contents.items():
        print(path, hashlib.sha256(data).hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main())
