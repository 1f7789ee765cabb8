"""Prints securesystemslib's canonical JSON (what python-tuf signs) of the
JSON document in the file given, as raw bytes on stdout."""
import json
import sys

from securesystemslib.formats import encode_canonical

with open(sys.argv[1], encoding="utf-8") as f:
    doc = json.load(f)
sys.stdout.buffer.write(encode_canonical(doc).encode("utf-8"))
