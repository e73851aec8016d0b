"""``govchain backup`` and ``govchain restore``: an online copy of a node's data directory, and
putting one back only after the whole chain in it has been verified.

Design: the backup is taken **beside** the running node, not through it. This process opens the
node's LMDB environment read-only and has LMDB copy it under one read transaction
(``storage/snapshot.py``): the copy is the store as of one commit while the node keeps
committing, and it works the same for ``govchain up``, a network node or a stopped node. An
API route that writes files was not chosen: the node's API has no operator authentication, and
a route that writes to a path on the host would be one more thing to protect; a backup lands on
the node's host either way, so the tool runs there, as the node's user.

A backup is a directory::

    <out>/manifest.json        what the copy holds (chain, head, checkpoint) and each file's SHA-256
    <out>/data/data.mdb        the LMDB copy (compacted: no free pages)
    <out>/data/content/…       the node's content store (files named by their hash), if any

``data/`` becomes the node's data directory on restore. Node-local secrets are not in it (they
live in the network directory: keys, ``identity/``), so a backup reveals nothing that signs.

Restore refuses at the first check that fails, names it, and installs nothing:

========  ======================================================================================
manifest  ``manifest.json`` is a backup manifest of this format
network   its chain id and genesis hash are the network's
target    the data directory is not in use by a node and is empty (``--force``: moved aside)
files     exactly the files listed, each with its size and SHA-256 (checked as they are copied)
content   every content file is named by its hash under the network's suite
store     the copy is a readable govchain store: every record of every table is read
chain     the whole chain re-verified from genesis, every table against it (``govchain verify``)
head      the verified head (height, log size, state root, checkpoint) is the manifest's
========  ======================================================================================
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from govchain.cli.audit import audit_store
from govchain.cli.options import DEFAULT_NETWORK, DataOpt, NetworkOpt
from govchain.cli.output import CliError, console, err_console, reports_errors
from govchain.contracts.registry import builtin_registry
from govchain.crypto import get_suite
from govchain.errors import Conflict, GovchainError, IntegrityError, NotFound, SchemaViolation
from govchain.ledger.chain import META_GENESIS_HASH, Ledger
from govchain.ledger.genesis import Genesis
from govchain.node.embedded import EMBEDDED_NODE
from govchain.node.lock import DataDirLock
from govchain.node.network import NetworkDir
from govchain.storage.factory import open_store
from govchain.storage.snapshot import (
    DATA_FILE,
    FileDigest,
    copy_environment,
    copy_file,
    digest_file,
    fsync_path,
    fsync_tree,
    list_files,
    read_every_record,
)

FORMAT = "govchain-backup/1"
"""Value of the manifest's ``format``."""
MANIFEST = "manifest.json"
"""The manifest's file name in a backup."""
DATA = "data"
"""Subdirectory of a backup that becomes the node's data directory."""
CONTENT = "content"
"""The content store's directory inside a data directory (``node/embedded.py``)."""
LOCK_FILES = frozenset({"lock.mdb", "node.lock"})
"""Files of a data directory that belong to running processes, never to a backup."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Where a stored chain stands: what a backup's manifest records about its copy."""

    chain_id: str
    """Chain id of the network."""
    genesis_hash: str
    """Hash of the genesis document (hex, the network's suite)."""
    height: int
    """Height of the last block (0: none yet)."""
    block_hash: str
    """Hash of that block's header (the genesis hash at height 0)."""
    log_size: int
    """Transactions in the transaction log."""
    log_root: str
    """Root of the transaction log (hex)."""
    state_root: str
    """State root after the last block (hex)."""
    checkpoint: dict[str, Any] | None
    """The stored signed checkpoint of the last block (``None`` at height 0)."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """The manifest of a backup."""

    node: str
    """Name of the node whose data was copied (``embedded`` or a department)."""
    created: str
    """When the copy was taken (UTC, ISO 8601)."""
    head: ChainHead
    """What the copy holds."""
    files: dict[str, FileDigest]
    """Every file of the backup but the manifest, by relative path."""

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "format": FORMAT,
            "node": self.node,
            "created": self.created,
            "chain_id": self.head.chain_id,
            "genesis_hash": self.head.genesis_hash,
            "height": self.head.height,
            "block_hash": self.head.block_hash,
            "log_size": self.head.log_size,
            "log_root": self.head.log_root,
            "state_root": self.head.state_root,
            "checkpoint": self.head.checkpoint,
            "files": {p: {"bytes": d.size, "sha256": d.sha256} for p, d in self.files.items()},
        }


def _refused(check: str, message: str) -> IntegrityError:
    return IntegrityError(message, check=check)


def parse_manifest(raw: bytes) -> Manifest:
    """Parse a manifest (``IntegrityError`` with ``check="manifest"`` naming the defect)."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _refused("manifest", f"{MANIFEST} is not JSON ({exc})") from None
    if type(obj) is not dict or obj.get("format") != FORMAT:
        found = obj.get("format") if type(obj) is dict else None
        raise _refused("manifest", f"{MANIFEST} is not a {FORMAT} manifest (format {found!r})")

    def field(name: str, kind: type, pattern: re.Pattern[str] | None = None) -> Any:
        value = obj.get(name)
        if type(value) is not kind or (pattern is not None and not pattern.match(str(value))):
            raise _refused("manifest", f"{MANIFEST}: field {name!r} is missing or malformed")
        return value

    files: dict[str, FileDigest] = {}
    for path, d in field("files", dict).items():
        if (
            type(d) is not dict
            or type(d.get("bytes")) is not int
            or type(d.get("sha256")) is not str
            or not _HEX64.match(d["sha256"])
        ):
            raise _refused("manifest", f"{MANIFEST}: the entry of file {path!r} is malformed")
        files[path] = FileDigest(d["bytes"], d["sha256"])
    checkpoint = obj.get("checkpoint")
    if checkpoint is not None and type(checkpoint) is not dict:
        raise _refused("manifest", f"{MANIFEST}: field 'checkpoint' is malformed")
    head = ChainHead(
        chain_id=field("chain_id", str),
        genesis_hash=field("genesis_hash", str, _HEX64),
        height=field("height", int),
        block_hash=field("block_hash", str, _HEX64),
        log_size=field("log_size", int),
        log_root=field("log_root", str, _HEX64),
        state_root=field("state_root", str, _HEX64),
        checkpoint=checkpoint,
    )
    return Manifest(field("node", str, _NAME), field("created", str), head, files)


