"""Versioned physical indices behind a read alias and a write alias.

For an index module ``M`` (see ``mappings/records.py`` for the convention):

- read alias ``<prefix><M.NAME>``: what every query uses;
- write alias ``<prefix><M.NAME>-write``: what every writer uses (if ``M.WRITE_ALIAS``);
- physical index ``<prefix><M.NAME>-v<M.VERSION>`` when first created, and
  ``<prefix><M.NAME>-v<M.VERSION>-<UTC timestamp>`` for each migration.

``ensure`` is idempotent and safe when two processes race: the first physical name is
deterministic and the aliases are created in the same request as the index, so the loser
of the race gets ``resource_already_exists`` and finds the winner's aliases.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, Protocol, cast

from opensearchpy import OpenSearch
from opensearchpy.exceptions import AuthorizationException, NotFoundError, RequestError

import mappings
from lantern.settings import Settings
from mappings import audit as audit_mapping
from mappings import sessions as sessions_mapping
from mappings import users as users_mapping

log = logging.getLogger(__name__)


class IndexModule(Protocol):
    NAME: str
    VERSION: int

    def body(self, settings: Settings) -> dict[str, Any]: ...


class MissingIndexError(RuntimeError):
    """An index is missing and the caller's OpenSearch user may not create it."""


class OutdatedIndexError(RuntimeError):
    """An index was built from an older ``VERSION`` of its module: ``lantern index migrate``."""


class MigrationError(RuntimeError):
    """A migration failed; the old index still serves and the half-built one is gone."""


# ------------------------------------------------------------------------ naming


def read_alias(settings: Settings, module: IndexModule) -> str:
    return settings.index_name(module.NAME)


def write_alias(settings: Settings, module: IndexModule | str) -> str:
    name = module if isinstance(module, str) else module.NAME
    return f"{settings.index_name(name)}-write"


def has_write_alias(module: IndexModule) -> bool:
    return bool(getattr(module, "WRITE_ALIAS", True))


def is_append_only(module: IndexModule) -> bool:
    return bool(getattr(module, "APPEND_ONLY", False))


def reindex_script(module: IndexModule) -> str | None:
    """A module's painless script for ``migrate`` to turn old documents into the new shape."""
    script = getattr(module, "REINDEX_SCRIPT", None)
    return str(script) if script else None


def put_pipelines(client: OpenSearch, settings: Settings, module: IndexModule) -> None:
    """Ingest pipelines a module's index refers to (e.g. audit's append-only guard).

    Put (idempotently) before the index is created: an index whose ``final_pipeline`` is
    missing refuses every write.
    """
    make = getattr(module, "pipelines", None)
    if make is None:
        return
    for name, pipeline in make(settings).items():
        client.ingest.put_pipeline(id=name, body=pipeline)


def base_physical_name(settings: Settings, module: IndexModule) -> str:
    return f"{settings.index_name(module.NAME)}-v{module.VERSION}"


def new_physical_name(settings: Settings, module: IndexModule) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    return f"{base_physical_name(settings, module)}-{stamp}"


def writer_target(settings: Settings, module: IndexModule | ModuleType) -> str:
    """The name writers use: the write alias, or the read alias for read-only-alias modules.

    Writes go to the write alias so ``lantern index migrate`` can move the index under them.
    """
    m = cast(IndexModule, module)
    return write_alias(settings, m) if has_write_alias(m) else read_alias(settings, m)


# ------------------------------------------------------------------------ discovery

_NOT_INDEX_MODULES = {"fields", "analysis"}


def discover() -> dict[str, IndexModule]:
    """Every ``mappings/*.py`` module that defines NAME, VERSION and body(), by NAME."""
    found: dict[str, IndexModule] = {}
    for info in pkgutil.iter_modules(mappings.__path__):
        if info.name.startswith("_") or info.name in _NOT_INDEX_MODULES:
            continue
        mod = importlib.import_module(f"mappings.{info.name}")
        if is_index_module(mod):
            found[mod.NAME] = cast(IndexModule, mod)
    return dict(sorted(found.items()))


def is_index_module(mod: ModuleType) -> bool:
    return (
        isinstance(getattr(mod, "NAME", None), str)
        and isinstance(getattr(mod, "VERSION", None), int)
        and callable(getattr(mod, "body", None))
    )


# ------------------------------------------------------------------------ inspection


