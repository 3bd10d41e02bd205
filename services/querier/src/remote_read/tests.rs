use super::*;
use crate::test_support::{mem_querier, FakeSeries, FAKE_CHUNK_SAMPLES};
use http_body_util::BodyExt;
use strata_model::Sample;
use strata_proto::prometheus::label_matcher::Type as MatchType;
use strata_storage::{ChunkMeta, Series};

/// Decodes a streamed answer frame by frame, checking lengths and checksums.
pub(crate) fn decode_frames(mut buf: &[u8]) -> Vec<ChunkedReadResponse> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let len = prost::encoding::decode_varint(&mut buf).expect("frame length") as usize;
        assert!(buf.len() >= 4 + len, "frame shorter than declared");
        let crc = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let msg = &buf[4..4 + len];
        assert_eq!(crc, crc32c::crc32c(msg), "frame checksum");
        out.push(ChunkedReadResponse::decode(msg).expect("frame message"));
        buf = &buf[4 + len..];
    }
    out
}

fn series_data() -> Vec<FakeSeries> {
    // 7 samples each: chunks [0,10,20] [30,40,50] [60].
    let samples: Vec<(i64, f64)> = (0..7).map(|i| (i * 10, i as f64)).collect();
    vec![
        FakeSeries::new("t", &[("__name__", "up"), ("job", "b")], &samples),
        FakeSeries::new("t", &[("__name__", "up"), ("job", "a")], &samples),
        FakeSeries::new("t", &[("__name__", "down")], &samples),
    ]
}

fn query(start: i64, end: i64) -> pb::Query {
    pb::Query {
        start_timestamp_ms: start,
        end_timestamp_ms: end,
        matchers: vec![pb::LabelMatcher {
            r#type: MatchType::Eq as i32,
            name: "__name__".into(),
            value: "up".into(),
        }],
        hints: None,
    }
}

fn request(queries: Vec<pb::Query>, types: &[ResponseType]) -> ReadRequest {
    ReadRequest {
        queries,
        accepted_response_types: types.iter().map(|t| *t as i32).collect(),
    }
}

fn compress(req: &ReadRequest) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .expect("snappy")
}

#[test]
fn negotiation_takes_the_first_known_type() {
    let r = |types: Vec<i32>| ReadRequest {
        queries: vec![],
        accepted_response_types: types,
    };
    assert_eq!(negotiate(&r(vec![])), ResponseType::Samples);
    assert_eq!(negotiate(&r(vec![1, 0])), ResponseType::StreamedXorChunks);
    assert_eq!(negotiate(&r(vec![0, 1])), ResponseType::Samples);
    assert_eq!(negotiate(&r(vec![7, 1])), ResponseType::StreamedXorChunks);
}

#[test]
fn frames_carry_length_crc_and_message() {
    let msg = ChunkedReadResponse {
        chunked_series: vec![ChunkedSeries {
            labels: vec![pb::Label {
                name: "a".into(),
                value: "b".into(),
            }],
            chunks: vec![],
        }],
        query_index: 3,
    };
    let frame = encode_frame(&msg);
    let body = msg.encode_to_vec();
    assert_eq!(
        frame[0] as usize,
        body.len(),
        "short lengths are one varint byte"
    );
    assert_eq!(&frame[1..5], &crc32c::crc32c(&body).to_be_bytes());
    assert_eq!(&frame[5..], &body[..]);
    assert_eq!(decode_frames(&frame), vec![msg]);
    // CRC32C check value from the standard test vector.
    assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
}

#[tokio::test]
async fn streamed_answer_sends_whole_overlapping_chunks_per_query() {
    let querier = mem_querier(series_data());
    let req = request(
        vec![query(25, 45), query(0, 1000)],
        &[ResponseType::StreamedXorChunks],
    );
    let resp = serve(querier, &compress(&req), 0).await.expect("serves");
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"
    );
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let frames = decode_frames(&body);
    // One series per frame: 2 series × 2 queries, in label order within each query.
    assert_eq!(frames.len(), 4);
    let idx: Vec<i64> = frames.iter().map(|f| f.query_index).collect();
    assert_eq!(idx, vec![0, 0, 1, 1]);
    let jobs: Vec<&str> = frames
        .iter()
        .map(|f| {
            f.chunked_series[0]
                .labels
                .iter()
                .find(|l| l.name == "job")
                .map_or("", |l| &l.value)
        })
        .collect();
    assert_eq!(jobs, vec!["a", "b", "a", "b"]);
    // [25, 45] overlaps only the chunk [30, 50], sent whole.
    let c = &frames[0].chunked_series[0].chunks;
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].min_time_ms, c[0].max_time_ms), (30, 50));
    assert_eq!(c[0].r#type, pb::chunk::Encoding::Xor as i32);
    let decoded = Series {
        labels: strata_model::Labels::empty(),
        chunks: vec![ChunkMeta {
            min_time: 30,
            max_time: 50,
            chunk: strata_chunkenc::Chunk::new(strata_chunkenc::Encoding::Xor, c[0].data.clone())
                .expect("chunk"),
        }],
    }
    .samples()
    .expect("decodes");
    assert_eq!(decoded.len(), FAKE_CHUNK_SAMPLES);
    assert_eq!(decoded[0], Sample::new(30, 3.0));
    assert_eq!(frames[2].chunked_series[0].chunks.len(), 3);
}