def read_head(path: Path, genesis: Genesis) -> ChainHead:
    """Open the store in ``path`` read-only as a ledger of ``genesis`` and return its head
    (``NotFound`` if it holds no chain, ``IntegrityError`` if it belongs to another network)."""
    suite = get_suite(genesis.suite)
    store = open_store(str(path), readonly=True)
    try:
        if store.get("meta", META_GENESIS_HASH) is None:
            raise NotFound(f"{path} holds no chain data", path=str(path))
        ledger = Ledger(store, genesis, suite, builtin_registry(genesis, suite.hash))
        head = ledger.head
        height = ledger.height
        return ChainHead(
            chain_id=genesis.chain_id,
            genesis_hash=ledger.genesis_hash.hex(),
            height=height,
            block_hash=ledger.head_hash().hex(),
            log_size=ledger.log.size,
            log_root=ledger.log.root.hex(),
            state_root=(ledger.state.root if head is None else head.header.state_root).hex(),
            checkpoint=None if height == 0 else ledger.checkpoint(height).to_json(),
        )
    finally:
        store.close()
        # Opening created LMDB's lock file; it belongs to no backup.
        (path / "lock.mdb").unlink(missing_ok=True)


def node_data_dir(network: Path, node: str, data: Path | None) -> Path:
    """The data directory of ``node`` in ``network`` (``data`` if given)."""
    if data is not None:
        return data
    if not _NAME.match(node):
        raise SchemaViolation(
            f"--node must be a node name such as 'embedded' or 'tax', not {node!r}"
        )
    return NetworkDir(network).data_dir(node)


