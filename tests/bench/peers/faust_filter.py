"""product-filter on faust-streaming 0.15.x, the benchmark's peer: every product of
`shop-products` whose id is not in `forbidden-products` goes to `products`.

The forbidden set lives in a faust Table whose changelog topic is `forbidden-products` itself
(keys and values raw bytes), so faust recovers the whole set before its agents process a product
(as a global table is bootstrapped); the table is co-partitioned with `shop-products` (faust maps
changelog partition i to source partition i). Runs until SIGTERM/SIGINT.

    python faust_filter.py --bootstrap-servers H:P --group G --state-dir DIR --partitions P
"""

import argparse
import logging
import sys

import faust


def build(args: argparse.Namespace) -> faust.App:
    app = faust.App(
        args.group,
        broker=f"kafka://{args.bootstrap_servers}",
        datadir=args.state_dir,
        topic_partitions=args.partitions,
        broker_session_timeout=args.session_timeout_ms / 1000,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
    )
    changelog = app.topic(
        "forbidden-products", key_serializer="raw", value_serializer="raw", partitions=args.partitions
    )
    forbidden = app.Table(
        "forbidden", key_type=bytes, value_type=bytes, partitions=args.partitions, changelog_topic=changelog
    )
    products = app.topic("shop-products", key_serializer="raw", value_serializer="raw")
    output = app.topic("products", key_serializer="raw", value_serializer="raw")

    @app.agent(products)
    async def keep_allowed(stream):
        async for event in stream.events():
            if event.key not in forbidden:
                await output.send(key=event.key, value=event.value)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--session-timeout-ms", type=int, default=6000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    sys.argv = [sys.argv[0], "worker", "--loglevel", "info", "--without-web"]
    build(args).main()


if __name__ == "__main__":
    main()
