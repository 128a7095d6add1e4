"""The tamper-evident audit trail.

Each event is one document in the ``audit`` index with ``seq`` (1, 2, 3 ...), ``prev_hash``
(the previous event's hash; 64 zeros for the first) and ``hash`` = SHA-256 over the
canonical JSON of the event without ``hash``. Altering, inserting, removing or reordering
an event breaks the chain at that point.

Linear under concurrency: event N is written with ``op_type=create`` and ``_id`` = N, so of
two writers (threads or processes) trying to append N exactly one succeeds; the other reads
event N, chains onto it and tries N+1.

Keyed and anchored (``lantern.audit_anchor``): whoever can write the index can recompute
unkeyed hashes, so each event also carries ``key_id`` and ``mac`` = HMAC-SHA-256 over its
sequence and hash with a key the OpenSearch operator does not hold, and every append writes
a signed checkpoint (index, seq, MAC, time) to the anchor file outside OpenSearch
(``settings.audit_head_file``, an absolute path; fsync before the action proceeds).
``verify`` fails on a bad MAC, a missing, edited or contradicted anchor, a chain shorter than
the anchor (truncated) and an anchor behind the chain (naming the events not covered).

One round trip: an event and the per-record disclosure documents it implies
(``lantern.disclosures``) are created in one ``_bulk`` request. The disclosures are bound to
the event's hash, not only its seq, so those of an attempt that lost its seq to another writer
are orphans the readers leave out (and ``verify`` reports), and the retry writes them again
under its own event. A background job's manifest disclosures (keyed by job) are written after
their event instead.

Fail closed: if an event or any of its disclosures cannot be written, ``record`` raises
``AuditUnavailable`` and the action it describes must not happen.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import io
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError, OpenSearchException, TransportError

from lantern.anomalies import UserDirectory, extra_flags, names_person
from lantern.audit_anchor import (
    AuditKeyError,
    AuditKeys,
    append_checkpoint,
    event_mac_input,
    load_keys,
    read_anchor,
)
from lantern.clock import iso, utcnow
from lantern.disclosures import UNWRITTEN, DisclosureLog, Orphan, chunks, failed_items, keyed_by_job
from lantern.errors import AuditUnavailable
from lantern.indices import ensure_once, writer_target
from lantern.observability import AUDIT_WRITE_LATENCY, request_id
from lantern.principal import Principal
from lantern.search_client import request_write_params
from lantern.settings import Settings
from mappings import audit as audit_mapping
from mappings import users as users_mapping

if TYPE_CHECKING:
    from starlette.requests import Request

GENESIS = "0" * 64
SEARCH_ACTIONS = frozenset({"search", "api.search"})
UNAVAILABLE_MESSAGE = "Action refused: the audit trail cannot be written just now, so nothing was done."


# Fields outside the hashed body: the hash itself and the MAC over it.
UNHASHED = frozenset({"hash", "mac"})


def canonical_json(event: dict[str, Any]) -> bytes:
    body = {k: v for k, v in event.items() if k not in UNHASHED}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event_hash(event: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(event)).hexdigest()


def _jsonable(value: Any) -> Any:
    # What is hashed must be exactly what OpenSearch gives back: plain JSON types only.
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple | set | frozenset):
        return [s for v in value for s in _strings(v)]
    if value is None or isinstance(value, bool):
        return []
    return [str(value)[:256]]


def is_self_search(query: str, display_name: str) -> bool:
    """Whether a search query names the searching user (spelling and nickname tolerant, rank
    stripped: "PC Olivia Okafor" is Olivia Okafor); the colleague-search flag's own test."""
    return names_person(query, display_name)


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    last_seq: int
    problem: str | None = None
    first_bad_seq: int | None = None
    # Disclosure documents bound to no event of the chain (an attempt that lost its seq to
    # another writer leaves these; readers leave them out). Reported, not a broken chain.
    orphans: list[Orphan] = field(default_factory=list)


