"""product-filter on quixstreams 3.x, the benchmark's peer: every product of `shop-products` whose
id is not in `forbidden-products` goes to `products`.

The forbidden set lives in quixstreams' state: `join_asof` keeps the `forbidden-products` records
in a RocksDB store (changelogged) and looks each product's key up in it; with two input topics
quixstreams aligns partitions by record time, so ids forbidden before a product was written are
known when it is processed. The join needs the two topics co-partitioned (same partition count,
same partitioner). Runs until SIGTERM/SIGINT.

    python quix_filter.py --bootstrap-servers H:P --group G --state-dir DIR
"""

import argparse

from quixstreams import Application

FORBIDDEN = object()


def keep_allowed(product, reason):
    """The join's merge: a product with a forbidden-products match is marked for dropping."""
    return product if reason is None else FORBIDDEN


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--session-timeout-ms", type=int, default=6000)
    args = parser.parse_args()

    app = Application(
        broker_address=args.bootstrap_servers,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        consumer_extra_config={"session.timeout.ms": args.session_timeout_ms},
    )
    products = app.dataframe(app.topic("shop-products", key_deserializer="str", value_deserializer="json"))
    forbidden = app.dataframe(
        app.topic("forbidden-products", key_deserializer="str", value_deserializer="str")
    )
    output = app.topic("products", key_serializer="str", value_serializer="json")

    allowed = products.join_asof(forbidden, how="left", on_merge=keep_allowed, name="forbidden")
    allowed.filter(lambda value: value is not FORBIDDEN).to_topic(output)
    app.run()


if __name__ == "__main__":
    main()
