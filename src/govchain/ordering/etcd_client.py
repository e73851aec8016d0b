"""A small synchronous client of etcd's v3 API over gRPC.

The messages are etcd's own protocol as ``aetcd`` compiles it (``aetcd.rpc``), sent with
``grpcio``'s blocking stubs: nodes are threaded, so a blocking client with per-call deadlines
is the simplest fit. Every call tries the cluster's endpoints in turn until one answers within
the deadline, and raises ``OrderingUnavailable`` if none does (no majority, or every member
down). Endpoints are URLs: ``https://host:port`` is mutual TLS with ``EtcdTls``'s files,
``http://host:port`` is plain.

Before, the client spoke JSON to etcd's gRPC gateway; decoding the base64 JSON of every queued
batch and block took a third of etcd's CPU (docs/performance.md).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

# gRPC's core logs every failed connection attempt at INFO to stderr; the client reports what
# matters itself (``OrderingUnavailable``). A level set by the operator wins.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import grpc
from aetcd.rpc import rpc_pb2 as pb
from aetcd.rpc import rpc_pb2_grpc as rpc

from govchain.errors import OrderingUnavailable, SchemaViolation
from govchain.ordering.etcd_tls import EtcdTls

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 5.0
"""Deadline of one call across all endpoints: a cluster without a majority hangs writes and
linearizable reads, and the caller must get a clear answer instead."""
WATCH_PROGRESS_S = 1
"""Seconds between the progress notifications a local cluster's members send on idle watches
(``--experimental-watch-progress-notify-interval``)."""
WATCH_IDLE_S = 3.0
"""A watch stream silent this long (no event, no progress notification) is reconnected."""
MAX_SEND_BYTES = 64 * 1024 * 1024
"""Largest request sent (a block or a batch of queued transactions is a few MiB at most)."""
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_SEND_BYTES),
    ("grpc.max_receive_message_length", -1),  # ranges of many blocks
    # A member that was down is tried again within a second of coming back (gRPC's default
    # backoff grows to two minutes).
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
]
FINAL_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,  # e.g. revoking a lease that already expired
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)
"""Answers that another member (or another try) would give the same way, e.g. a transaction
with more operations than the cluster allows: reported at once, not retried until the
deadline."""
REQUIRE_LEADER = (("hasleader", "true"),)
"""gRPC metadata: a member without a Raft leader refuses (a watch: ends the stream) instead of
answering from a store that no longer advances."""


def prefix_end(prefix: bytes) -> bytes:
    """Return the ``range_end`` that selects every key starting with ``prefix``."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\x00"


# --- transaction parts ------------------------------------------------------------------------


def op_put(key: bytes, value: bytes, lease: int = 0) -> Any:
    """A put in a transaction."""
    return pb.RequestOp(request_put=pb.PutRequest(key=key, value=value, lease=lease))


def op_delete(key: bytes, range_end: bytes = b"") -> Any:
    """A delete (of one key, or of ``key..range_end``) in a transaction."""
    return pb.RequestOp(request_delete_range=pb.DeleteRangeRequest(key=key, range_end=range_end))


def op_get(key: bytes) -> Any:
    """A read of one key in a transaction."""
    return pb.RequestOp(request_range=pb.RangeRequest(key=key))


def if_absent(key: bytes) -> Any:
    """Compare: ``key`` does not exist (it was never created, or was deleted)."""
    return pb.Compare(key=key, target=pb.Compare.CREATE, result=pb.Compare.EQUAL, create_revision=0)


def if_value(key: bytes, value: bytes) -> Any:
    """Compare: ``key`` holds ``value``."""
    return pb.Compare(key=key, target=pb.Compare.VALUE, result=pb.Compare.EQUAL, value=value)


def if_lease(key: bytes, lease: int) -> Any:
    """Compare: ``key`` is attached to ``lease``."""
    return pb.Compare(key=key, target=pb.Compare.LEASE, result=pb.Compare.EQUAL, lease=lease)


def range_values(responses: Sequence[Any]) -> list[bytes]:
    """Return the values read by the ``op_get`` parts of a transaction's answers, in order
    (missing keys give nothing)."""
    return [kv.value for r in responses for kv in r.response_range.kvs]


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


@dataclass(frozen=True, slots=True)
class _Stubs:
    """The services of one member, on one channel."""

    channel: grpc.Channel
    kv: Any
    lease: Any
    watch: Any
    maintenance: Any


