#!/usr/bin/env python3
"""A Docker API endpoint on a unix socket that relays to podman's.

    docker_api_shim.py LISTEN_SOCKET PODMAN_SOCKET

The docker CLI signs what it pushed (`docker trust sign`, a push with
DOCKER_CONTENT_TRUST=1) using the push stream's final `aux` record (tag,
digest, size). podman 4.3's Docker-compatible API reports the digest only
in a status line ("TAG: digest: sha256:... size: N"), so this relay passes
every request and answer through unchanged and, on a push, adds the `aux`
record that line describes. Nothing else is altered.
"""
import http.client
import http.server
import json
import os
import re
import socket
import socketserver
import sys

LISTEN, PODMAN = sys.argv[1], sys.argv[2]
IS_PUSH = re.compile(r"/images/.+/push(\?|$)")
PUSHED = re.compile(r"^(?P<tag>\S+): digest: (?P<digest>sha256:[0-9a-f]{64}) size: (?P<size>\d+)$")
HOP = {"transfer-encoding", "content-length", "connection"}


class PodmanConnection(http.client.HTTPConnection):
    def __init__(self):
        super().__init__("podman")

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(PODMAN)


class Relay(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def request_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def send_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def relay(self):
        body = self.request_body()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        if body is not None:
            headers["Content-Length"] = str(len(body))
        upstream = PodmanConnection()
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        self.send_response(answer.status, answer.reason)
        for k, v in answer.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        if self.command == "HEAD" or answer.status in (204, 304):
            self.send_header("Content-Length", "0")
            self.end_headers()
            answer.read()
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if IS_PUSH.search(self.path):
            for line in answer:
                self.send_chunk(line)
                try:
                    status = json.loads(line).get("status", "")
                except ValueError:
                    continue
                pushed = PUSHED.match(status or "")
                if pushed:
                    aux = {
                        "progressDetail": {},
                        "aux": {
                            "Tag": pushed["tag"],
                            "Digest": pushed["digest"],
                            "Size": int(pushed["size"]),
                        },
                    }
                    self.send_chunk(json.dumps(aux).encode() + b"\n")
        else:
            while chunk := answer.read1(1 << 16):
                self.send_chunk(chunk)
        self.send_chunk(b"")
        upstream.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = relay


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        connection, _ = super().get_request()
        return connection, ("docker-cli", 0)


if os.path.exists(LISTEN):
    os.unlink(LISTEN)
server = Server(LISTEN, Relay)
print("ready", flush=True)
server.serve_forever()
