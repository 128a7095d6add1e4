"""``python -m tests.node start|stop``: the test node outside pytest, for ``make test``.

``make test`` starts the node in the background while mypy runs (mypy takes one core, a
starting JVM mostly the other), with ``LANTERN_TEST_RUN_ID`` exported, so the pytest run that
follows finds it running and, since the node carries that run's id, stops it at the end as
if it had started it. ``stop`` stops it only if it carries that id (a failed mypy ends the
run before pytest).
"""

from __future__ import annotations

import sys

from tests.conftest import start_node, stop_node_if_started_by_this_run


def main(argv: list[str]) -> int:
    if argv == ["start"]:
        start_node()
    elif argv == ["stop"]:
        stop_node_if_started_by_this_run()
    else:
        print("usage: python -m tests.node start|stop", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
