"""python-tuf's ngclient against a repository: refresh, then look each
target up (no download). Prints one line per target: `path sha256 length`,
then how many bytes of metadata it fetched.

usage: ngclient_lookup.py ROOT_FILE METADATA_URL WORK_DIR TARGET...
"""
import os
import sys

from tuf.ngclient import Updater, Urllib3Fetcher


class Counting(Urllib3Fetcher):
    """The default fetcher, counting bytes."""

    fetched = 0

    def _fetch(self, url):
        for chunk in super()._fetch(url):
            Counting.fetched += len(chunk)
            yield chunk


def main() -> int:
    root_file, metadata_url, work, *targets = sys.argv[1:]
    meta_dir = os.path.join(work, "metadata")
    os.makedirs(meta_dir, exist_ok=True)
    with open(root_file, "rb") as f:
        root = f.read()
    updater = Updater(meta_dir, metadata_url, os.path.join(work, "targets"), None,
                      fetcher=Counting(), bootstrap=root)
    updater.refresh()
    for path in targets:
        info = updater.get_targetinfo(path)
        if info is None:
            print(f"no such target: {path}", file=sys.stderr)
            return 1
        print(f"{path} {info.hashes['sha256']} {info.length}")
    print(f"fetched {Counting.fetched} bytes of metadata")
    return 0


if __name__ == "__main__":
    sys.exit(main())
