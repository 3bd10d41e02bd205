//! The power-loss model of [`CrashFs`], one rule per test, and [`OsFs`] basics.

use std::io::Write;
use std::path::Path;

use crate::{failpoint, write_file_synced, CrashFs, CrashOptions, Fs, OsFs};

fn read(p: &Path) -> Option<Vec<u8>> {
    std::fs::read(p).ok()
}

#[test]
fn unsynced_appends_are_dropped_synced_ones_kept() {
    let d = tempfile::tempdir().expect("tempdir");
    let fs = CrashFs::new(d.path()).expect("crashfs");
    let p = d.path().join("seg");
    let mut f = fs.create(&p).expect("create");
    fs.sync_dir(d.path()).expect("dir fsync");
    f.write_all(b"hello ").expect("write");
    f.sync_data().expect("fsync");
    f.write_all(b"world").expect("write");
    assert_eq!(read(&p).as_deref(), Some(&b"hello world"[..]));
    let r = fs.crash().expect("crash");
    assert_eq!(read(&p).as_deref(), Some(&b"hello "[..]));
    assert_eq!(r.bytes_dropped, 5);
    assert_eq!(r.files, 1);
}

#[test]
fn a_new_file_needs_its_directory_fsynced() {
    let d = tempfile::tempdir().expect("tempdir");
    let fs = CrashFs::new(d.path()).expect("crashfs");
    write_file_synced(&fs, &d.path().join("kept"), b"k").expect("write");
    fs.sync_dir(d.path()).expect("dir fsync");
    write_file_synced(&fs, &d.path().join("lost"), b"l").expect("write");
    fs.crash().expect("crash");
    assert_eq!(read(&d.path().join("kept")).as_deref(), Some(&b"k"[..]));
    assert_eq!(read(&d.path().join("lost")), None);
}

#[test]
fn a_file_in_a_durable_entry_keeps_only_fsynced_content() {
    let d = tempfile::tempdir().expect("tempdir");
    let fs = CrashFs::new(d.path()).expect("crashfs");
    let p = d.path().join("f");
    let mut f = fs.create(&p).expect("create");
    f.write_all(b"never synced").expect("write");
    fs.sync_dir(d.path()).expect("dir fsync");
    fs.crash().expect("crash");
    assert_eq!(read(&p).as_deref(), Some(&b""[..]));
}

#[test]
fn renames_and_removals_need_the_directory_fsynced() {
    let d = tempfile::tempdir().expect("tempdir");
    let root = d.path();
    std::fs::create_dir(root.join("a.tmp")).expect("mkdir");
    std::fs::write(root.join("a.tmp/x"), b"x").expect("write");
    std::fs::write(root.join("old"), b"o").expect("write");
    let fs = CrashFs::new(root).expect("crashfs");
    fs.rename(&root.join("a.tmp"), &root.join("a"))
        .expect("rename");
    fs.remove_file(&root.join("old")).expect("remove");
    assert!(root.join("a/x").exists() && !root.join("old").exists());
    fs.crash().expect("crash");
    assert_eq!(read(&root.join("a.tmp/x")).as_deref(), Some(&b"x"[..]));
    assert!(!root.join("a").exists());
    assert_eq!(read(&root.join("old")).as_deref(), Some(&b"o"[..]));

    let fs = CrashFs::new(root).expect("crashfs");
    fs.rename(&root.join("a.tmp"), &root.join("a"))
        .expect("rename");
    fs.remove_file(&root.join("old")).expect("remove");
    fs.sync_dir(root).expect("dir fsync");
    fs.crash().expect("crash");
    assert_eq!(read(&root.join("a/x")).as_deref(), Some(&b"x"[..]));
    assert!(!root.join("a.tmp").exists() && !root.join("old").exists());
}