def alias_targets(client: OpenSearch, alias: str) -> list[str]:
    """Physical indices behind ``alias`` (empty when the alias does not exist)."""
    try:
        return sorted(client.indices.get_alias(name=alias).keys())
    except NotFoundError:
        return []


def current_index(client: OpenSearch, settings: Settings, module: IndexModule) -> str | None:
    """The physical index serving ``module`` (behind its read alias), or None."""
    targets = alias_targets(client, read_alias(settings, module))
    if len(targets) > 1:
        raise RuntimeError(
            f"alias {read_alias(settings, module)} points at several indices {targets}; "
            "fix it by hand with the _aliases API"
        )
    return targets[0] if targets else None


def is_outdated(client: OpenSearch, settings: Settings, module: IndexModule) -> bool:
    """Was ``module``'s serving index built from another ``VERSION`` of its definition?
    (False when there is no index yet.)"""
    current = current_index(client, settings, module)
    if current is None:
        return False
    rest = current.removeprefix(f"{read_alias(settings, module)}-v")
    built = rest.split("-", 1)[0]
    return not built.isdigit() or int(built) != module.VERSION


def outdated(client: OpenSearch, settings: Settings) -> list[IndexModule]:
    """Modules whose serving index was built from an older ``VERSION`` of their definition
    (``lantern index migrate NAME`` brings each one up to date)."""
    return [m for m in discover().values() if is_outdated(client, settings, m)]


def _aliases_body(settings: Settings, module: IndexModule) -> dict[str, Any]:
    aliases: dict[str, Any] = {read_alias(settings, module): {}}
    if has_write_alias(module):
        aliases[write_alias(settings, module)] = {"is_write_index": True}
    return aliases


# ------------------------------------------------------------------------ ensure


def ensure(client: OpenSearch, settings: Settings, module: IndexModule) -> str:
    """Create the index and aliases if missing; return the physical index name."""
    alias = read_alias(settings, module)
    if client.indices.exists(index=alias) and not client.indices.exists_alias(name=alias):
        raise RuntimeError(f"{alias} is a concrete index, not an alias; migrate or delete it by hand")
    current = current_index(client, settings, module)
    if current is None:
        try:
            put_pipelines(client, settings, module)
        except AuthorizationException as exc:
            raise MissingIndexError(
                f"index {alias} does not exist and this component may not create it; "
                "run `lantern index init` (as the admin)"
            ) from exc
        physical = base_physical_name(settings, module)
        body = dict(module.body(settings))
        body["aliases"] = _aliases_body(settings, module)
        try:
            client.indices.create(index=physical, body=body)
            log.info("created index %s with alias %s", physical, alias)
        except AuthorizationException as exc:
            # Least privilege: only the admin's OpenSearch user creates indices.
            raise MissingIndexError(
                f"index {alias} does not exist and this component may not create it; "
                "run `lantern index init` (as the admin)"
            ) from exc
        except RequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
            # Lost the race, or a previous run died between creating and aliasing
            # (impossible with aliases in the create body, but an operator may have done it).
        current = current_index(client, settings, module)
        if current is None:
            client.indices.update_aliases(
                body={
                    "actions": [
                        {"add": {"index": physical, "alias": a, **opts}}
                        for a, opts in _aliases_body(settings, module).items()
                    ]
                }
            )
            current = physical
    if has_write_alias(module):
        waliases = alias_targets(client, write_alias(settings, module))
        if not waliases:
            client.indices.put_alias(
                index=current, name=write_alias(settings, module), body={"is_write_index": True}
            )
        elif waliases != [current]:
            raise RuntimeError(
                f"write alias {write_alias(settings, module)} points at {waliases}, "
                f"read alias at {current}: a migration was interrupted; run `lantern index migrate "
                f"{module.NAME}`"
            )
    return current


_ensured: set[tuple[int, str, str]] = set()
_ensure_lock = threading.Lock()


# Indices ``ensure_all`` creates at once. Creating an index is a cluster-state update (the
# cluster manager takes them one at a time) followed by a wait for its shards to start on the
# data nodes; that wait is most of the time (on a three-node cluster with replicas about 3 s
# an index) and overlaps across indices: measured 44-57 s one by one against 22-25 s four at
# a time for the 16 indices on the three-node test cluster.
ENSURE_ALL_CONCURRENCY = 4


