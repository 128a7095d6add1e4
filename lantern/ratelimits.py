"""A ``limits`` storage in OpenSearch, so per-user rate limits hold across portal processes.

``limits`` ships storages for Redis, Memcached, MongoDB and memory; Lantern's only shared
state is OpenSearch (see README, Operations), so this small storage keeps the windows there
(``mappings/ratelimits.py``) rather than adding a service to run and back up. Each hit is one
scripted update (``retry_on_conflict``): the engine reads, checks and writes the window
atomically, so two processes counting the same user at once never both get the last slot.
It implements the moving window and the fixed window of ``limits``' storage interface; counts
are approximate only in that clocks of the portal hosts should agree.

``acquire_windows`` is what ``portal.security.ratelimit`` uses: all of one action's windows
(e.g. per minute and per hour) checked and counted in ONE scripted upsert of one document
holding the hit times of the longest window. ``limits`` has no multi-window call (its
``hit`` is one storage round trip per window, about 45 ms each on a loaded host, before every
search), so this one is hand-written; it is also all-or-nothing: a request refused by one
window is counted in none.
"""

from __future__ import annotations

import time
from typing import Any

from limits.storage import MovingWindowSupport, Storage
from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as EngineConnectionError
from opensearchpy.exceptions import NotFoundError, TransportError

from lantern.indices import ensure_once, read_alias, writer_target
from lantern.search_client import request_write_params
from lantern.settings import Settings
from mappings import ratelimits as R

# Keep the hits inside the window; add ``amount`` more unless that would pass ``limit``.
_ACQUIRE = f"""
double cutoff = params.now - params.expiry;
List kept = new ArrayList();
if (ctx._source.{R.ENTRIES} != null) {{
  for (def t : ctx._source.{R.ENTRIES}) {{ if (t > cutoff) {{ kept.add(t); }} }}
}}
if (kept.size() + params.amount > params.limit) {{
  ctx.op = 'none';
}} else {{
  for (int i = 0; i < params.amount; i++) {{ kept.add(params.now); }}
  ctx._source.{R.ENTRIES} = kept;
  ctx._source.{R.EXPIRES_AT} = params.now + params.expiry;
}}
"""
# A fixed-window counter: restart it when its window has passed.
_INCR = f"""
if (ctx._source.{R.EXPIRES_AT} == null || ctx._source.{R.EXPIRES_AT} <= params.now
    || ctx._source.{R.COUNT} == null) {{
  ctx._source.{R.COUNT} = params.amount;
  ctx._source.{R.EXPIRES_AT} = params.now + params.expiry;
}} else {{
  ctx._source.{R.COUNT} += params.amount;
}}
"""
# Every window of one action at once: keep the hit times inside the longest window and add
# as many of ``amount`` hits as every window has room for, if that is at least ``least``
# (else change nothing). ``least`` == ``amount`` is all-or-nothing; less is a lease (see
# ``acquire_windows``), whose size is written to ``count`` for the caller to read. The hits
# are stamped ``stamp``: ``now``, or later for a lease; a hit stamped in the future counts in
# every window from now until its stamp has left it.
_ACQUIRE_ALL = f"""
double longest = 0;
for (def w : params.windows) {{ if (w.expiry > longest) {{ longest = w.expiry; }} }}
List kept = new ArrayList();
if (ctx._source.{R.ENTRIES} != null) {{
  for (def t : ctx._source.{R.ENTRIES}) {{ if (t > params.now - longest) {{ kept.add(t); }} }}
}}
int grant = params.amount;
for (def w : params.windows) {{
  int inside = 0;
  for (def t : kept) {{ if (t > params.now - w.expiry) {{ inside++; }} }}
  if (w.limit - inside < grant) {{ grant = w.limit - inside; }}
}}
if (grant >= params.least) {{
  for (int i = 0; i < grant; i++) {{ kept.add(params.stamp); }}
  ctx._source.{R.ENTRIES} = kept;
  ctx._source.{R.COUNT} = grant;
  double until = params.stamp + longest;
  if (ctx._source.{R.EXPIRES_AT} != null && ctx._source.{R.EXPIRES_AT} > until) {{
    until = ctx._source.{R.EXPIRES_AT};
  }}
  ctx._source.{R.EXPIRES_AT} = until;
}} else {{
  ctx.op = 'none';
}}
"""
# Give back up to ``amount`` hits stamped ``stamp`` (a lease's unspent hits).
_RELEASE = f"""
int left = params.amount;
List kept = new ArrayList();
if (ctx._source.{R.ENTRIES} != null) {{
  for (def t : ctx._source.{R.ENTRIES}) {{
    if (left > 0 && t == params.stamp) {{ left--; }} else {{ kept.add(t); }}
  }}
}}
if (left == params.amount) {{
  ctx.op = 'none';
}} else {{
  ctx._source.{R.ENTRIES} = kept;
}}
"""
RETRY_ON_CONFLICT = 20