#[test]
fn a_new_directory_needs_its_parent_fsynced() {
    let d = tempfile::tempdir().expect("tempdir");
    let root = d.path();
    let fs = CrashFs::new(root).expect("crashfs");
    fs.create_dir_all(&root.join("wal/sub")).expect("mkdir");
    write_file_synced(&fs, &root.join("wal/sub/f"), b"f").expect("write");
    fs.sync_dir(&root.join("wal/sub")).expect("fsync sub");
    fs.sync_dir(&root.join("wal")).expect("fsync wal");
    fs.crash().expect("crash");
    assert!(!root.join("wal").exists(), "root never fsynced");

    let fs = CrashFs::new(root).expect("crashfs");
    fs.create_dir_all(&root.join("wal/sub")).expect("mkdir");
    write_file_synced(&fs, &root.join("wal/sub/f"), b"f").expect("write");
    for p in ["wal/sub", "wal", ""] {
        fs.sync_dir(&root.join(p)).expect("fsync");
    }
    fs.crash().expect("crash");
    assert_eq!(read(&root.join("wal/sub/f")).as_deref(), Some(&b"f"[..]));
}

#[test]
fn unsynced_truncation_is_undone() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("f");
    std::fs::write(&p, b"0123456789").expect("write");
    let fs = CrashFs::new(d.path()).expect("crashfs");
    let mut f = fs.open_write(&p).expect("open");
    f.set_len(4).expect("truncate");
    assert_eq!(read(&p).as_deref(), Some(&b"0123"[..]));
    fs.crash().expect("crash");
    assert_eq!(read(&p).as_deref(), Some(&b"0123456789"[..]));

    let fs = CrashFs::new(d.path()).expect("crashfs");
    let mut f = fs.open_write(&p).expect("open");
    f.set_len(4).expect("truncate");
    f.sync_all().expect("fsync");
    fs.crash().expect("crash");
    assert_eq!(read(&p).as_deref(), Some(&b"0123"[..]));
}

#[test]
fn recreating_a_file_keeps_old_content_until_fsync() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("f");
    std::fs::write(&p, b"old").expect("write");
    let fs = CrashFs::new(d.path()).expect("crashfs");
    let mut f = fs.create(&p).expect("create");
    f.write_all(b"new!").expect("write");
    fs.crash().expect("crash");
    assert_eq!(read(&p).as_deref(), Some(&b"old"[..]));
}

#[test]
fn crashes_after_n_operations_and_then_refuses_everything() {
    let d = tempfile::tempdir().expect("tempdir");
    let opts = CrashOptions {
        crash_after_ops: Some(4),
        ..Default::default()
    };
    let fs = CrashFs::with_options(d.path(), opts).expect("crashfs");
    let p = d.path().join("f");
    let mut f = fs.create(&p).expect("op 1");
    fs.sync_dir(d.path()).expect("op 2");
    f.write_all(b"a").expect("op 3");
    assert!(f.sync_data().is_err(), "op 4 crashes");
    assert!(fs.is_crashed());
    assert!(f.write_all(b"b").is_err());
    assert!(fs.create_dir(&d.path().join("x")).is_err());
    assert!(!d.path().join("x").exists());
    let r = fs.crash().expect("rewind");
    assert_eq!(r.cause, "after 4 operations");
    assert_eq!(read(&p).as_deref(), Some(&b""[..]));
    assert!(fs.crash().is_err(), "a layer rewinds once");
}

#[test]
fn crashes_at_a_named_failpoint() {
    let d = tempfile::tempdir().expect("tempdir");
    let opts = CrashOptions {
        crash_at_failpoint: Some(failpoint::BLOCK_AFTER_INDEX.into()),
        ..Default::default()
    };
    let fs = CrashFs::with_options(d.path(), opts).expect("crashfs");
    fs.failpoint(failpoint::BLOCK_AFTER_CHUNKS)
        .expect("not this one");
    assert!(fs.failpoint(failpoint::BLOCK_AFTER_INDEX).is_err());
    assert_eq!(
        fs.crash_cause().as_deref(),
        Some("failpoint block-after-index")
    );
}

