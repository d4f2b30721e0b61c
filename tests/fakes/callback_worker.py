"""``auxot worker`` with callbacks sent by the stand-in sender (tests/fakes/plain_sender.py),
for subprocess tests until the real sender adapter is wired in the composition root.

    python -m tests.fakes.callback_worker   # configured by AUXOT_* like auxot worker
"""

from __future__ import annotations

import signal
import sys
import threading

from auxot.entrypoints.bootstrap import bootstrap
from auxot.entrypoints.settings import Settings
from tests.fakes.plain_sender import PlainHttpSender


def main() -> None:
    settings = Settings.from_env()
    sender = PlainHttpSender(timeout=settings.callback_timeout)
    service = bootstrap(settings, callback_sender=sender)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    service.start()
    print(f"auxot: worker {settings.worker_id} running", file=sys.stderr, flush=True)
    stop.wait()
    service.close()
    sender.close()


if __name__ == "__main__":
    main()
