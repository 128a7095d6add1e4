"""Per-user rate limits are counted in OpenSearch, so they hold across portal processes."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from opensearchpy import OpenSearch

from lantern.principal import Principal
from lantern.ratelimits import OpenSearchStorage
from lantern.settings import Settings
from portal.app import create_app
from portal.security.ratelimit import Kind, RateLimits
from tests.analyst.conftest import signed_in


def test_two_processes_share_one_limit(asettings: Settings, analyst_users: dict[str, Principal]) -> None:
    limited = asettings.model_copy(
        update={"rate_limit_search": "4/minute", "rate_limit_storage": "opensearch"}
    )
    one: FastAPI = create_app(limited)
    two: FastAPI = create_app(limited)
    a, b = signed_in(one, "mem"), signed_in(two, "mem")
    codes = [
        (a if i % 2 == 0 else b).get("/search", params={"q": f"zzshared{i}"}).status_code for i in range(6)
    ]
    # Four searches in all, whichever process served them; then both refuse.
    assert codes == [200, 200, 200, 200, 429, 429]


def test_concurrent_hits_never_pass_the_limit(client: OpenSearch, asettings: Settings) -> None:
    storage = OpenSearchStorage(client, asettings)
    key = f"test/{uuid.uuid4().hex}"
    results: list[bool] = []
    lock = threading.Lock()

    def hit() -> None:
        ok = storage.acquire_entry(key, limit=5, expiry=60)
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=hit) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 5 and len(results) == 16
    start, count = storage.get_moving_window(key, 5, 60)
    assert count == 5 and start > 0
    # A window that has passed frees its slots.
    assert storage.acquire_entry(key, limit=5, expiry=0) is True
    # The fixed-window counter too.
    counter = f"test/{uuid.uuid4().hex}"
    assert [storage.incr(counter, 60) for _ in range(3)] == [1, 2, 3] and storage.get(counter) == 3
    storage.clear(counter)
    assert storage.get(counter) == 0


def test_all_windows_are_one_round_trip_and_a_refusal_counts_in_none(
    client: OpenSearch, asettings: Settings
) -> None:
    storage = OpenSearchStorage(client, asettings)
    key = f"test/{uuid.uuid4().hex}"
    windows = [(3, 60), (2, 3600)]  # per minute, per hour
    sent: list[str] = []
    real = client.transport.perform_request

    def counting(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(f"{method} {url}")
        return real(method, url, *args, **kwargs)

    storage._ensure()
    client.transport.perform_request = counting  # type: ignore[method-assign]
    try:
        assert storage.acquire_windows(key, windows) is None
    finally:
        client.transport.perform_request = real  # type: ignore[method-assign]
    assert len(sent) == 1 and "_update" in sent[0], sent
    assert storage.acquire_windows(key, windows) is None
    # The hour window (index 1) is full; the minute one is not, and the refusal is not counted.
    assert storage.acquire_windows(key, windows) == 1
    assert storage.get_moving_window(key, 3, 60)[1] == 2
    # A request that fits no window is refused by the first too small for it.
    assert storage.acquire_windows(key, [(5, 60), (1, 3600)], amount=2) == 1


def test_the_check_beside_a_read_lets_no_flood_or_refused_user_read(
    client: OpenSearch, asettings: Settings
) -> None:
    limits = RateLimits(
        asettings.model_copy(update={"rate_limit_search": "2/minute", "rate_limits_enabled": True}),
        client=client,
    )
    user = f"beside-{uuid.uuid4().hex[:8]}"
    events: list[str] = []  # in the order they happened, from every thread
    lock = threading.Lock()
    real_hit = limits.hit

    def note(event: str) -> None:
        with lock:
            events.append(event)

    # Closed: a check beside a read waits until a check made first (in the caller's thread)
    # is done, so which of two racing checks takes the last slot is fixed.
    gate = threading.Event()
    gate.set()

    def hit(kind: Kind, username: str) -> Any:
        thread = threading.current_thread().name.split("_")[0]
        if thread != "MainThread":
            assert gate.wait(30)
        broken = real_hit(kind, username)
        note(f"checked:{thread}")
        if thread == "MainThread":
            gate.set()
        return broken

    limits.hit = hit  # type: ignore[method-assign]

    def read(name: str, inner: Callable[[], Any] | None = None) -> Callable[[], str]:
        def run() -> str:
            note(f"read:{name}")
            if inner is not None:
                inner()
            return name

        return run

    # Alone and within the limit: read and check side by side, the read's result returned.
    assert limits.run("search", user, read("first")) == ("first", None)
    # A second request while one is in flight (a flood): checked BEFORE it reads.
    nested: list[Any] = []
    outer = read("outer", lambda: nested.append(limits.run("search", user, read("inner"))))
    gate.clear()
    assert limits.run("search", user, outer) == (None, limits.rules["search"][0])
    # The inner request took the second of the minute's two; the outer one's check, beside
    # its read, came third: refused, its read's result thrown away.
    assert nested == [("inner", None)]
    main = [e for e in events if e.startswith("read:") or e == "checked:MainThread"]
    assert main == ["read:first", "read:outer", "checked:MainThread", "read:inner"]
    # Refused lately: checked first, so nothing more is read.
    events.clear()
    result, broken = limits.run("search", user, read("after"))
    assert (result, broken) == (None, limits.rules["search"][0])
    assert events == ["checked:MainThread"]