def take_backup(
    network: Path, node: str, data: Path | None, out: Path, *, compact: bool = True
) -> Manifest:
    """Copy the data directory of ``node`` (running or not) into the new directory ``out`` and
    write its manifest; ``Conflict`` if ``out`` exists. Nothing is left at ``out`` on failure."""
    genesis = NetworkDir(network).genesis()
    source = node_data_dir(network, node, data)
    if not (source / DATA_FILE).is_file():
        raise NotFound(f"node {node!r} has no store at {source}", path=str(source))
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        out.mkdir()
    except FileExistsError:
        raise Conflict(f"{out} exists; a backup never overwrites anything", path=str(out)) from None
    try:
        target = out / DATA
        target.mkdir()
        copy_environment(source, target, compact=compact)
        files = {f"{DATA}/{DATA_FILE}": digest_file(target / DATA_FILE)}
        # After the store: every file its copy refers to was stored before the block that
        # cites it, so it is here; later files come along harmlessly (named by their hash).
        for rel in list_files(source / CONTENT):
            if not rel.rsplit("/", 1)[-1].startswith("."):  # skip files still being written
                dest = target / CONTENT / rel
                files[f"{DATA}/{CONTENT}/{rel}"] = copy_file(source / CONTENT / rel, dest)
        head = read_head(target, genesis)
        created = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        manifest = Manifest(node, created, head, files)
        _write_durably(
            out / MANIFEST,
            orjson.dumps(manifest.to_json(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS),
        )
        fsync_tree(out)
        fsync_path(out.parent)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return manifest


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as f:
        f.write(data + b"\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _is_empty(path: Path) -> bool:
    return all(p.name in LOCK_FILES for p in path.iterdir())


def _check_files(backup: Path, manifest: Manifest, staging: Path) -> int:
    """Copy the backup's data files into ``staging``, checking each against the manifest;
    return the bytes copied."""
    listed = set(manifest.files)
    present = {p for p in list_files(backup) if p != MANIFEST and p != f"{DATA}/lock.mdb"}
    missing, extra = sorted(listed - present), sorted(present - listed)
    if missing:
        raise _refused("files", f"{missing[0]} is listed in the manifest and missing")
    if extra:
        raise _refused("files", f"{extra[0]} is in the backup and not listed in the manifest")
    if f"{DATA}/{DATA_FILE}" not in listed:
        raise _refused("files", f"the manifest lists no {DATA}/{DATA_FILE}")
    total = 0
    for path in sorted(listed):
        if not path.startswith(f"{DATA}/"):
            raise _refused("files", f"{path} is outside {DATA}/")
        want = manifest.files[path]
        got = copy_file(backup / path, staging / path.removeprefix(f"{DATA}/"))
        if got.sha256 != want.sha256 or got.size != want.size:
            raise _refused(
                "files",
                f"{path}: SHA-256 {got.sha256} ({got.size} bytes), the manifest says "
                f"{want.sha256} ({want.size} bytes)",
            )
        total += got.size
    return total


def _check_content(staging: Path, genesis: Genesis) -> int:
    hash_fn = get_suite(genesis.suite).hash
    names = list_files(staging / CONTENT)
    for rel in names:
        digest = hash_fn((staging / CONTENT / rel).read_bytes()).hex()
        if rel != f"{digest[:2]}/{digest}":
            raise _refused("content", f"{DATA}/{CONTENT}/{rel} is not named by its hash {digest}")
    return len(names)


@contextlib.contextmanager
def _checking(check: str, staging: Path) -> Iterator[None]:
    """Refuse the backup at ``check`` for whatever the check trips over: the copy is data from
    outside, and a damaged file can fail its readers in more ways than the checks name."""
    try:
        yield
    except GovchainError as exc:
        if "check" in exc.fields:
            raise
        raise _refused(check, exc.message.replace(str(staging), "the copy")) from None
    except CliError as exc:
        raise _refused(check, exc.message.replace(str(staging), "the copy")) from None
    except Exception as exc:
        text = str(exc).replace(str(staging), "the copy")
        raise _refused(check, f"{type(exc).__name__}: {text}") from None


def _check_chain(staging: Path, genesis: Genesis) -> tuple[int, int]:
    try:
        report = audit_store(genesis, staging)
    finally:
        (staging / "lock.mdb").unlink(missing_ok=True)
    if not report.ok:
        faults = "; ".join(f.describe() for f in report.faults[:5])
        more = f" (and {len(report.faults) - 5} more)" if len(report.faults) > 5 else ""
        raise _refused("chain", f"{len(report.faults)} record(s) at fault: {faults}{more}")
    return report.height, report.transactions


def _check_head(staging: Path, genesis: Genesis, manifest: Manifest) -> None:
    head = read_head(staging, genesis)
    want = manifest.head
    for name in ChainHead.__slots__:
        mine, theirs = getattr(head, name), getattr(want, name)
        if mine == theirs:
            continue
        if name == "checkpoint":
            raise _refused("head", "the stored checkpoint of the head is not the manifest's")
        raise _refused("head", f"the verified chain's {name} is {mine}, the manifest says {theirs}")


def _install(staging: Path, target: Path, *, force: bool) -> Path | None:
    """Move ``staging`` into place as ``target``; return where a non-empty ``target`` went."""
    aside: Path | None = None
    if target.exists():
        if not _is_empty(target):
            if not force:
                raise Conflict(
                    f"{target} is not empty; give --force to move it aside", check="target"
                )
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            aside = target.with_name(f"{target.name}.replaced-{stamp}")
            os.rename(target, aside)
        else:
            for name in LOCK_FILES:
                (target / name).unlink(missing_ok=True)
    # Renaming over an empty directory replaces it in one step.
    os.rename(staging, target)
    fsync_path(target.parent)
    return aside


@dataclass(frozen=True, slots=True)
class Restored:
    """The outcome of a restore."""

    manifest: Manifest
    """The backup's manifest."""
    target: Path
    """The data directory now holding the backup."""
    aside: Path | None
    """Where the previous, non-empty data directory was moved (``--force``)."""
    transactions: int
    """Transactions re-verified."""


def restore_backup(backup: Path, network: Path, target: Path, *, force: bool = False) -> Restored:
    """Check the backup in ``backup`` and the chain in it (see the module docstring), then
    install its data as ``target``. Raises the first check's failure (its ``check`` field names
    it) with nothing installed: ``IntegrityError`` for the data, ``Conflict`` for the target."""
    genesis = NetworkDir(network).genesis()
    try:
        raw = (backup / MANIFEST).read_bytes()
    except FileNotFoundError:
        raise _refused("manifest", f"{backup / MANIFEST} does not exist") from None
    manifest = parse_manifest(raw)
    genesis_hash = get_suite(genesis.suite).hash(genesis.canonical()).hex()
    if (manifest.head.chain_id, manifest.head.genesis_hash) != (genesis.chain_id, genesis_hash):
        raise _refused(
            "network",
            f"the backup is of chain {manifest.head.chain_id!r} (genesis "
            f"{manifest.head.genesis_hash[:16]}…), this network is {genesis.chain_id!r} "
            f"(genesis {genesis_hash[:16]}…)",
        )
    _step("manifest", f"{FORMAT}, node {manifest.node}, taken {manifest.created}")
    _step("network", f"chain {genesis.chain_id}, genesis {genesis_hash[:16]}…")
    locks: list[DataDirLock] = []
    staging = target.with_name(f".{target.name}.restoring-{os.getpid()}")
    try:
        state = "does not exist yet"
        if target.exists():
            try:
                locks.append(DataDirLock(target).acquire())
            except Conflict as exc:
                raise Conflict(exc.message, check="target") from None
            state = "is empty" if _is_empty(target) else "will be moved aside (--force)"
            if not force and not _is_empty(target):
                raise Conflict(
                    f"{target} is not empty; give --force to move it aside", check="target"
                )
        _step("target", f"{target} {state}; no node runs on it")
        shutil.rmtree(staging, ignore_errors=True)
        staging.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        locks.append(DataDirLock(staging).acquire())  # goes along with the rename
        with _checking("files", staging):
            size = _check_files(backup, manifest, staging)
        _step("files", f"{len(manifest.files)} file(s), {size:,} bytes, SHA-256 as listed")
        with _checking("content", staging):
            n_content = _check_content(staging, genesis)
        _step("content", f"{n_content} content file(s) named by their hash")
        with _checking("store", staging):
            try:
                records = read_every_record(staging)
            finally:
                (staging / "lock.mdb").unlink(missing_ok=True)
        _step("store", f"{sum(records.values()):,} records read in {len(records)} tables")
        with _checking("chain", staging):
            height, txs = _check_chain(staging, genesis)
        _step("chain", f"{height} blocks, {txs:,} transactions re-verified; every table matches")
        with _checking("head", staging):
            _check_head(staging, genesis, manifest)
        _step("head", f"height {height}, state root {manifest.head.state_root[:16]}… as listed")
        fsync_tree(staging)
        aside = _install(staging, target, force=force)
    finally:
        for lock in reversed(locks):
            lock.release()
        shutil.rmtree(staging, ignore_errors=True)
    return Restored(manifest, target, aside, txs)


def _step(check: str, detail: str) -> None:
    console.print(f"[green]ok[/] {check:<10}{escape(detail)}")


# --- commands ---------------------------------------------------------------------------------

NodeOpt = Annotated[
    str,
    typer.Option("--node", help="Node whose data directory: 'embedded' or a department."),
]


@reports_errors
def backup(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="New directory for the backup.", file_okay=False)
    ],
    network: NetworkOpt = DEFAULT_NETWORK,
    node: NodeOpt = EMBEDDED_NODE,
    data: DataOpt = None,
    compact: Annotated[
        bool,
        typer.Option(
            "--compact/--no-compact",
            help="Leave free pages out (smaller, more CPU); --no-compact copies every page.",
        ),
    ] = True,
) -> None:
    """Copy a node's data directory while it runs (one consistent LMDB snapshot; writers go on)
    into a new directory, with a manifest of the chain it holds and each file's SHA-256."""
    started = time.monotonic()
    m = take_backup(network, node, data, out, compact=compact)
    took = time.monotonic() - started
    head = m.head
    size = sum(d.size for d in m.files.values())
    console.print(f"backup of node {escape(m.node)} written to {escape(str(out))} in {took:.1f} s")
    console.print(f"chain       {escape(head.chain_id)}, genesis {head.genesis_hash[:16]}…")
    console.print(
        f"height      {head.height} (block {head.block_hash[:16]}…), log size {head.log_size:,}"
    )
    console.print(f"state root  {head.state_root}")
    if head.checkpoint is not None:
        signers = ", ".join(s["dept"] for s in head.checkpoint.get("signatures", []))
        console.print(f"checkpoint  height {head.height}, signed by {escape(signers)}")
    console.print(f"files       {len(m.files)} ({size:,} bytes), SHA-256 in {MANIFEST}")


