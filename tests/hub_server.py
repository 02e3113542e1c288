"""A loopback stand-in for the Hugging Face Hub, for push and load-back tests (127.0.0.1 only).

It speaks the HTTP calls ``huggingface_hub`` makes to push a folder (``POST /api/repos/create``,
``/api/validate-yaml``, ``/api/{type}s/{repo}/preupload/{rev}``, ``/api/{type}s/{repo}/commit/{rev}``
with NDJSON and inline base64 files, ``GET /api/whoami-v2``) and to download it back (repo info,
``/tree``, ``HEAD``/``GET /{repo}/resolve/{rev}/{path}`` with ``ETag`` and ``X-Repo-Commit``), so that
``peft.PeftModel.from_pretrained(base, repo_id)`` works against it. Every file is committed as a
regular (non-LFS) blob. Private repos answer 404 without the right token, as the Hub does.

Start it in a test with ``with LoopbackHub(token=...) as hub:`` and point clients at ``hub.endpoint``
(``HfApi(endpoint=...)``, or ``HF_ENDPOINT`` in a subprocess's environment).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import yaml

_REPO = r"(?P<ns>[\w.-]+)/(?P<name>[\w.-]+)"
_API_REPO = re.compile(rf"^/api/(?P<type>models|datasets|spaces)/{_REPO}(?P<rest>/.*)?$")
_RESOLVE = re.compile(rf"^/(?:(?P<type>datasets|spaces)/)?{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob: what the Hub reports as the ETag of a regular file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Commit:
    """One commit: its id, message and the full file tree after it."""

    oid: str
    summary: str
    files: dict[str, bytes]


@dataclass
class Repo:
    """A repository held in memory."""

    repo_id: str
    repo_type: str
    private: bool
    commits: list[Commit] = field(default_factory=list)

    def files_at(self, revision: str) -> tuple[str, dict[str, bytes]] | None:
        """(commit id, files) at a branch name or commit id; None if unknown."""
        if revision in ("main", "HEAD"):
            if not self.commits:
                return "0" * 40, {}
            return self.commits[-1].oid, self.commits[-1].files
        for c in self.commits:
            if c.oid == revision or (len(revision) >= 7 and c.oid.startswith(revision)):
                return c.oid, c.files
        return None


@dataclass
class Request:
    """A request the server received (headers included, body kept for commits)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class LoopbackHub:
    """A minimal Hub on 127.0.0.1 with one user, ``token`` as its write token."""

    def __init__(self, token: str = "hf_loopback_test_token", user: str = "fairpp-tester") -> None:
        self.token = token
        self.user = user
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ life cycle
    @property
    def endpoint(self) -> str:
        """Base URL to give clients (``http://127.0.0.1:PORT``)."""
        if self._server is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> LoopbackHub:
        """Bind an ephemeral port on 127.0.0.1 and serve in a daemon thread."""
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LoopbackHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ helpers for tests
    def repo(self, repo_id: str, repo_type: str = "model") -> Repo:
        """The stored repo (KeyError if it was never created)."""
        return self.repos[(repo_type, repo_id)]

    def files(self, repo_id: str, repo_type: str = "model") -> dict[str, bytes]:
        """The files on ``main`` of a repo."""
        return self.repo(repo_id, repo_type).files_at("main")[1]