#[test]
fn injected_fsync_bugs_lose_data() {
    let d = tempfile::tempdir().expect("tempdir");
    let opts = CrashOptions {
        skip_file_fsync: true,
        ..Default::default()
    };
    let fs = CrashFs::with_options(d.path(), opts).expect("crashfs");
    write_file_synced(&fs, &d.path().join("f"), b"data").expect("write");
    fs.sync_dir(d.path()).expect("dir fsync");
    fs.crash().expect("crash");
    assert_eq!(read(&d.path().join("f")).as_deref(), Some(&b""[..]));

    let opts = CrashOptions {
        skip_dir_fsync: true,
        ..Default::default()
    };
    let fs = CrashFs::with_options(d.path(), opts).expect("crashfs");
    write_file_synced(&fs, &d.path().join("g"), b"data").expect("write");
    fs.sync_dir(d.path()).expect("dir fsync");
    fs.crash().expect("crash");
    assert!(!d.path().join("g").exists());
}

#[test]
fn refuses_paths_outside_its_root() {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(d.path().join("root")).expect("mkdir");
    let fs = CrashFs::new(&d.path().join("root")).expect("crashfs");
    let err = fs.create(&d.path().join("outside")).expect_err("outside");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn os_fs_does_what_std_fs_does() {
    let d = tempfile::tempdir().expect("tempdir");
    let fs = OsFs;
    fs.create_dir_all(&d.path().join("a/b")).expect("mkdir");
    write_file_synced(&fs, &d.path().join("a/b/f"), b"x").expect("write");
    fs.sync_dir(&d.path().join("a/b")).expect("dir fsync");
    fs.rename(&d.path().join("a/b"), &d.path().join("c"))
        .expect("rename");
    assert_eq!(read(&d.path().join("c/f")).as_deref(), Some(&b"x"[..]));
    let mut f = fs.open_write(&d.path().join("c/f")).expect("open");
    f.set_len(0).expect("truncate");
    f.sync_all().expect("fsync");
    assert_eq!(read(&d.path().join("c/f")).as_deref(), Some(&b""[..]));
    fs.remove_file(&d.path().join("c/f")).expect("remove");
    fs.remove_dir_all(&d.path().join("a")).expect("remove dir");
    fs.failpoint(failpoint::BLOCK_AFTER_CHUNKS)
        .expect("unarmed failpoints pass");
}

#[test]
fn only_known_failpoints_can_be_armed() {
    let err = failpoint::arm("no-such-point").expect_err("unknown");
    assert!(err.contains("block-after-chunks"), "{err}");
    assert_eq!(failpoint::armed(), None);
}

#[test]
fn torn_writes_keep_a_prefix_of_the_unsynced_tail() {
    let mut kept = std::collections::BTreeSet::new();
    for seed in 1..40u64 {
        let d = tempfile::tempdir().expect("tempdir");
        let opts = CrashOptions {
            torn_writes_seed: Some(seed),
            ..Default::default()
        };
        let fs = CrashFs::with_options(d.path(), opts).expect("crashfs");
        let p = d.path().join("seg");
        let mut f = fs.create(&p).expect("create");
        fs.sync_dir(d.path()).expect("dir fsync");
        f.write_all(b"synced|").expect("write");
        f.sync_data().expect("fsync");
        f.write_all(b"unsynced").expect("write");
        let lost = d.path().join("lost");
        write_file_synced(&fs, &lost, b"no dir fsync").expect("write");
        let r = fs.crash().expect("crash");
        let got = read(&p).expect("segment survives");
        assert!(got.starts_with(b"synced|"), "{got:?}");
        assert!(b"synced|unsynced".starts_with(&got), "{got:?}");
        assert_eq!(r.torn_bytes_kept, (got.len() - 7) as u64);
        assert!(!lost.exists(), "torn writes never resurrect names");
        kept.insert(got.len());
    }
    assert!(
        kept.len() > 3,
        "prefix lengths vary with the seed: {kept:?}"
    );
}
