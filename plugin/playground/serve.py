#!/usr/bin/env python3
"""Serves the playground's static files on 127.0.0.1: `make playground` and
e2e_playground run this same server. Browsers load a page's .wasm over HTTP, not from
file://, and only with the application/wasm type. Port 0 picks a free port; the first
line printed names the page's URL."""

import functools
import http.server
import sys


class StaticFiles(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".js": "text/javascript",
        ".css": "text/css",
        ".html": "text/html; charset=utf-8",
    }

    def end_headers(self):
        # A rebuilt playground must never be mixed with a cached old half.
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def list_directory(self, path):
        self.send_error(404)
        return None


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: serve.py DIRECTORY PORT")
    directory, port = sys.argv[1], int(sys.argv[2])
    handler = functools.partial(StaticFiles, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    print(f"playground: open http://127.0.0.1:{server.server_port}/ (Ctrl-C stops the server)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
