"""Per-user rate limits are counted in OpenSearch, so they hold across portal processes."""

from __future__ import annotations

import threading
import time
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


def _leasing(asettings: Settings, client: OpenSearch, limit: str, seconds: float) -> RateLimits:
    return RateLimits(
        asettings.model_copy(
            update={
                "rate_limit_search": limit,
                "rate_limits_enabled": True,
                "rate_limit_storage": "opensearch",
                "rate_limit_lease": 3,
                "rate_limit_lease_seconds": seconds,
            }
        ),
        client=client,
    )


def _round_trips(limits: RateLimits) -> list[int]:
    """Counts ``limits``' storage round trips that count hits (one list entry per call)."""
    assert isinstance(limits.storage, OpenSearchStorage)
    storage = limits.storage
    calls: list[int] = []

    def counting(real: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            return real(*args, **kwargs)

        return counted

    storage.acquire_windows = counting(storage.acquire_windows)  # type: ignore[method-assign]
    storage.lease_windows = counting(storage.lease_windows)  # type: ignore[method-assign]
    return calls


def test_leases_spare_round_trips_never_pass_the_limit_and_give_back_what_was_not_spent(
    client: OpenSearch, asettings: Settings
) -> None:
    # Two portal processes, one user searching fast through both, a lease of 3 hits.
    one, two = (_leasing(asettings, client, "30/minute", 60.0) for _ in range(2))
    trips = [_round_trips(one), _round_trips(two)]
    user = f"lease-{uuid.uuid4().hex[:8]}"
    doc = one.key("search", user, one.rules["search"][0])
    assert isinstance(one.storage, OpenSearchStorage)
    allowed = [(one if i % 2 == 0 else two).hit("search", user) is None for i in range(24)]
    # Well within the limit, half the searches or fewer made a round trip (a lease serves 3).
    assert all(allowed) and sum(len(t) for t in trips) <= 12, trips
    allowed += [(one if i % 2 == 0 else two).hit("search", user) is None for i in range(16)]
    granted = sum(allowed)
    # Never more than the limit; at most (lease - 1) early refusals for the other process's
    # unspent lease.
    assert 28 <= granted <= 30, allowed
    # Every hit taken is counted, spent or not ...
    assert one.storage.get_moving_window(doc, 30, 60)[1] == 30
    # ... and the unspent ones go back, after which the window holds exactly what was granted
    # and the rest of the limit is usable again, to the same total.
    one.give_back_leases()
    two.give_back_leases()
    assert one.storage.get_moving_window(doc, 30, 60)[1] == granted
    more = [(two if i % 2 == 0 else one).hit("search", user) is None for i in range(10)]
    assert granted + sum(more) == 30 and not any(more[30 - granted :]), more


def test_a_lease_ends_on_time_and_its_timer_gives_back_the_unspent_hits(
    client: OpenSearch, asettings: Settings
) -> None:
    limits = _leasing(asettings, client, "30/minute", 0.5)
    assert isinstance(limits.storage, OpenSearchStorage)
    trips = _round_trips(limits)
    user = f"lease-{uuid.uuid4().hex[:8]}"
    doc = limits.key("search", user, limits.rules["search"][0])
    # The first search is one hit; the second, soon after, takes a lease of 3 (1 spent).
    assert limits.run("search", user, lambda: "a") == ("a", None)
    assert limits.run("search", user, lambda: "b") == ("b", None)
    assert len(trips) == 2 and limits.storage.get_moving_window(doc, 30, 60)[1] == 4
    # The third is spent from the lease: no round trip.
    assert limits.run("search", user, lambda: "c") == ("c", None)
    assert len(trips) == 2
    # Unspent when its time is up: the timer gives the last one back.
    deadline = time.monotonic() + 20
    while limits.storage.get_moving_window(doc, 30, 60)[1] != 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert limits.storage.get_moving_window(doc, 30, 60)[1] == 3
    # And the ended lease is not spent: the next search asks the storage again.
    limits.hit("search", user)
    assert len(trips) == 3


def test_small_limits_take_no_leases(client: OpenSearch, asettings: Settings) -> None:
    # A lease is at most a tenth of the smallest window: 9/minute has none, so every hit is
    # its own round trip and two processes share the limit exactly (as in the test above).
    limits = _leasing(asettings, client, "9/minute;100/hour", 60.0)
    trips = _round_trips(limits)
    user = f"lease-{uuid.uuid4().hex[:8]}"
    assert [limits.hit("search", user) is None for _ in range(10)] == [True] * 9 + [False]
    assert len(trips) == 10