class OpenSearchStorage(Storage, MovingWindowSupport):
    """Built by ``portal.security.ratelimit.make_storage`` (it needs a client, not a URI)."""

    STORAGE_SCHEME = None

    def __init__(self, client: OpenSearch, settings: Settings) -> None:
        super().__init__(wrap_exceptions=False)
        self.client = client
        self.settings = settings
        self.index = read_alias(settings, R)
        self.target = writer_target(settings, R)
        # The index is made on first use, not here: a portal starts while OpenSearch is down
        # (and answers 503 until it is back).
        self._ensured = False

    def _ensure(self) -> None:
        if not self._ensured:
            ensure_once(self.client, self.settings, [R])
            self._ensured = True

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return (TransportError, EngineConnectionError)

    def _update(
        self, key: str, script: str, params: dict[str, Any], *, source: bool | str = True
    ) -> dict[str, Any]:
        self._ensure()
        res: dict[str, Any] = self.client.update(
            index=self.target,
            id=key,
            body={
                "scripted_upsert": True,
                "script": {"lang": "painless", "source": script, "params": params},
                "upsert": {},
            },
            params={
                "retry_on_conflict": RETRY_ON_CONFLICT,
                # True, False or the fields to return.
                "_source": source if isinstance(source, str) else str(source).lower(),
            },
            # Outlasts a primary failover (a refused hit would refuse the request).
            **request_write_params(self.settings),
        )
        return res

    def _source(self, key: str) -> dict[str, Any]:
        self._ensure()
        try:
            doc = self.client.get(index=self.index, id=key)
        except NotFoundError:
            return {}
        return dict(doc.get("_source") or {})

    # --- several moving windows in one round trip ------------------------------------------
    def acquire_windows(self, key: str, windows: list[tuple[int, int]], amount: int = 1) -> int | None:
        """Count ``amount`` hits against every ``(limit, expiry seconds)`` window of ``key`` at
        once; the index of the first window that refused (nothing is counted), or None."""
        if not windows:
            return None
        for n, (limit, _) in enumerate(windows):
            if amount > limit:
                return n
        now = time.time()
        res = self._acquire(key, windows, now, now, amount, amount)
        if res.get("result") != "noop":
            return None
        return self._refusing(key, windows, now, amount)

    def lease_windows(self, key: str, windows: list[tuple[int, int]], most: int, stamp: float) -> int:
        """Take up to ``most`` hits (at least one) of every window of ``key`` in one round
        trip, as a lease the caller spends without asking again until ``stamp`` (epoch
        seconds, a moment ahead): how many it got, 0 if none (the window is full).

        The hits carry ``stamp``, the latest moment one of them may be spent, so each counts
        in every window until that use has left it: a lease makes the windows stricter for a
        moment, never looser. ``release`` gives back what was not spent."""
        if not windows or most < 1:
            return 0
        res = self._acquire(key, windows, time.time(), stamp, most, 1, source=R.COUNT)
        if res.get("result") == "noop":
            return 0
        return int(((res.get("get") or {}).get("_source") or {}).get(R.COUNT) or 0)

    def refused_window(self, key: str, windows: list[tuple[int, int]]) -> int:
        """Which of ``windows`` refuses one more hit of ``key`` now (after a refused lease)."""
        return self._refusing(key, windows, time.time(), 1)

    def _acquire(
        self,
        key: str,
        windows: list[tuple[int, int]],
        now: float,
        stamp: float,
        amount: int,
        least: int,
        source: bool | str = False,
    ) -> dict[str, Any]:
        return self._update(
            key,
            _ACQUIRE_ALL,
            {
                "now": now,
                "stamp": stamp,
                "amount": amount,
                "least": least,
                "windows": [{"limit": limit, "expiry": float(expiry)} for limit, expiry in windows],
            },
            source=source,
        )

    def _refusing(self, key: str, windows: list[tuple[int, int]], now: float, amount: int) -> int:
        # Refused (rare): read which window is full, for the 429 page and the audit event.
        entries = [float(t) for t in self._source(key).get(R.ENTRIES) or []]
        for n, (limit, expiry) in enumerate(windows):
            if sum(1 for t in entries if t > now - expiry) + amount > limit:
                return n
        return 0  # a window freed a slot since: still refused, as the engine decided

    def release(self, key: str, stamp: float, amount: int) -> bool:
        """Give back up to ``amount`` hits of ``key`` stamped ``stamp`` (a lease's unspent
        hits); False when there were none (the window had dropped them already)."""
        if amount <= 0:
            return False
        res = self._update(key, _RELEASE, {"stamp": stamp, "amount": amount}, source=False)
        return res.get("result") != "noop"

    # --- moving window -------------------------------------------------------------------
    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        res = self._update(
            key, _ACQUIRE, {"now": time.time(), "expiry": float(expiry), "limit": limit, "amount": amount}
        )
        return res.get("result") != "noop"

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        entries = sorted(float(t) for t in self._source(key).get(R.ENTRIES) or [] if float(t) > now - expiry)
        return (entries[0], len(entries)) if entries else (now, 0)

    # --- fixed window --------------------------------------------------------------------
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        res = self._update(key, _INCR, {"now": time.time(), "expiry": float(expiry), "amount": amount})
        return int(((res.get("get") or {}).get("_source") or {}).get(R.COUNT) or 0)

    def get(self, key: str) -> int:
        src = self._source(key)
        if float(src.get(R.EXPIRES_AT) or 0) <= time.time():
            return 0
        return int(src.get(R.COUNT) or 0)

    def get_expiry(self, key: str) -> float:
        return float(self._source(key).get(R.EXPIRES_AT) or time.time())

    # --- housekeeping --------------------------------------------------------------------
    def check(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:  # a health probe answers False rather than raising
            return False

    def clear(self, key: str) -> None:
        self.client.delete(index=self.target, id=key, ignore=[404], params={"refresh": "true"})

    def reset(self) -> int | None:
        res = self.client.delete_by_query(
            index=self.index,
            body={"query": {"match_all": {}}},
            params={"refresh": "true", "conflicts": "proceed"},
        )
        return int(res.get("deleted") or 0)

    def purge(self) -> int:
        """Delete windows nobody has hit for longer than their window (the worker calls this)."""
        self._ensure()
        res = self.client.delete_by_query(
            index=self.index,
            body={"query": {"range": {R.EXPIRES_AT: {"lt": time.time()}}}},
            params={"conflicts": "proceed"},
        )
        return int(res.get("deleted") or 0)
