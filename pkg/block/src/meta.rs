//! `meta.json`: a block's identity, time range, statistics and lineage, as Prometheus writes
//! it (`tsdb/block.go` `BlockMeta`, version 1), plus the `thanos` section Thanos-compatible
//! tools read (external labels, downsampling, source) with Strata's `tenant`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::fileutil::write_file_synced;
use crate::BlockError;

/// The only `meta.json` version Prometheus writes and reads.
pub const META_VERSION_1: u32 = 1;
/// The file name of a block's metadata.
pub const META_FILENAME: &str = "meta.json";

/// A block's `meta.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMeta {
    /// The block's id, also its directory name.
    pub ulid: Ulid,
    /// The earliest sample time the block may hold (inclusive, ms).
    #[serde(rename = "minTime")]
    pub min_time: i64,
    /// The end of the block's range (exclusive, ms), as Prometheus.
    #[serde(rename = "maxTime")]
    pub max_time: i64,
    /// Counts of what the block holds.
    #[serde(default)]
    pub stats: BlockStats,
    /// How the block came to be.
    #[serde(default)]
    pub compaction: BlockMetaCompaction,
    /// Always [`META_VERSION_1`].
    pub version: u32,
    /// Thanos-compatible metadata; absent in plain Prometheus blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thanos: Option<ThanosMeta>,
}

/// Block statistics. Prometheus omits zero counts, so all default to 0.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockStats {
    /// Samples in all chunks.
    #[serde(rename = "numSamples", default, skip_serializing_if = "is_zero")]
    pub num_samples: u64,
    /// Series in the index.
    #[serde(rename = "numSeries", default, skip_serializing_if = "is_zero")]
    pub num_series: u64,
    /// Chunks in `chunks/`.
    #[serde(rename = "numChunks", default, skip_serializing_if = "is_zero")]
    pub num_chunks: u64,
    /// Deletion intervals in `tombstones`.
    #[serde(rename = "numTombstones", default, skip_serializing_if = "is_zero")]
    pub num_tombstones: u64,
}

fn is_zero(x: &u64) -> bool {
    *x == 0
}

/// A block this one was compacted from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDesc {
    /// The parent's id.
    pub ulid: Ulid,
    /// The parent's minimum time.
    #[serde(rename = "minTime")]
    pub min_time: i64,
    /// The parent's maximum time (exclusive).
    #[serde(rename = "maxTime")]
    pub max_time: i64,
}

/// Compaction lineage.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMetaCompaction {
    /// 1 for a block cut from a head, higher after compactions.
    pub level: u32,
    /// The level-1 blocks whose data this block holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Ulid>,
    /// Set when the block is to be deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deletable: bool,
    /// The blocks this one was compacted from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<BlockDesc>,
    /// Set when compacting this block failed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failed: bool,
    /// Compactor hints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
}

/// Thanos's downsampling section.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Downsample {
    /// The resolution in ms; 0 for raw data.
    pub resolution: i64,
}

/// Who wrote a block, for the `thanos.source` field.
pub mod source {
    /// Written by an ingester from its head, like Thanos Receive.
    pub const RECEIVE: &str = "receive";
    /// Written by another Strata component (compactor, importer).
    pub const STRATA: &str = "strata";
}

/// The `thanos` section of `meta.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThanosMeta {
    /// External labels that identify where the block's series come from.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Downsampling; resolution 0 for raw blocks.
    #[serde(default)]
    pub downsample: Downsample,
    /// What wrote the block: see [`source`].
    #[serde(default)]
    pub source: String,
    /// The tenant whose data the block holds (Strata's addition; Thanos ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

impl BlockMeta {
    /// Reads and validates `<dir>/meta.json`.
    pub fn read(dir: &Path) -> Result<Self, BlockError> {
        let path = dir.join(META_FILENAME);
        let b = std::fs::read(&path).map_err(|e| BlockError::io("read", &path, e))?;
        let meta: BlockMeta = serde_json::from_slice(&b)
            .map_err(|e| BlockError::corrupt(dir, META_FILENAME, format!("parse: {e}")))?;
        if meta.version != META_VERSION_1 {
            return Err(BlockError::Unsupported {
                block: dir.to_path_buf(),
                what: format!("meta.json version {}", meta.version),
            });
        }
        if meta.min_time > meta.max_time {
            return Err(BlockError::corrupt(
                dir,
                META_FILENAME,
                format!(
                    "minTime {} is after maxTime {}",
                    meta.min_time, meta.max_time
                ),
            ));
        }
        Ok(meta)
    }

    /// Serializes as Prometheus does (tab-indented JSON).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        self.serialize(&mut ser)
            .expect("serializing plain structs to a Vec cannot fail");
        out
    }

    /// Writes `<dir>/meta.json` and fsyncs it.
    pub(crate) fn write(&self, fs: &dyn strata_vfs::Fs, dir: &Path) -> Result<(), BlockError> {
        write_file_synced(fs, &dir.join(META_FILENAME), &self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_prometheus_meta() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join(META_FILENAME),
            r#"{
	"ulid": "01BKGV7JBM69T2G1BGBGM6KB12",
	"minTime": 1602237600000,
	"maxTime": 1602244800000,
	"stats": {"numSamples": 553673232, "numSeries": 1346066, "numChunks": 4440437},
	"compaction": {"level": 1, "sources": ["01BKGV7JBM69T2G1BGBGM6KB12"]},
	"version": 1
}"#,
        )
        .expect("write");
        let m = BlockMeta::read(dir.path()).expect("valid meta");
        assert_eq!(m.stats.num_series, 1_346_066);
        assert_eq!(m.compaction.sources.len(), 1);
        assert!(m.thanos.is_none());
        assert_eq!(m.ulid.to_string(), "01BKGV7JBM69T2G1BGBGM6KB12");
    }

    #[test]
    fn round_trips_with_thanos_section() {
        let u = Ulid::new();
        let m = BlockMeta {
            ulid: u,
            min_time: 0,
            max_time: 7_200_000,
            stats: BlockStats {
                num_samples: 10,
                num_series: 2,
                num_chunks: 3,
                num_tombstones: 0,
            },
            compaction: BlockMetaCompaction {
                level: 1,
                sources: vec![u],
                ..Default::default()
            },
            version: 1,
            thanos: Some(ThanosMeta {
                labels: BTreeMap::from([("replica".into(), "a".into())]),
                downsample: Downsample { resolution: 0 },
                source: source::RECEIVE.into(),
                tenant: Some("team-a".into()),
            }),
        };
        let json = String::from_utf8(m.to_json()).expect("utf8");
        assert!(json.contains("\t\"minTime\": 0"), "{json}");
        assert!(json.contains("\"tenant\": \"team-a\""), "{json}");
        assert!(!json.contains("numTombstones"), "{json}");
        let back: BlockMeta = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, m);
    }

    #[test]
    fn rejects_bad_metas() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join(META_FILENAME);
        for bad in [
            "",
            "{",
            r#"{"ulid": "nope", "minTime": 0, "maxTime": 1, "version": 1}"#,
            r#"{"ulid": "01BKGV7JBM69T2G1BGBGM6KB12", "minTime": 0, "maxTime": 1, "version": 2}"#,
            r#"{"ulid": "01BKGV7JBM69T2G1BGBGM6KB12", "minTime": 5, "maxTime": 1, "version": 1}"#,
        ] {
            std::fs::write(&p, bad).expect("write");
            assert!(BlockMeta::read(dir.path()).is_err(), "{bad}");
        }
    }
}
