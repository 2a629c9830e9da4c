"""CPU per request of the /v1/messages view alone, in this process (no HTTP server).

    python bench/view_cpu.py [N] [--prof]

Sends N JSON requests (default 3,000, after 200 to warm up) straight to the
gateway's messages view, which forwards them to a fake upstream on
127.0.0.1 (tests/fakes/upstream.py, in a thread of this process), and prints
the process CPU per request; `--prof` adds a cProfile table. The log row is
built but not written. Run from a checkout's root: to compare two
revisions, run this same file from each (`git worktree add ../old REV; cd
../old; python ../main/bench/view_cpu.py`), alternating runs, since one run
varies by several percent. An older checkout serves the view from
routing/views.py; both are found.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proxysite.settings")
os.environ["SWITCHBOARD_DATA_DIR"] = tempfile.mkdtemp(prefix="switchboard-view-cpu-")
os.environ["SWITCHBOARD_API_KEYS"] = "bench-key"

import django

django.setup()

import orjson  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import AsyncRequestFactory  # noqa: E402

#: Requests sent before measuring (imports, pools, caches).
WARM_UP = 200
BODY = orjson.dumps(
    {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}
)
HEADERS = {
    "x-switchboard-key": "bench-key",
    "x-api-key": "sk-ant-bench",
    "anthropic-version": "2023-06-01",
    "host": "127.0.0.1",
}


def main() -> None:
    count = int(next((a for a in sys.argv[1:] if a.isdigit()), "3000"))
    call_command("migrate", verbosity=0)
    from requestlog.writer import log_writer
    from routing import snapshot
    from routing.models import Provider
    from tests.fakes.upstream import FakeUpstream

    try:
        from gateway import views
    except ImportError:  # before the gateway app
        from routing import views  # type: ignore[no-redef]

    log_writer.enqueue = lambda row: None  # type: ignore[method-assign]  # the view only
    factory = AsyncRequestFactory()

    async def send(n: int) -> None:
        for _ in range(n):
            request = factory.post(
                "/v1/messages", data=BODY, content_type="application/json", headers=HEADERS
            )
            response = await views.messages(request)
            assert response.status_code == 200, response.content

    async def measure() -> None:
        await send(WARM_UP)
        profile = cProfile.Profile() if "--prof" in sys.argv else None
        started = time.process_time()
        if profile:
            profile.enable()
        await send(count)
        if profile:
            profile.disable()
        cpu = time.process_time() - started
        print(f"{count} requests, CPU {cpu * 1e6 / count:.0f} us per request")
        if profile:
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)

    with FakeUpstream() as fake:
        Provider.objects.update_or_create(
            name="anthropic",
            defaults={
                "wire_format": "anthropic",
                "base_url": fake.url,
                "is_default": True,
                "enabled": True,
            },
        )
        snapshot.load()
        asyncio.run(measure())


if __name__ == "__main__":
    main()
