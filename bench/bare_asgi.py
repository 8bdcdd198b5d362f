"""The yardstick of the release read benchmark: a bare ASGI app that answers every HTTP request with the
same bytes (read once from a file), served by uvicorn with the settings `assortment serve` uses.

    python -m bench.bare_asgi --body FILE --host 127.0.0.1 --port PORT
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

BODY_ENV = "ASSORTMENT_BENCH_BARE_BODY"


def factory() -> Any:
    """The app (for `uvicorn --factory`): the body comes from the file named by $ASSORTMENT_BENCH_BARE_BODY."""
    body = Path(os.environ[BODY_ENV]).read_bytes()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--body", type=Path, required=True, help="the file whose bytes every response carries")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    os.environ[BODY_ENV] = str(args.body.resolve())
    # The same call as `assortment serve` (src/assortment/cli.py), with one worker.
    uvicorn.run(
        "bench.bare_asgi:factory",
        factory=True,
        host=args.host,
        port=args.port,
        workers=1,
        log_level="info",
        access_log=False,
    )


if __name__ == "__main__":
    main()
