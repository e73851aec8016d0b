"""A small synchronous client of etcd's v3 API, over etcd's own JSON gateway (``/v3/...``).

etcd serves its gRPC API as JSON on the client port (keys and values base64, 64-bit integers as
strings). Nodes are threaded, so a blocking client with per-request deadlines is the simplest
fit: every call tries the cluster's endpoints in turn until one answers within the deadline,
and raises ``OrderingUnavailable`` if none does (no majority, or every member down).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from govchain.errors import OrderingUnavailable
from govchain.ordering.etcd_tls import EtcdTls

DEFAULT_TIMEOUT_S = 5.0
"""Deadline of one call across all endpoints: a cluster without a majority hangs writes and
linearizable reads, and the caller must get a clear answer instead."""


WATCH_PROGRESS_S = 1
"""Seconds between the progress notifications a local cluster's members send on idle watches
(``--experimental-watch-progress-notify-interval``)."""
WATCH_IDLE_S = 3.0
"""A watch stream silent this long (no event, no progress notification) is reconnected."""


def b64(data: bytes) -> str:
    """Return the base64 text of ``data`` (the gateway's form of bytes)."""
    return base64.b64encode(data).decode()


def unb64(text: str | None) -> bytes:
    """Return the bytes of the gateway's base64 text (absent = empty)."""
    return base64.b64decode(text) if text else b""


def prefix_end(prefix: bytes) -> bytes:
    """Return the ``range_end`` that selects every key starting with ``prefix``."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\x00"


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One key of a range answer."""

    key: bytes
    """The key."""
    value: bytes
    """The value."""
    create_revision: int
    """Revision that created the key."""
    mod_revision: int
    """Revision of the last change."""


@dataclass(frozen=True, slots=True)
class RangeResult:
    """Answer of a range read."""

    kvs: tuple[KeyValue, ...]
    """Keys found (at most ``limit``)."""
    count: int
    """Number of keys in the range (beyond ``limit`` too)."""
    revision: int
    """Store revision the answer was read at."""


def _kv(obj: dict[str, Any]) -> KeyValue:
    return KeyValue(
        unb64(obj.get("key")),
        unb64(obj.get("value")),
        int(obj.get("create_revision", 0)),
        int(obj.get("mod_revision", 0)),
    )


class EtcdClient:
    """Blocking calls to an etcd cluster, failing over between its client URLs (``https``
    ones with ``tls``: the members' authority and this client's certificate)."""

    def __init__(
        self,
        endpoints: Sequence[str],
        timeout: float = DEFAULT_TIMEOUT_S,
        *,
        tls: EtcdTls | None = None,
    ) -> None:
        if not endpoints:
            raise ValueError("at least one etcd endpoint is needed")
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.timeout = timeout
        self._preferred = 0
        self._lock = threading.Lock()
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(1.0, timeout)),
            # Every connection may stay open: one closed after a burst of submissions is a new
            # TLS handshake (both ends) on the next. The network benchmark over TLS: 4,235 tx/s
            # with 16 of 32 kept, 4,572 and 4,903 with all kept.
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
            verify=tls.context() if tls is not None else True,
        )

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    # --- transport ---------------------------------------------------------------------------

    def call(self, path: str, body: dict[str, Any], timeout: float | None = None) -> Any:
        """POST ``body`` to ``/v3/<path>`` on the first endpoint that answers; return the JSON
        answer. ``OrderingUnavailable`` (naming the last error, never a body) when none does
        within the deadline."""
        data = orjson.dumps(body)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        n = len(self.endpoints)
        start = self._preferred
        last = "no endpoint tried"
        attempt = 0
        while True:
            idx = (start + attempt) % n
            left = deadline - time.monotonic()
            if left <= 0 and attempt >= n:
                break
            url = f"{self.endpoints[idx]}/v3/{path}"
            try:
                resp = self._http.post(
                    url,
                    content=data,
                    headers={"content-type": "application/json"},
                    timeout=httpx.Timeout(max(left, 0.2), connect=min(1.0, max(left, 0.2))),
                )
            except httpx.HTTPError as exc:
                # The exception's text says why (refused, TLS certificate, timeout); a
                # member's answer body is never quoted.
                why = str(exc)[:200]
                last = f"{self.endpoints[idx]}: {type(exc).__name__}" + (f" ({why})" if why else "")
            else:
                if resp.status_code == 200:
                    self._preferred = idx
                    return orjson.loads(resp.content)
                try:
                    msg = orjson.loads(resp.content).get("error") or resp.reason_phrase
                except orjson.JSONDecodeError:
                    msg = resp.reason_phrase
                last = f"{self.endpoints[idx]}: HTTP {resp.status_code} {msg}"
            attempt += 1
            if attempt % n == 0:
                if time.monotonic() >= deadline:
                    break
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        raise OrderingUnavailable(
            f"ordering unavailable: the etcd cluster did not answer ({last})",
            endpoints=self.endpoints,
        )

    # --- key/value ---------------------------------------------------------------------------

    def range(
        self,
        key: bytes,
        range_end: bytes | None = None,
        *,
        limit: int = 0,
        sort_by_create: bool = False,
        keys_only: bool = False,
        serializable: bool = False,
    ) -> RangeResult:
        """Read a key or a range of keys."""
        body: dict[str, Any] = {"key": b64(key)}
        if range_end is not None:
            body["range_end"] = b64(range_end)
        if limit:
            body["limit"] = limit
        if sort_by_create:
            body["sort_order"] = "ASCEND"
            body["sort_target"] = "CREATE"
        if keys_only:
            body["keys_only"] = True
        if serializable:
            body["serializable"] = True
        out = self.call("kv/range", body)
        kvs = tuple(_kv(k) for k in out.get("kvs", ()))
        return RangeResult(kvs, int(out.get("count", 0)), int(out["header"]["revision"]))

    def get(self, key: bytes) -> bytes | None:
        """Return a key's value or ``None``."""
        r = self.range(key)
        return r.kvs[0].value if r.kvs else None

    def put(self, key: bytes, value: bytes, lease: int = 0) -> int:
        """Write a key (attached to ``lease`` if given); return the new revision."""
        body: dict[str, Any] = {"key": b64(key), "value": b64(value)}
        if lease:
            body["lease"] = str(lease)
        return int(self.call("kv/put", body)["header"]["revision"])

    def delete_range(self, key: bytes, range_end: bytes | None = None) -> int:
        """Delete a key or a range; return how many keys were deleted."""
        body: dict[str, Any] = {"key": b64(key)}
        if range_end is not None:
            body["range_end"] = b64(range_end)
        return int(self.call("kv/deleterange", body).get("deleted", 0))

    def txn(
        self,
        compare: list[dict[str, Any]],
        success: list[dict[str, Any]],
        failure: list[dict[str, Any]] | None = None,
    ) -> tuple[bool, list[Any]]:
        """Run a transaction; return whether the comparisons held and the answers of the
        branch that ran."""
        out = self.call(
            "kv/txn", {"compare": compare, "success": success, "failure": failure or []}
        )
        return bool(out.get("succeeded", False)), list(out.get("responses", []))

    def compact(self, revision: int) -> None:
        """Drop the history of every key before ``revision``."""
        self.call("kv/compaction", {"revision": str(revision), "physical": False})

    # --- leases ------------------------------------------------------------------------------

    def lease_grant(self, ttl: int) -> int:
        """Grant a lease of ``ttl`` seconds; return its id."""
        return int(self.call("lease/grant", {"TTL": str(ttl)})["ID"])

    def lease_keepalive(self, lease: int) -> int:
        """Renew a lease once; return its remaining TTL (0: it has expired)."""
        out = self.call("lease/keepalive", {"ID": str(lease)})
        result = out.get("result", out)
        return int(result.get("TTL", 0))

    def lease_revoke(self, lease: int) -> None:
        """Revoke a lease (its keys are deleted at once)."""
        self.call("lease/revoke", {"ID": str(lease)})

    # --- cluster -----------------------------------------------------------------------------

    def member_status(self, endpoint: str) -> dict[str, Any] | None:
        """Return one member's status (leader, raft term, db size) or ``None`` if it is down."""
        try:
            resp = self._http.post(
                f"{endpoint.rstrip('/')}/v3/maintenance/status", content=b"{}", timeout=1.0
            )
        except httpx.HTTPError:
            return None
        if resp.status_code != 200:
            return None
        out: dict[str, Any] = orjson.loads(resp.content)
        return out

    def watch(
        self,
        prefix: bytes,
        on_event: Callable[[], None],
        stop: threading.Event,
    ) -> None:
        """Call ``on_event`` whenever a key under ``prefix`` changes, until ``stop`` is set
        (reconnecting to another endpoint when a stream breaks). Run it in its own thread.

        The watch asks for progress notifications: a member that sends them (a local cluster's
        members do every ``WATCH_PROGRESS_S``) keeps an idle stream alive and shows it is
        there; one silent for ``WATCH_IDLE_S`` is left for the next endpoint. It also asks the
        member to end the stream when it has no Raft leader (gRPC metadata ``hasleader``, a
        ``Grpc-Metadata-`` header through the gateway): a member cut off from the majority
        hears of no change, and ends the stream a few seconds after losing its leader."""
        body = orjson.dumps(
            {
                "create_request": {
                    "key": b64(prefix),
                    "range_end": b64(prefix_end(prefix)),
                    "progress_notify": True,
                }
            }
        )
        i = 0
        while not stop.is_set():
            url = f"{self.endpoints[i % len(self.endpoints)]}/v3/watch"
            try:
                with self._http.stream(
                    "POST",
                    url,
                    content=body,
                    headers={"Grpc-Metadata-hasleader": "true"},
                    timeout=httpx.Timeout(WATCH_IDLE_S, connect=1.0),
                ) as resp:
                    for line in resp.iter_lines():
                        if stop.is_set():
                            return
                        if '"events"' in line:
                            on_event()
            except httpx.HTTPError:
                pass  # the member went away, or was silent for WATCH_IDLE_S
            i += 1
            on_event()  # something may have changed while the stream was down
            stop.wait(0.2)