def ensure_all(client: OpenSearch, settings: Settings) -> dict[str, str]:
    """``lantern index init``: every index of ``mappings/`` (and the pipelines they need).

    Each module's indices, aliases and pipelines are its own, so they are created side by side
    (the first failure is raised once every creation has finished or failed).
    """
    modules = discover()
    with ThreadPoolExecutor(max_workers=ENSURE_ALL_CONCURRENCY, thread_name_prefix="index-init") as pool:
        futures = {name: pool.submit(ensure, client, settings, mod) for name, mod in modules.items()}
        return {name: future.result() for name, future in futures.items()}


def ensure_once(client: OpenSearch, settings: Settings, modules: Iterable[ModuleType | IndexModule]) -> None:
    """``ensure`` each module once per process, client and index prefix (stores call this on use).

    The check is a few requests; stores are created per request, so it is remembered.
    """
    wanted = [cast(IndexModule, m) for m in modules]
    todo = [m for m in wanted if (id(client), settings.index_prefix, m.NAME) not in _ensured]
    if not todo:
        return
    with _ensure_lock:
        for m in todo:
            key = (id(client), settings.index_prefix, m.NAME)
            if key not in _ensured:
                ensure(client, settings, m)
                _ensured.add(key)


def forget_ensured() -> None:
    """Tests that delete or rebuild indices call this so the next use ensures again."""
    with _ensure_lock:
        _ensured.clear()


# The indices the account, session and audit stores create together on first use.
SECURITY_INDICES: tuple[ModuleType, ...] = (users_mapping, sessions_mapping, audit_mapping)


def ensure_security_indices(client: OpenSearch, settings: Settings) -> None:
    ensure_once(client, settings, SECURITY_INDICES)


# ------------------------------------------------------------------------ migrate


def _wait_task(client: OpenSearch, task_id: str, poll: float = 0.5) -> dict[str, Any]:
    while True:
        task = client.tasks.get(task_id=task_id)
        if task.get("completed"):
            return cast(dict[str, Any], task)
        time.sleep(poll)


def _reindex(
    client: OpenSearch, source: str, dest: str, append_only: bool = False, script: str | None = None
) -> dict[str, Any]:
    """Copy ``source`` into ``dest`` keeping document versions (external versioning), so a
    second pass only overwrites documents changed in ``source`` since the first.

    Append-only indices (audit) are copied with ``op_type=create``: their documents never
    change, so the second pass only adds the missing ones, and their guard pipeline refuses
    any other kind of write. ``script`` (the module's ``REINDEX_SCRIPT``) reshapes each
    document copied, when a mapping change renames or restructures a field.
    """
    # Reindex reads a search snapshot: unrefreshed writes would be silently left behind.
    client.indices.refresh(index=source)
    dest_opts: dict[str, Any] = {"op_type": "create"} if append_only else {"version_type": "external"}
    started = client.reindex(
        body={
            "conflicts": "proceed",
            "source": {"index": source, "size": 1000},
            "dest": {"index": dest, **dest_opts},
            **({"script": {"lang": "painless", "source": script}} if script else {}),
        },
        wait_for_completion=False,
        refresh=True,
    )
    task = _wait_task(client, started["task"])
    if "error" in task:
        raise MigrationError(f"reindex {source} -> {dest} failed: {task['error']}")
    response = cast(dict[str, Any], task.get("response") or {})
    failures = response.get("failures") or []
    if failures:
        raise MigrationError(f"reindex {source} -> {dest}: {len(failures)} failure(s), first: {failures[0]}")
    return response


def _count(client: OpenSearch, index: str) -> int:
    client.indices.refresh(index=index)
    return int(client.count(index=index)["count"])


def create_building(client: OpenSearch, settings: Settings, module: IndexModule) -> str:
    """A new physical index for ``module`` with no replicas and no refresh while it is filled.

    Not behind any alias yet; ``promote`` makes it the serving index.
    """
    new = new_physical_name(settings, module)
    put_pipelines(client, settings, module)
    body = dict(module.body(settings))
    index_settings = dict(body.get("settings", {}))
    index_settings["index"] = {
        **index_settings.get("index", {}),
        "number_of_replicas": 0,
        "refresh_interval": "-1",
    }
    body["settings"] = index_settings
    client.indices.create(index=new, body=body)
    return new