class _Handler(BaseHTTPRequestHandler):
    hub: LoopbackHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # quiet: tests read hub.requests instead
        return

    # ------------------------------------------------------------------ plumbing
    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload=None, *, headers: dict[str, str] | None = None, raw: bytes | None = None,
              head: bool = False) -> None:
        data = raw if raw is not None else json.dumps(payload if payload is not None else {}).encode()
        self.send_response(status)
        hdrs = {"Content-Type": "application/json" if raw is None else "application/octet-stream", **(headers or {})}
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head and self.command != "HEAD":  # a HEAD answer never carries a body
            self.wfile.write(data)

    def _error(self, status: int, message: str, code: str | None = None, head: bool = False) -> None:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, {"error": message}, headers=headers, head=head)

    def _authorized(self) -> bool:
        return self.headers.get("Authorization", "") == f"Bearer {self.hub.token}"

    def _record(self, body: bytes) -> None:
        with self.hub._lock:
            self.hub.requests.append(Request(self.command, self.path, dict(self.headers.items()), body))

    def _find_repo(self, repo_type: str, repo_id: str, head: bool = False) -> Repo | None:
        repo = self.hub.repos.get((repo_type, repo_id))
        if repo is None or (repo.private and not self._authorized()):
            self._error(404, f"Repository Not Found for url: {self.path}.", "RepoNotFound", head=head)
            return None
        return repo

    # ------------------------------------------------------------------ verbs
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        body = self._body() if method == "POST" else b""
        self._record(body)
        path = unquote(urlsplit(self.path).path)
        try:
            if path.startswith("/api/telemetry/"):  # libraries ping these; accept and ignore
                return self._send(200, {})
            if method == "GET" and path == "/api/whoami-v2":
                return self._whoami()
            if method == "POST" and path == "/api/repos/create":
                return self._create(json.loads(body or b"{}"))
            if method == "POST" and path == "/api/validate-yaml":
                return self._validate_yaml(json.loads(body or b"{}"))
            m = _API_REPO.match(path)
            if m:
                repo_type = m["type"][:-1]
                repo_id = f"{m['ns']}/{m['name']}"
                rest = m["rest"] or ""
                if method == "POST" and rest.startswith("/preupload/"):
                    return self._preupload(repo_type, repo_id, json.loads(body or b"{}"))
                if method == "POST" and rest.startswith("/commit/"):
                    return self._commit(repo_type, repo_id, rest[len("/commit/"):], body)
                if method == "GET" and (rest == "" or rest.startswith("/revision/")):
                    rev = rest[len("/revision/"):] if rest else "main"
                    return self._info(repo_type, repo_id, rev)
                if method == "GET" and rest.startswith("/tree/"):
                    rev, _, sub = rest[len("/tree/"):].partition("/")
                    return self._tree(repo_type, repo_id, rev, sub)
            m = _RESOLVE.match(path)
            if m and method in ("GET", "HEAD"):
                repo_type = (m["type"] or "models")[:-1]
                return self._resolve(repo_type, f"{m['ns']}/{m['name']}", m["rev"], m["path"], head=method == "HEAD")
            self._error(404, f"loopback hub: no route for {method} {path}")
        except (ValueError, KeyError) as exc:  # malformed client payloads
            self._error(400, f"bad request: {exc}")

    # ------------------------------------------------------------------ endpoints
    def _whoami(self) -> None:
        if not self._authorized():
            return self._error(401, "Invalid credentials in Authorization header")
        self._send(200, {
            "type": "user", "id": "0" * 24, "name": self.hub.user, "fullname": "Loopback Tester",
            "email": None, "orgs": [], "isPro": False,
            "auth": {"type": "access_token", "accessToken": {"displayName": "loopback", "role": "write"}},
        })

    def _create(self, payload: dict) -> None:
        if not self._authorized():
            return self._error(401, "Invalid credentials in Authorization header")
        repo_type = payload.get("type") or "model"
        namespace = payload.get("organization") or self.hub.user
        repo_id = f"{namespace}/{payload['name']}"
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        url = f"http://{self.headers.get('Host')}/{prefix}{repo_id}"
        with self.hub._lock:
            if (repo_type, repo_id) in self.hub.repos:
                return self._send(409, {"error": "You already created this repo", "url": url})
            private = payload.get("visibility") == "private" or payload.get("private") is True
            self.hub.repos[(repo_type, repo_id)] = Repo(repo_id, repo_type, private)
        self._send(200, {"url": url, "name": repo_id, "id": hashlib.sha1(repo_id.encode()).hexdigest()[:24]})

    def _validate_yaml(self, payload: dict) -> None:
        content = payload.get("content", "")
        front = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", content, re.DOTALL)  # the README's metadata block
        try:
            meta = yaml.safe_load(front.group(1) if front else "")
        except yaml.YAMLError as exc:
            return self._send(400, raw=f"invalid YAML: {exc}".encode())
        if meta is not None and not isinstance(meta, dict):
            return self._send(400, raw=b"YAML metadata must be a mapping")
        self._send(200, {"errors": [], "warnings": []})

    def _preupload(self, repo_type: str, repo_id: str, payload: dict) -> None:
        if not self._authorized():
            return self._error(401, "Invalid credentials in Authorization header")
        repo = self._find_repo(repo_type, repo_id)
        if repo is None:
            return
        current = repo.files_at("main")[1]
        files = [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
             "oid": git_blob_sha1(current[f["path"]]) if f["path"] in current else None}
            for f in payload["files"]
        ]
        self._send(200, {"files": files, "commitOid": repo.files_at("main")[0]})

    def _commit(self, repo_type: str, repo_id: str, revision: str, body: bytes) -> None:
        if not self._authorized():
            return self._error(401, "Invalid credentials in Authorization header")
        repo = self._find_repo(repo_type, repo_id)
        if repo is None:
            return
        if revision != "main":
            return self._error(400, f"loopback hub commits to main only, not {revision!r}")
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            return self._error(400, "commit payload must start with a header line")
        with self.hub._lock:
            files = dict(repo.files_at("main")[1])
            for item in lines[1:]:
                key, value = item["key"], item["value"]
                if key == "file":
                    if value.get("encoding") != "base64":
                        return self._error(400, f"unsupported encoding for {value.get('path')}")
                    files[value["path"]] = base64.b64decode(value["content"])
                elif key == "deletedFile":
                    files.pop(value["path"], None)
                elif key == "deletedFolder":
                    files = {p: b for p, b in files.items() if not p.startswith(value["path"].rstrip("/") + "/")}
                else:
                    return self._error(400, f"loopback hub does not support {key!r} operations (LFS/copy)")
            parent = repo.files_at("main")[0]
            oid = hashlib.sha1(f"{parent}{len(repo.commits)}".encode() + body).hexdigest()
            repo.commits.append(Commit(oid, lines[0]["value"].get("summary", ""), files))
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        self._send(200, {
            "success": True, "commitOid": oid,
            "commitUrl": f"http://{self.headers.get('Host')}/{prefix}{repo_id}/commit/{oid}",
        })

    def _info(self, repo_type: str, repo_id: str, revision: str) -> None:
        repo = self._find_repo(repo_type, repo_id)
        if repo is None:
            return
        found = repo.files_at(revision)
        if found is None:
            return self._error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        sha, files = found
        self._send(200, {
            "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24], "id": repo_id, "modelId": repo_id,
            "author": repo_id.split("/")[0], "sha": sha, "private": repo.private, "disabled": False,
            "gated": False, "downloads": 0, "likes": 0, "tags": [],
            "siblings": [{"rfilename": p, "size": len(b), "blobId": git_blob_sha1(b)} for p, b in sorted(files.items())],
        })

    def _tree(self, repo_type: str, repo_id: str, revision: str, sub: str) -> None:
        repo = self._find_repo(repo_type, repo_id)
        if repo is None:
            return
        found = repo.files_at(revision)
        if found is None:
            return self._error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        prefix = sub.strip("/") + "/" if sub.strip("/") else ""
        entries = [
            {"type": "file", "path": p, "size": len(b), "oid": git_blob_sha1(b)}
            for p, b in sorted(found[1].items()) if p.startswith(prefix)
        ]
        self._send(200, entries)

    def _resolve(self, repo_type: str, repo_id: str, revision: str, path: str, head: bool) -> None:
        repo = self._find_repo(repo_type, repo_id, head=head)
        if repo is None:
            return
        found = repo.files_at(revision)
        if found is None:
            return self._error(404, f"Invalid rev id: {revision}", "RevisionNotFound", head=head)
        sha, files = found
        if path not in files:
            return self._error(404, f"Entry not found: {path}", "EntryNotFound", head=head)
        data = files[path]
        self._send(200, raw=data, head=head, headers={
            "ETag": f'"{git_blob_sha1(data)}"', "X-Repo-Commit": sha, "Accept-Ranges": "bytes",
        })