@reports_errors
def restore(
    path: Annotated[Path, typer.Argument(help="Backup directory.", file_okay=False)],
    network: NetworkOpt = DEFAULT_NETWORK,
    node: NodeOpt = EMBEDDED_NODE,
    data: DataOpt = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Move a non-empty data directory aside and restore."),
    ] = False,
) -> None:
    """Check a backup (manifest, file hashes, the whole chain re-verified as by 'govchain
    verify') and only then install it as the node's data directory; refused naming the check
    that failed, with nothing installed."""
    target = node_data_dir(network, node, data)
    try:
        done = restore_backup(path, network, target, force=force)
    except GovchainError as exc:
        check = exc.fields.get("check")
        if check is None:
            raise
        err_console.print(
            f"[bold red]restore refused[/] by the [bold]{escape(str(check))}[/] check: "
            f"{escape(exc.message)}\nnothing was installed.",
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    console.print(f"restored height {done.manifest.head.height} into {escape(str(target))}")
    if done.aside is not None:
        console.print(f"the previous data directory is now {escape(str(done.aside))}")
    console.print(
        "start the node on it ('govchain up', or 'govchain node run' on a network, where it "
        "catches up from its peers)"
    )


def register(app: typer.Typer) -> None:
    """Add ``backup`` and ``restore`` to the ``govchain`` command."""
    app.command("backup")(backup)
    app.command("restore")(restore)
