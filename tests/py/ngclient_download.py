"""python-tuf's ngclient against a repository: refresh, then resolve and
download each target. Prints one line per target: `path sha256-of-file`.

usage: ngclient_download.py ROOT_FILE METADATA_URL TARGETS_URL WORK_DIR TARGET...
"""
import hashlib
import os
import sys

from tuf.ngclient import Updater


def main() -> int:
    root_file, metadata_url, targets_url, work, *targets = sys.argv[1:]
    meta_dir = os.path.join(work, "metadata")
    target_dir = os.path.join(work, "targets")
    os.makedirs(meta_dir, exist_ok=True)
    os.makedirs(target_dir, exist_ok=True)
    with open(root_file, "rb") as f:
        root = f.read()
    updater = Updater(meta_dir, metadata_url, target_dir, targets_url, bootstrap=root)
    updater.refresh()
    for path in targets:
        info = updater.get_targetinfo(path)
        if info is None:
            print(f"no such target: {path}", file=sys.stderr)
            return 1
        local = updater.download_target(info)
        with open(local, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        print(f"{path} {digest}")
    print(f"trusted root version {updater._trusted_set.root.version}")  # noqa: SLF001
    return 0


if __name__ == "__main__":
    sys.exit(main())
