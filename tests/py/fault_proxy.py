#!/usr/bin/env python3
"""A fault-injecting HTTP proxy in front of a real server, for tests.

    fault_proxy.py UPSTREAM CONTROL [--tls CERT KEY CA]

With --tls it listens with TLS (CERT, KEY) and talks HTTPS to UPSTREAM,
checking it against CA: in front of a real notary-server.

CONTROL is a file read at each request; when it holds "MODE PATTERN",
requests whose "METHOD PATH" matches the regular expression PATTERN get the
fault MODE. Every other request is passed to UPSTREAM (host:port) and its
answer passed back unchanged. Prints the port it listens on, then serves.

MODE is one of:
  status:N    answer with HTTP status N and a distribution error body
              (429 also says Retry-After: 7)
  truncate    pass the request on, then send only half of the answer's body
              (with the full Content-Length) and close the connection
  endless     answer 200 with a body that does not end (no length)
  huge        answer 200 declaring a Content-Length of 1 TB
  retag:FILE  pass the request on; once it succeeded, PUT the manifest in
              FILE to the same path (a writer racing the client: the tag
              moves right after the client moved it)
  flip        pass the request on, then flip one byte in the middle of the
              answer's body
  replace:FILE  answer 200 with the bytes of FILE (an old file served again)
  rewrite:FROM=TO  pass the request on with FROM replaced by TO in its path
"""
import http.client
import json
import http.server
import re
import ssl
import sys

UPSTREAM, CONTROL = sys.argv[1], sys.argv[2]
TLS = sys.argv[4:7] if len(sys.argv) >= 7 and sys.argv[3] == "--tls" else None
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def rule(self):
        """The fault for this request, if any."""
        try:
            with open(CONTROL) as f:
                mode, pattern = f.read().split(maxsplit=1)
        except (OSError, ValueError):
            return None
        return mode if re.search(pattern.strip(), f"{self.command} {self.path}") else None

    def fault(self, mode) -> bool:
        if mode is None:
            return False
        if mode.startswith("status:"):
            code = int(mode.split(":", 1)[1])
            body = b'{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}'
            self.send_response(code)
            if code == 429:
                self.send_header("Retry-After", "7")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return True
        if mode.startswith("replace:"):
            with open(mode.split(":", 1)[1], "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return True
        if mode in ("endless", "huge") and self.command == "GET":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if mode == "huge":
                self.send_header("Content-Length", str(10**12))
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            chunk = b"{" * 65536
            try:
                for _ in range(1 << 15):  # 2 GiB at most
                    self.wfile.write(chunk)
            except OSError:
                pass  # the client hung up, as it should
            return True
        return False

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        mode = self.rule()
        if self.fault(mode):
            return
        # The Host header is kept, so the registry's Location headers name
        # the proxy.
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        path = self.path
        if mode and mode.startswith("rewrite:"):
            old, new = mode.split(":", 1)[1].split("=", 1)
            path = path.replace(old, new)
        upstream = connect()
        upstream.request(self.command, path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        if mode == "flip" and self.command == "GET" and data:
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]
        declared = answer.getheader("Content-Length")
        upstream.close()
        cut = mode == "truncate" and self.command == "GET"
        self.send_response(answer.status)
        for k, v in answer.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        if self.command == "HEAD" and declared is not None:
            self.send_header("Content-Length", declared)
        else:
            self.send_header("Content-Length", str(len(data)))
        if cut:
            self.send_header("Connection", "close")
        self.end_headers()
        if mode and mode.startswith("retag:") and 200 <= answer.status < 300:
            with open(mode.split(":", 1)[1], "rb") as f:
                manifest = f.read()
            media = json.loads(manifest).get("mediaType", "application/vnd.oci.image.manifest.v1+json")
            racer = connect()
            racer.request("PUT", self.path, body=manifest, headers={"Content-Type": media})
            racer.getresponse().read()
            racer.close()
        if self.command == "HEAD":
            return
        if cut:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = forward


def connect():
    if TLS:
        context = ssl.create_default_context(cafile=TLS[2])
        return http.client.HTTPSConnection(UPSTREAM, timeout=60, context=context)
    return http.client.HTTPConnection(UPSTREAM, timeout=60)


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if TLS:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(TLS[0], TLS[1])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