#[tokio::test]
async fn large_series_are_split_into_frames_under_the_limit() {
    // 300 000 samples with random-ish values make 100 000 chunks: a few MiB.
    let samples: Vec<(i64, f64)> = (0..300_000i64)
        .map(|i| {
            (
                i * 1000,
                (i.wrapping_mul(2_654_435_761) % 1_000_003) as f64 / 7.0,
            )
        })
        .collect();
    let querier = mem_querier(vec![FakeSeries::new("t", &[("__name__", "up")], &samples)]);
    let req = request(
        vec![query(i64::MIN, i64::MAX)],
        &[ResponseType::StreamedXorChunks],
    );
    let frames = streamed_frames(querier.as_ref(), &req)
        .await
        .expect("frames");
    assert!(frames.len() > 1, "split into {} frames", frames.len());
    let mut chunks = 0;
    let mut last_max = i64::MIN;
    for f in &frames {
        assert!(
            f.len() <= MAX_BYTES_IN_FRAME + 64,
            "frame of {} bytes",
            f.len()
        );
        let msg = &decode_frames(f)[0];
        assert_eq!(msg.chunked_series.len(), 1);
        assert_eq!(
            msg.chunked_series[0].labels.len(),
            1,
            "every part repeats the labels"
        );
        for c in &msg.chunked_series[0].chunks {
            assert!(
                c.min_time_ms > last_max,
                "chunks stay in order across frames"
            );
            last_max = c.max_time_ms;
            chunks += 1;
        }
    }
    assert_eq!(chunks, samples.len().div_ceil(FAKE_CHUNK_SAMPLES));
}

#[tokio::test]
async fn samples_answer_is_snappy_protobuf_cut_to_the_range() {
    let querier = mem_querier(series_data());
    let req = request(vec![query(25, 45)], &[]);
    let resp = serve(querier, &compress(&req), 0).await.expect("serves");
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "application/x-protobuf"
    );
    assert_eq!(resp.headers()[header::CONTENT_ENCODING], "snappy");
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&body)
        .expect("snappy");
    let out = ReadResponse::decode(raw.as_slice()).expect("protobuf");
    assert_eq!(out.results.len(), 1);
    let ts = &out.results[0].timeseries;
    assert_eq!(ts.len(), 2);
    assert_eq!(ts[0].labels[1].value, "a");
    let got: Vec<(i64, f64)> = ts[0]
        .samples
        .iter()
        .map(|s| (s.timestamp, s.value))
        .collect();
    assert_eq!(got, vec![(30, 3.0), (40, 4.0)]);
}

#[tokio::test]
async fn samples_answer_enforces_the_sample_limit() {
    let querier = mem_querier(series_data());
    let req = request(vec![query(0, 1000)], &[ResponseType::Samples]);
    let err = samples_response(querier.as_ref(), &req, 5)
        .await
        .expect_err("over the limit");
    assert_eq!(err.status_code(), StatusCode::BAD_REQUEST);
    assert!(samples_response(querier.as_ref(), &req, 14).await.is_ok());
}

#[tokio::test]
async fn bad_requests_are_400() {
    let querier = mem_querier(vec![]);
    let err = serve(Arc::clone(&querier), b"not snappy", 0)
        .await
        .expect_err("bad body");
    assert_eq!(err.status_code(), StatusCode::BAD_REQUEST);
    let mut q = query(0, 1);
    q.matchers[0].r#type = MatchType::Re as i32;
    q.matchers[0].value = "(".into();
    let err = serve(querier, &compress(&request(vec![q], &[])), 0)
        .await
        .expect_err("bad regex");
    assert_eq!(err.status_code(), StatusCode::BAD_REQUEST);
}
