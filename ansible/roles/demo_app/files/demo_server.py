#!/usr/bin/env python3
"""homeprod demo backend: answers every GET with who served it and whom it saw.

The JSON shape is the contract verify relies on:
{"service": ..., "host": ..., "client": <X-Real-IP header>, "peer": <TCP peer address>}
Settings come from the environment (the unit's EnvironmentFile). One process serves one
port; several services may share it (the stage proxy passes the Host header), so the
service is picked by the name it was asked for.
"""
import json
import os
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# "name.example=svc,other.example=svc2": which service answers for which Host.
SERVICES = dict(pair.split("=", 1) for pair in os.environ["DEMO_SERVICES"].split(",") if pair)
HOST = os.environ["DEMO_HOST"]
LISTEN = os.environ.get("DEMO_LISTEN", "0.0.0.0")
PORT = int(os.environ["DEMO_PORT"])


class Handler(BaseHTTPRequestHandler):
    server_version = "homeprod-demo"
    # Keep-alive: the stage proxy holds upstream connections open.
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        name = self.headers.get("Host", "").rsplit(":", 1)[0].lower()
        service = SERVICES.get(name)
        if service is None:
            self.send_error(421, "no service answers to this name here")
            return
        body = json.dumps(
            {
                "service": service,
                "host": HOST,
                "client": self.headers.get("X-Real-IP", ""),
                "peer": self.client_address[0],
            }
        ).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    address_family = socket.AF_INET6 if ":" in LISTEN else socket.AF_INET


if __name__ == "__main__":
    Server((LISTEN, PORT), Handler).serve_forever()