def parse_endpoint(endpoint: str) -> tuple[str, bool]:
    """Return ``host:port`` of an endpoint URL and whether it is TLS (``SchemaViolation`` if
    it is not ``http(s)://host:port``)."""
    try:
        url = urlsplit(endpoint)
        port = url.port
    except ValueError:  # a port that is not a number, or out of range
        port = None
    if url.scheme not in ("http", "https") or not url.hostname or port is None:
        raise SchemaViolation(
            f"etcd endpoint {endpoint!r} is not http://host:port or https://host:port",
            field="etcd",
        )
    return f"{url.hostname}:{port}", url.scheme == "https"


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
            raise SchemaViolation("at least one etcd endpoint is needed", field="etcd")
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.timeout = timeout
        self._preferred = 0
        self._credentials: Any = None
        if tls is not None:
            tls.context()  # unusable files: a typed error now, not a failed handshake later
            self._credentials = grpc.ssl_channel_credentials(
                root_certificates=tls.ca.read_bytes(),
                private_key=tls.key.read_bytes(),
                certificate_chain=tls.cert.read_bytes(),
            )
        self._stubs = [self._open(e) for e in self.endpoints]
        self._closed = False

    def _open(self, endpoint: str) -> _Stubs:
        target, secure = parse_endpoint(endpoint)
        if secure and self._credentials is None:
            raise SchemaViolation(
                f"etcd endpoint {endpoint} is https: a CA, a client certificate and its key "
                "are needed",
                field="etcd",
            )
        channel = (
            grpc.secure_channel(target, self._credentials, CHANNEL_OPTIONS)
            if secure
            else grpc.insecure_channel(target, CHANNEL_OPTIONS)
        )
        return _Stubs(
            channel,
            rpc.KVStub(channel),
            rpc.LeaseStub(channel),
            rpc.WatchStub(channel),
            rpc.MaintenanceStub(channel),
        )

    def close(self) -> None:
        """Close the connections (later calls raise ``OrderingUnavailable``)."""
        self._closed = True
        for s in self._stubs:
            s.channel.close()

    # --- transport ---------------------------------------------------------------------------

    def call(self, fn: Callable[[_Stubs, float], T], timeout: float | None = None) -> T:
        """Run ``fn(member's stubs, seconds left)`` on the first endpoint that answers; return
        its answer. ``OrderingUnavailable`` (naming the last error) when none does within the
        deadline."""
        if self._closed:
            raise OrderingUnavailable("ordering unavailable: the node is stopping")
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        n = len(self._stubs)
        start = self._preferred
        last = "no endpoint tried"
        attempt = 0
        while True:
            idx = (start + attempt) % n
            left = deadline - time.monotonic()
            if left <= 0 and attempt >= n:
                break
            try:
                out = fn(self._stubs[idx], max(left, 0.2))
            except grpc.RpcError as exc:
                why = exc.details() or ""
                if len(why) > 300:  # the end says why (e.g. the TLS verification error)
                    why = "…" + why[-300:]
                last = f"{self.endpoints[idx]}: {exc.code().name}" + (f" ({why})" if why else "")
                if exc.code() in FINAL_CODES:
                    break
            else:
                self._preferred = idx
                return out
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
        req = pb.RangeRequest(
            key=key,
            range_end=range_end or b"",
            limit=limit,
            keys_only=keys_only,
            serializable=serializable,
        )
        if sort_by_create:
            req.sort_order = pb.RangeRequest.ASCEND
            req.sort_target = pb.RangeRequest.CREATE
        out = self.call(lambda s, t: s.kv.Range(req, timeout=t))
        kvs = tuple(KeyValue(k.key, k.value, k.create_revision, k.mod_revision) for k in out.kvs)
        return RangeResult(kvs, int(out.count), int(out.header.revision))

    def get(self, key: bytes) -> bytes | None:
        """Return a key's value or ``None``."""
        r = self.range(key)
        return r.kvs[0].value if r.kvs else None

    def put(self, key: bytes, value: bytes, lease: int = 0) -> int:
        """Write a key (attached to ``lease`` if given); return the new revision."""
        req = pb.PutRequest(key=key, value=value, lease=lease)
        return int(self.call(lambda s, t: s.kv.Put(req, timeout=t)).header.revision)

    def delete_range(self, key: bytes, range_end: bytes | None = None) -> int:
        """Delete a key or a range; return how many keys were deleted."""
        req = pb.DeleteRangeRequest(key=key, range_end=range_end or b"")
        return int(self.call(lambda s, t: s.kv.DeleteRange(req, timeout=t)).deleted)

    def txn(
        self, compare: Sequence[Any], success: Sequence[Any], failure: Sequence[Any] = ()
    ) -> tuple[bool, list[Any]]:
        """Run a transaction (``if_*`` comparisons, ``op_*`` operations); return whether the
        comparisons held and the answers of the branch that ran."""
        req = pb.TxnRequest(compare=compare, success=success, failure=failure)
        out = self.call(lambda s, t: s.kv.Txn(req, timeout=t))
        return bool(out.succeeded), list(out.responses)

    def compact(self, revision: int) -> None:
        """Drop the history of every key before ``revision``."""
        req = pb.CompactionRequest(revision=revision, physical=False)
        self.call(lambda s, t: s.kv.Compact(req, timeout=t))

    # --- leases ------------------------------------------------------------------------------

    def lease_grant(self, ttl: int) -> int:
        """Grant a lease of ``ttl`` seconds; return its id."""
        req = pb.LeaseGrantRequest(TTL=ttl)
        return int(self.call(lambda s, t: s.lease.LeaseGrant(req, timeout=t)).ID)

    def lease_keepalive(self, lease: int) -> int:
        """Renew a lease once; return its remaining TTL (0: it has expired)."""
        req = pb.LeaseKeepAliveRequest(ID=lease)

        def once(s: _Stubs, t: float) -> int:
            stream = s.lease.LeaseKeepAlive(iter([req]), timeout=t)
            try:
                return int(next(stream).TTL)
            except StopIteration:
                return 0
            finally:
                stream.cancel()

        return self.call(once)

    def lease_revoke(self, lease: int) -> None:
        """Revoke a lease (its keys are deleted at once)."""
        req = pb.LeaseRevokeRequest(ID=lease)
        self.call(lambda s, t: s.lease.LeaseRevoke(req, timeout=t))

    # --- cluster -----------------------------------------------------------------------------

    def member_status(self, endpoint: str) -> dict[str, Any] | None:
        """Return one member's status (``leader``, ``header.member_id``, ``raft_term``,
        ``db_size``) or ``None`` if it does not answer within a second."""
        endpoint = endpoint.rstrip("/")
        own = endpoint in self.endpoints
        stubs = self._stubs[self.endpoints.index(endpoint)] if own else self._open(endpoint)
        try:
            st = stubs.maintenance.Status(pb.StatusRequest(), timeout=1.0)
        except grpc.RpcError:
            return None
        finally:
            if not own:
                stubs.channel.close()
        return {
            "leader": int(st.leader),
            "header": {"member_id": int(st.header.member_id)},
            "raft_term": int(st.raftTerm),
            "db_size": int(st.dbSize),
        }

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
        there; one silent for ``WATCH_IDLE_S`` is left for the next endpoint. It also requires
        a leader (gRPC metadata ``hasleader``): a member cut off from the majority hears of no
        change, and ends the stream a few seconds after losing its leader."""
        create = pb.WatchRequest(
            create_request=pb.WatchCreateRequest(
                key=prefix, range_end=prefix_end(prefix), progress_notify=True
            )
        )
        i = 0
        while not stop.is_set() and not self._closed:
            stubs = self._stubs[i % len(self._stubs)]
            ended = threading.Event()
            stream = stubs.watch.Watch(_requests(create, ended), metadata=REQUIRE_LEADER)
            heard = [time.monotonic()]
            guard = threading.Thread(
                target=self._guard, args=(stream, heard, stop, ended), daemon=True
            )
            guard.start()
            try:
                for resp in stream:
                    heard[0] = time.monotonic()
                    if resp.canceled:
                        break  # e.g. compacted away under the watch: start again
                    if resp.events:
                        on_event()
            except grpc.RpcError:
                pass  # the member went away, lost its leader, or was silent (cancelled)
            finally:
                ended.set()
                stream.cancel()
                guard.join()
            if stop.is_set():
                return
            i += 1
            on_event()  # something may have changed while the stream was down
            stop.wait(0.2)

    @staticmethod
    def _guard(
        stream: Any, heard: list[float], stop: threading.Event, ended: threading.Event
    ) -> None:
        """Cancel a watch stream when ``stop`` is set or it is silent for ``WATCH_IDLE_S``."""
        while not ended.wait(0.1):
            if stop.is_set() or time.monotonic() - heard[0] > WATCH_IDLE_S:
                stream.cancel()
                return


def _requests(create: Any, ended: threading.Event) -> Iterator[Any]:
    """The request side of a watch stream: the create request, then open until it ends."""
    yield create
    ended.wait()