class AuditLog:
    def __init__(self, client: OpenSearch, settings: Settings, head_file: Path | None = None) -> None:
        self.client = client
        self.settings = settings
        self.index = settings.index_name("audit")
        self.write_index = writer_target(settings, audit_mapping)
        self.head_file = Path(head_file or settings.audit_head_file).absolute()
        self._lock = threading.Lock()
        self._head: tuple[int, str] | None = None
        self.disclosures = DisclosureLog(client, settings)
        self.directory = UserDirectory(client, settings)
        self._keys: AuditKeys | None = None

    @property
    def keys(self) -> AuditKeys:
        """The MAC keys (created at first use outside production, where they must be
        provisioned: the key is what the OpenSearch operator must not hold)."""
        if self._keys is None:
            self._keys = load_keys(self.settings.audit_key_file, create=self.settings.env != "production")
        return self._keys

    # --- writing -------------------------------------------------------------------------
    def record(
        self,
        request: Request | None,
        action: str,
        *,
        target: dict[str, Any] | None = None,
        outcome: str = "success",
        details: dict[str, Any] | None = None,
        principal: Principal | None = None,
        username: str | None = None,
        purpose: Any = None,
        client_addr: str | None = None,
        session_ref: str | None = None,
    ) -> dict[str, Any]:
        """Append one event; raises AuditUnavailable if it cannot be written.

        ``principal`` / ``username`` name the actor when the request has none yet (a login
        attempt) or there is no request (the command line). A background job (no request)
        passes the ``purpose``, ``client_addr`` and ``session_ref`` of the request that started
        it. The record ids the event discloses are also written to the disclosures index.
        """
        state = getattr(request, "state", None)
        principal = principal or getattr(state, "principal", None)
        purpose = purpose or getattr(state, "purpose", None)
        session = getattr(state, "security_session", None)
        if request is not None:
            client_addr = request.client.host if request.client else None
        elif client_addr is None:
            client_addr = f"cli:{_os_user()}"
        target_j = _jsonable(target or {})
        details_j = _jsonable(details or {})
        rid = request_id.get()
        if rid and "request_id" not in details_j:
            # Follows one request from the portal log into OpenSearch (X-Opaque-Id) and here.
            details_j["request_id"] = rid
        if principal:
            user = principal.username
        else:
            user = username or (f"cli:{_os_user()}" if request is None else "-")
        now = utcnow()
        flags = self._flags(action, principal, purpose, details_j)
        flags += extra_flags(
            action,
            principal,
            purpose,
            details_j,
            settings=self.settings,
            directory=self.directory,
            now=now,
            already=flags,
        )
        event: dict[str, Any] = {
            "ts": iso(now),
            "user": user,
            "display_name": principal.display_name if principal else None,
            "roles": sorted(principal.roles) if principal else [],
            "client": client_addr,
            "session": session.ref if session is not None else session_ref,
            "action": action,
            "outcome": outcome,
            "purpose_code": purpose.code if purpose else None,
            "purpose_reference": purpose.reference if purpose else None,
            "target": target_j,
            "target_ids": sorted(set(_strings(target_j))),
            "details": details_j,
            "query": str(details_j["query"])[:2000] if details_j.get("query") else None,
            "shown_ids": [str(i) for i in details_j.get("shown_ids") or []],
            "flags": flags,
        }
        if keyed_by_job(event):
            doc = self.append(event)
            self.disclosures.write(doc)
            return doc
        return self.append(event, with_disclosures=True)

    def record_manifest(
        self,
        request: Request | None,
        action: str,
        ids: list[str],
        *,
        of_seq: int,
        chunk_size: int | None = None,
        **context: Any,
    ) -> list[dict[str, Any]]:
        """The record ids a bulk action (``export``, ``batch_search``) disclosed, as manifest events
        ``<action>.manifest`` of at most ``chunk_size`` ids each, pointing at the action's event.

        Written before the records are shown: if any chunk cannot be written, nothing is.
        """
        parts = chunks(ids, chunk_size) if chunk_size else chunks(ids)
        return [
            self.record(
                request,
                f"{action}.manifest",
                details={"of_seq": of_seq, "chunk": n, "chunks": len(parts), "shown_ids": part},
                **context,
            )
            for n, part in enumerate(parts, start=1)
        ]

    def record_job_manifest(
        self, action: str, job_id: str, chunk: int, ids: list[str], *, of_seq: int, **context: Any
    ) -> dict[str, Any]:
        """Chunk ``chunk`` of a background job's disclosed ids, as one ``<action>.manifest`` event
        naming the job (``target.job``), so a worker that takes the job over can find the
        chunks already recorded (``job_manifests``) instead of recording them again. Its
        disclosure documents are keyed by job and record id: a chunk recorded twice all the
        same (two workers racing on an expired lease) still counts each row once."""
        return self.record(
            None,
            f"{action}.manifest",
            target={"job": job_id},
            details={"of_seq": of_seq, "job": job_id, "chunk": chunk, "shown_ids": list(ids)},
            **context,
        )

    def job_manifests(self, action: str, job_id: str) -> dict[int, list[str]]:
        """The ids each chunk of ``job_id``'s ``<action>.manifest`` events recorded, by chunk.

        Their disclosure documents are written again (a no-op when present): a worker that died
        between appending an event and writing its disclosures leaves them missing otherwise.
        """
        out: dict[int, list[str]] = {}
        query = {
            "bool": {"filter": [{"term": {"action": f"{action}.manifest"}}, {"term": {"target_ids": job_id}}]}
        }
        for event in self.iter_events(query):
            if (event.get("target") or {}).get("job") != job_id:
                continue
            chunk = int((event.get("details") or {}).get("chunk") or 0)
            # Two events for one chunk only if two workers raced; the first one stands.
            if chunk not in out:
                out[chunk] = [str(i) for i in event.get("shown_ids") or []]
                self.disclosures.write(event)
        return out

    @staticmethod
    def _flags(action: str, principal: Principal | None, purpose: Any, details: dict[str, Any]) -> list[str]:
        flags: list[str] = []
        if action in SEARCH_ACTIONS:
            if purpose is None or not getattr(purpose, "reference", None):
                flags.append("no_reference")
            query = details.get("query")
            if principal and isinstance(query, str) and is_self_search(query, principal.display_name):
                flags.append("self_search")
        return flags

    def _ensure(self) -> None:
        # Only what the log itself uses (the chain, and the user directory its flags read):
        # the ingest API appends as the indexer's OpenSearch user, which has no business
        # with sessions.
        ensure_once(self.client, self.settings, (users_mapping, audit_mapping))

    def append(self, event: dict[str, Any], *, with_disclosures: bool = False) -> dict[str, Any]:
        """Append ``event`` to the chain (and, ``with_disclosures``, create its disclosure
        documents in the same request); the event as written."""
        with AUDIT_WRITE_LATENCY.time():
            return self._append(event, with_disclosures)

    def _create(self, doc: dict[str, Any], with_disclosures: bool) -> tuple[bool, list[Mapping[str, Any]]]:
        """Create event ``doc`` (and its disclosures) in one ``_bulk``: whether the event's seq
        was free (False: a 409, taken by another event or by an earlier try of this one), and
        the disclosures' items that failed."""
        lines: list[dict[str, Any]] = [{"create": {"_index": self.write_index, "_id": str(doc["seq"])}}, doc]
        if with_disclosures:
            lines += self.disclosures.bulk_lines(doc)
        res = self.client.bulk(body=lines, **request_write_params(self.settings))
        items: list[dict[str, Any]] = res["items"]
        created = next(iter(items[0].values()))
        status = int(created.get("status", 0))
        if status != 409 and not 200 <= status < 300:
            raise TransportError(status, str((created.get("error") or {}).get("type")), created)
        return status != 409, failed_items(items[1:])

    def _append(self, event: dict[str, Any], with_disclosures: bool) -> dict[str, Any]:
        try:
            self._ensure()
            with self._lock:
                for attempt in range(100):
                    if self._head is None:
                        self._head = self._find_head()
                    seq, prev = self._head[0] + 1, self._head[1]
                    doc = {**event, "seq": seq, "prev_hash": prev, "key_id": self.keys.current}
                    doc["hash"] = event_hash(doc)
                    doc["mac"] = self.keys.mac(event_mac_input(doc), doc["key_id"])[1]
                    free, failed = self._create(doc, with_disclosures)
                    if not free:
                        # Any disclosures sent with the event were created under its hash, which
                        # no event of the chain has: orphans, which the readers leave out.
                        other = self.client.get(index=self.index, id=str(seq))["_source"]
                        if other.get("hash") != doc["hash"]:
                            if attempt >= 2:
                                # Far behind (other processes wrote many events since this one
                                # last did): find the head afresh instead of stepping one by one.
                                self._head = None
                                continue
                            # Another writer appended seq first: chain onto its event.
                            self._head = (seq, str(other["hash"]))
                            continue
                        # Our own event: the first attempt landed but its answer was lost
                        # (a node left mid-request) and the client retried on another host;
                        # its disclosures then landed too, or failed below (409 is success).
                    self._head = (seq, doc["hash"])
                    # The event is in the chain whatever happened to its disclosures: anchor it.
                    append_checkpoint(self.head_file, self.keys, self.index, seq, doc["mac"], doc["ts"])
                    if failed:
                        raise AuditUnavailable(UNWRITTEN) from TransportError(
                            int(next(iter(failed[0].values())).get("status", 0)),
                            f"{len(failed)} disclosure(s) of event {seq} failed",
                            failed[:3],
                        )
                    return doc
            raise AuditUnavailable("audit chain contention: could not append after 100 attempts")
        except AuditUnavailable:
            raise
        except (OpenSearchException, OSError, KeyError, AuditKeyError) as exc:
            self._head = None  # re-read the head next time: our view may be stale
            raise AuditUnavailable(UNAVAILABLE_MESSAGE) from exc

    def _find_head(self) -> tuple[int, str]:
        res = self.client.search(
            index=self.index, body={"size": 1, "sort": [{"seq": "desc"}], "_source": ["seq", "hash"]}
        )
        hits = res["hits"]["hits"]
        head = (int(hits[0]["_source"]["seq"]), str(hits[0]["_source"]["hash"])) if hits else (0, GENESIS)
        # Search lags indexing by up to a refresh; realtime GETs walk to the true head.
        while True:
            try:
                nxt = self.client.get(index=self.index, id=str(head[0] + 1))["_source"]
            except NotFoundError:
                return head
            head = (head[0] + 1, str(nxt["hash"]))

    # --- reading -------------------------------------------------------------------------
    def refresh(self) -> None:
        self._ensure()
        self.client.indices.refresh(index=self.index)

    def iter_events(
        self, query: dict[str, Any] | None = None, *, batch: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Events in chain order (seq ascending), each with ``_id`` added."""
        self.refresh()
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": batch,
                "query": query or {"match_all": {}},
                "sort": [{"seq": "asc"}, {"hash": "asc"}],
            }
            if after:
                body["search_after"] = after
            hits = self.client.search(index=self.index, body=body)["hits"]["hits"]
            if not hits:
                return
            for h in hits:
                yield {**h["_source"], "_id": h["_id"]}
            after = hits[-1]["sort"]

    def verify(self) -> VerifyResult:
        """Walk the chain against its MACs and the anchor; report the first problem, and the
        disclosure documents bound to no event of the chain."""
        result = self._verify_chain()
        result.orphans = self.disclosures.orphans()
        return result

    def _verify_chain(self) -> VerifyResult:
        try:
            keys = self.keys
        except AuditKeyError as exc:
            return VerifyResult(False, 0, 0, str(exc), None)
        anchor = None if not self.head_file.exists() else read_anchor(self.head_file, self.index, keys)
        expected, prev, checked = 1, GENESIS, 0

        def bad(seq: int, problem: str) -> VerifyResult:
            return VerifyResult(False, checked, expected - 1, problem, seq)

        if anchor is not None and anchor.problems:
            return bad(min(anchor.checkpoints, default=1), "; ".join(anchor.problems))
        checkpoints = anchor.checkpoints if anchor is not None else {}
        for ev in self.iter_events():
            raw_seq = ev.get("seq")
            doc_id = ev.pop("_id")
            seq = int(raw_seq) if isinstance(raw_seq, int) else -1
            if anchor is None:
                return bad(seq, f"the audit anchor {self.head_file} is missing: the chain cannot be trusted")
            if seq < expected:
                return bad(
                    expected,
                    f"event with seq {raw_seq} (id {doc_id}) was inserted: seq {expected} was expected next",
                )
            if seq > expected:
                return bad(
                    expected,
                    f"event(s) {expected}..{seq - 1} removed: the chain jumps from {expected - 1} to {seq}",
                )
            if doc_id != str(seq):
                return bad(seq, f"event {seq} is stored under id {doc_id}: events were moved or reordered")
            if event_hash(ev) != ev.get("hash"):
                return bad(seq, f"event {seq} was altered: its content does not match its hash")
            if not keys.check(event_mac_input(ev), ev.get("key_id"), ev.get("mac")):
                return bad(
                    seq,
                    f"event {seq} has no valid MAC (key {ev.get('key_id')!r}): forged or rewritten "
                    "by someone without the audit key",
                )
            if ev.get("prev_hash") != prev:
                return bad(
                    seq,
                    f"event {seq} does not follow event {seq - 1} (prev_hash mismatch): "
                    "an event was inserted, removed or reordered",
                )
            cp = checkpoints.get(seq)
            if cp is not None and cp.mac != ev.get("mac"):
                return bad(
                    seq, f"event {seq} differs from its anchor checkpoint: the chain was rewritten from here"
                )
            prev = str(ev["hash"])
            expected += 1
            checked += 1
        last = expected - 1
        top = max(checkpoints, default=0)
        if top > last:
            return VerifyResult(
                False,
                checked,
                last,
                f"tail truncated: the anchor records event {top} but the chain ends at {last}",
                last + 1,
            )
        if last > top:
            first = top + 1
            return VerifyResult(
                False,
                checked,
                last,
                f"the anchor is behind: event(s) {first}..{last} are not covered by a checkpoint",
                first,
            )
        return VerifyResult(True, checked, last)

    def export_csv(self, query: dict[str, Any] | None, out: io.TextIOBase | Any, limit: int) -> int:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        n = 0
        for ev in self.iter_events(query):
            if n >= limit:
                break
            writer.writerow([csv_cell(c, ev) for c in CSV_COLUMNS])
            n += 1
        return n


CSV_COLUMNS = (
    "seq",
    "ts",
    "user",
    "roles",
    "client",
    "action",
    "outcome",
    "purpose_code",
    "purpose_reference",
    "target",
    "query",
    "shown_ids",
    "flags",
    "details",
    "prev_hash",
    "hash",
    "key_id",
    "mac",
)


def csv_cell(column: str, ev: dict[str, Any]) -> str:
    value = ev.get(column)
    if isinstance(value, list):
        text = ";".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, sort_keys=True, ensure_ascii=False) if value else ""
    else:
        text = "" if value is None else str(value)
    # Spreadsheet formula injection: a cell starting with = + - @ (or tab/CR) is made literal.
    if text and text[0] in "=+-@\t\r":
        text = "'" + text
    return text


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"
