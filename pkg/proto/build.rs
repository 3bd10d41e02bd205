//! Compiles `proto/` with protox (pure Rust), so no system `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = "../../proto";
    let files = [
        "prometheus/types.proto",
        "prometheus/remote.proto",
        "io/prometheus/write/v2/types.proto",
        "strata/ingester/v1/ingester.proto",
        "strata/ring/v1/ring.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={root}/{f}");
    }
    let fds = protox::compile(files, [root])?;
    tonic_prost_build::configure()
        // Chunk payloads as `Bytes`: a chunk read from a block or the head is sent without a
        // copy into the message, and a received chunk shares the frame's buffer.
        .bytes(".prometheus.Chunk.data")
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
