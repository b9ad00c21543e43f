#!/usr/bin/python3
"""A static HTTP/1.1 file server for the collect tests: serves DIR on 127.0.0.1 (port 0: the
kernel picks one; the port is printed on the first line of stdout), with single Range requests
(206/416) as real mirrors answer them, HEAD, a folder's index.json at the folder's URL (an npm
packument at /NAME while its tarballs sit under /NAME/-/), and a fault to inject: --drop PATH:BYTES closes the
connection after BYTES of PATH's body, the first time PATH is asked for (a cut download that the
client must resume). Nothing outside DIR is served.

usage: static_http_server.py DIR [--drop PATH:BYTES]
"""
import http.server
import os
import re
import sys
import urllib.parse

root = os.path.realpath(sys.argv[1])
drops = {}
args = sys.argv[2:]
while args:
    if args[0] == "--drop":
        path, n = args[1].rsplit(":", 1)
        drops[path] = int(n)
        args = args[2:]
    else:
        sys.exit("unknown option " + args[0])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("%s %s\n" % (self.command, self.path))

    def resolve(self):
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        full = os.path.realpath(os.path.join(root, path.lstrip("/")))
        if full != root and not full.startswith(root + os.sep):
            return None, path
        return full, path

    def do_HEAD(self):
        self.serve(False)

    def do_GET(self):
        self.serve(True)

    def serve(self, body):
        full, path = self.resolve()
        if full and os.path.isdir(full) and os.path.isfile(os.path.join(full, "index.json")):
            full = os.path.join(full, "index.json")  # a registry's document at a folder's URL
        if not full or not os.path.isfile(full):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = os.path.getsize(full)
        start, end, status = 0, size - 1, 200
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", "") or "")
        if m:
            start = int(m.group(1))
            if m.group(2):
                end = min(int(m.group(2)), size - 1)
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        self.send_response(status)
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.end_headers()
        if not body:
            return
        with open(full, "rb") as f:
            f.seek(start)
            data = f.read(end - start + 1)
        cut = drops.pop(path, None)
        if cut is not None:
            self.wfile.write(data[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