def _ready(client: OpenSearch, settings: Settings, module: IndexModule, new: str) -> None:
    """Give a built index the replicas/refresh its definition asks for, and wait for health."""
    wanted = module.body(settings).get("settings", {}).get("index", {})
    client.indices.put_settings(
        index=new,
        body={
            "index": {
                "number_of_replicas": wanted.get("number_of_replicas", settings.index_replicas),
                # None resets to the node default when the definition does not set one.
                "refresh_interval": wanted.get("refresh_interval"),
            }
        },
    )
    client.indices.refresh(index=new)
    health = client.cluster.health(
        index=new, wait_for_status="yellow", params={"timeout": "120s"}, request_timeout=130
    )
    if health.get("timed_out") or health.get("status") == "red":
        raise MigrationError(f"{new} did not become healthy: {health.get('status')}")


def _swap(client: OpenSearch, settings: Settings, module: IndexModule, old: str | None, new: str) -> None:
    """Move the read and write aliases from ``old`` to ``new`` in one atomic ``_aliases`` call."""
    actions: list[dict[str, Any]] = []
    for alias, opts in _aliases_body(settings, module).items():
        if old is not None:
            actions.append({"remove": {"index": old, "alias": alias}})
        actions.append({"add": {"index": new, "alias": alias, **opts}})
    client.indices.update_aliases(body={"actions": actions})


def promote(client: OpenSearch, settings: Settings, module: IndexModule, new: str) -> str | None:
    """Make a freshly built ``new`` index the serving one and delete the previous one.

    Used by ``lantern index load --rebuild``: the old index keeps serving until the swap.
    Returns the deleted index name, if any.
    """
    _ready(client, settings, module, new)
    old = current_index(client, settings, module)
    _swap(client, settings, module, old, new)
    if old is not None and old != new:
        client.indices.delete(index=old)
    return old


def migrate(
    client: OpenSearch,
    settings: Settings,
    module: IndexModule,
    *,
    on_step: Callable[[str], None] | None = None,
) -> str:
    """Rebuild ``module``'s index from its current body, with no downtime and nothing lost.

    1. create the new physical index (no replicas, no refresh while it is built);
    2. reindex old -> new, keeping versions; check the copy is complete;
    3. restore replicas/refresh, wait for the new index to be healthy;
    4. move the read and write aliases in one ``_aliases`` call (atomic);
    5. reindex old -> new again: picks up writes that reached the old index during 2-3;
    6. delete the old index.

    Any failure before 4 deletes the new index and leaves the old one serving. Returns the
    new physical index name.
    """
    step = on_step or (lambda msg: log.info("%s", msg))
    old = current_index(client, settings, module)
    if old is None:
        step(f"{module.NAME}: no index yet, creating it")
        return ensure(client, settings, module)
    ensure(client, settings, module)  # repairs a missing write alias before we move it
    new = create_building(client, settings, module)
    step(f"{module.NAME}: created {new}")
    swapped = False
    try:
        step(f"{module.NAME}: copying {old} -> {new}")
        first = _reindex(client, old, new, is_append_only(module), reindex_script(module))
        # Writers may still be adding to the old index, so counts are compared after the
        # swap; here the copy must account for every document it saw.
        accounted = sum(int(first.get(k, 0)) for k in ("created", "updated", "version_conflicts", "noops"))
        if accounted != int(first.get("total", 0)):
            raise MigrationError(f"copy incomplete: {accounted} of {first.get('total')} documents copied")
        step(f"{module.NAME}: copied {first.get('total', 0)} documents; making {new} ready")
        _ready(client, settings, module, new)
        _swap(client, settings, module, old, new)
        swapped = True
        step(f"{module.NAME}: aliases now point at {new}")
        _reindex(client, old, new, is_append_only(module), reindex_script(module))
        old_count, new_count = _count(client, old), _count(client, new)
        if new_count < old_count:
            raise MigrationError(
                f"after the swap {new} has {new_count} documents, fewer than {old}'s {old_count}; "
                f"{old} was kept for inspection"
            )
    except BaseException:
        if not swapped:
            client.indices.delete(index=new, ignore=[404])
            log.error("migration of %s failed; %s still serves, %s deleted", module.NAME, old, new)
        raise
    client.indices.delete(index=old)
    step(f"{module.NAME}: deleted {old}")
    return new
