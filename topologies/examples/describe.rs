//! Prints `describe()` of the marketplace topologies: `cargo run -p weir-topologies --example describe`.

fn main() -> Result<(), weir_engine::StreamsError> {
    print!(
        "{}",
        weir_topologies::product_filter::topology("shop-filter")?.describe()
    );
    print!(
        "{}",
        weir_topologies::user_interests::topology("user-interests")?.describe()
    );
    Ok(())
}
