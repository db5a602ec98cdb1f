//! The framed log on its own: encoding, walking across read chunks, every truncation point,
//! flipped bytes, the tolerant recovery, single-frame reads and the cut after a failed write.

use super::*;
use proptest::prelude::*;

const ANY: FrameLimits = FrameLimits::new(0, 1 << 20);

fn batch(bodies: &[Vec<u8>], limits: FrameLimits) -> (Vec<u8>, Vec<u64>) {
    let mut b = FrameBatch::with_capacity(limits, 0);
    let offsets = bodies
        .iter()
        .map(|body| b.push_body(body).expect("within limits"))
        .collect();
    (b.bytes().to_vec(), offsets)
}

/// Every body a walk visits, with the walk's end.
fn walked(bytes: &[u8], limits: FrameLimits, chunk: usize) -> (Vec<Vec<u8>>, WalkEnd) {
    let mut seen = Vec::new();
    let end = walk_chunked(bytes, 0, bytes.len() as u64, limits, chunk, |body, _| {
        seen.push(body.to_vec());
        Visit::Next
    })
    .expect("slices do not fail");
    (seen, end)
}

/// Frame boundaries of `bodies` laid out back to back: 0, end of the first, ...
fn boundaries(bodies: &[Vec<u8>]) -> Vec<u64> {
    let mut at = vec![0u64];
    for b in bodies {
        let last = *at.last().unwrap_or(&0);
        at.push(last + (FRAME_HEADER_LEN + b.len()) as u64);
    }
    at
}

#[test]
fn frames_are_length_crc32c_body_little_endian() {
    let (bytes, offsets) = batch(&[b"abc".to_vec(), Vec::new()], ANY);
    assert_eq!(offsets, vec![0, 11]);
    assert_eq!(&bytes[..4], &3u32.to_le_bytes());
    assert_eq!(&bytes[4..8], &crc32c::crc32c(b"abc").to_le_bytes());
    assert_eq!(&bytes[8..11], b"abc");
    assert_eq!(&bytes[11..15], &0u32.to_le_bytes());
    assert_eq!(&bytes[15..19], &crc32c::crc32c(b"").to_le_bytes());
    assert_eq!(bytes.len(), 19);
}

#[test]
fn a_body_outside_the_limits_is_refused_and_leaves_the_batch_as_it_was() {
    let limits = FrameLimits::new(2, 4);
    let mut b = FrameBatch::with_capacity(limits, 0);
    b.push_body(b"ok").expect("fits");
    let before = b.bytes().to_vec();
    for bad in [&b"x"[..], b"12345"] {
        let e = b.push_body(bad).expect_err("outside the limits");
        assert_eq!(e.body_len, bad.len());
        assert_eq!(b.bytes(), &before[..]);
    }
    let io: io::Error = FrameSizeError {
        body_len: 9,
        limits,
    }
    .into();
    assert_eq!(io.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn a_batch_with_a_file_header_returns_file_offsets() {
    let mut b = FrameBatch::with_header(ANY, b"MAGIC", 0);
    assert_eq!(b.push_body(b"one").expect("fits"), 5);
    assert_eq!(b.push_body(b"two").expect("fits"), 16);
    let mut seen = Vec::new();
    let end = walk(b.bytes(), 5, b.len() as u64, ANY, |body, at| {
        seen.push((body.to_vec(), at));
        Visit::Next
    })
    .expect("walk");
    assert_eq!(seen, vec![(b"one".to_vec(), 5), (b"two".to_vec(), 16)]);
    assert_eq!(end.damage, None);
    assert_eq!(&b.bytes()[..5], b"MAGIC");
}

#[test]
fn walk_visits_every_frame_with_its_offset_across_chunk_boundaries() {
    let bodies: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; usize::from(i) * 3]).collect();
    let (bytes, offsets) = batch(&bodies, ANY);
    for chunk in [1, 7, 8, 64, CHUNK] {
        let mut seen = Vec::new();
        let end = walk_chunked(&bytes[..], 0, bytes.len() as u64, ANY, chunk, |b, at| {
            seen.push((b.to_vec(), at));
            Visit::Next
        })
        .expect("walk");
        assert_eq!(end.end, bytes.len() as u64, "chunk {chunk}");
        assert_eq!(end.damage, None);
        let want: Vec<_> = bodies
            .iter()
            .cloned()
            .zip(offsets.iter().copied())
            .collect();
        assert_eq!(seen, want, "chunk {chunk}");
    }
}

#[test]
fn walk_starts_mid_file_and_stops_where_the_visitor_says() {
    let bodies: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 4]).collect();
    let (bytes, offsets) = batch(&bodies, ANY);
    let mut seen = Vec::new();
    let end = walk(&bytes[..], offsets[1], bytes.len() as u64, ANY, |b, _| {
        seen.push(b[0]);
        if b[0] == 3 {
            Visit::Stop
        } else {
            Visit::Next
        }
    })
    .expect("walk");
    assert_eq!(seen, vec![1, 2, 3]);
    assert_eq!(
        end,
        WalkEnd {
            end: offsets[4],
            damage: None
        }
    );
    // A body the log's decoder refuses is damage, reported where its frame starts.
    let end = walk(&bytes[..], 0, bytes.len() as u64, ANY, |b, _| {
        if b[0] == 2 {
            Visit::Reject
        } else {
            Visit::Next
        }
    })
    .expect("walk");
    assert_eq!(
        end,
        WalkEnd {
            end: offsets[2],
            damage: Some(Damage::BadBody { frame_len: 12 })
        }
    );
}

#[test]
fn a_length_outside_the_limits_stops_the_walk_before_reading_the_body() {
    let limits = FrameLimits::new(3, 10);
    let (mut bytes, _) = batch(&[b"abc".to_vec(), b"defg".to_vec()], limits);
    bytes[11..15].copy_from_slice(&u32::MAX.to_le_bytes());
    let (seen, end) = walked(&bytes, limits, CHUNK);
    assert_eq!(seen, vec![b"abc".to_vec()]);
    assert_eq!(
        end,
        WalkEnd {
            end: 11,
            damage: Some(Damage::BadLength(u32::MAX))
        }
    );
    bytes[11..15].copy_from_slice(&2u32.to_le_bytes());
    assert_eq!(
        walked(&bytes, limits, CHUNK).1.damage,
        Some(Damage::BadLength(2))
    );
}

/// Deterministic and exhaustive: a log cut at every byte yields exactly its complete frames,
/// and says it was torn unless the cut fell on a frame boundary.
#[test]
fn every_truncation_recovers_exactly_the_complete_prefix() {
    let bodies: Vec<Vec<u8>> = (0..12usize).map(|i| vec![0xA5; (i * 7) % 19]).collect();
    let (bytes, _) = batch(&bodies, ANY);
    let bounds = boundaries(&bodies);
    for cut in 0..=bytes.len() {
        let whole = bounds.iter().filter(|b| **b <= cut as u64).count() - 1;
        for chunk in [5, CHUNK] {
            let (seen, end) = walked(&bytes[..cut], ANY, chunk);
            assert_eq!(seen, bodies[..whole], "cut {cut}");
            assert_eq!(end.end, bounds[whole], "cut {cut}");
            let torn = bounds[whole] != cut as u64;
            assert_eq!(end.damage, torn.then_some(Damage::Torn), "cut {cut}");
        }
        let r = recover(&bytes[..cut], 0, cut as u64, ANY, |_, _| Visit::Next).expect("torn");
        assert_eq!(
            r,
            Recovered {
                end: bounds[whole],
                skipped: 0
            }
        );
    }
}

#[test]
fn recover_skips_one_damaged_frame_in_the_middle_and_cuts_a_damaged_last_one() {
    let bodies: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 6]).collect();
    let (bytes, offsets) = batch(&bodies, ANY);
    let run = |bytes: &[u8]| {
        let mut seen = Vec::new();
        let r = recover(bytes, 0, bytes.len() as u64, ANY, |b, at| {
            seen.push((b[0], at));
            Visit::Next
        });
        (r, seen)
    };
    // A flipped body byte in frame 1: skipped, 2 and 3 kept.
    let mut flipped = bytes.clone();
    flipped[offsets[1] as usize + 9] ^= 0x40;
    let (r, seen) = run(&flipped);
    assert_eq!(
        r.expect("recovers"),
        Recovered {
            end: bytes.len() as u64,
            skipped: 1
        }
    );
    assert_eq!(seen, vec![(0, 0), (2, offsets[2]), (3, offsets[3])]);
    // In the last frame: a torn write, cut.
    let mut flipped = bytes.clone();
    flipped[offsets[3] as usize + 9] ^= 0x40;
    let (r, seen) = run(&flipped);
    assert_eq!(
        r.expect("recovers"),
        Recovered {
            end: offsets[3],
            skipped: 0
        }
    );
    assert_eq!(seen.len(), 3);
    // Two damaged frames in a row: refused at the first.
    let mut flipped = bytes.clone();
    flipped[offsets[1] as usize + 9] ^= 0x40;
    flipped[offsets[2] as usize + 9] ^= 0x40;
    assert!(matches!(
        run(&flipped).0,
        Err(RecoverError::Corrupt { offset, damage: Damage::BadChecksum { .. } }) if offset == offsets[1]
    ));
    // A damaged frame whose successor is torn: skipped, and the torn one cut.
    let mut flipped = bytes[..bytes.len() - 2].to_vec();
    flipped[offsets[2] as usize + 9] ^= 0x40;
    let (r, _) = run(&flipped);
    assert_eq!(
        r.expect("recovers"),
        Recovered {
            end: offsets[3],
            skipped: 1
        }
    );
}

#[test]
fn recover_cuts_a_zero_tail_and_refuses_other_garbage() {
    let (bytes, _) = batch(&[b"abc".to_vec()], FrameLimits::new(1, 100));
    let limits = FrameLimits::new(1, 100);
    let mut zeros = bytes.clone();
    zeros.extend_from_slice(&[0; 100]);
    let r = recover(&zeros[..], 0, zeros.len() as u64, limits, |_, _| {
        Visit::Next
    });
    assert_eq!(
        r.expect("zero tail"),
        Recovered {
            end: bytes.len() as u64,
            skipped: 0
        }
    );
    let mut garbage = bytes.clone();
    garbage.extend_from_slice(&[0xff; 8]);
    garbage.extend_from_slice(b"more data follows");
    let r = recover(&garbage[..], 0, garbage.len() as u64, limits, |_, _| {
        Visit::Next
    });
    assert!(matches!(
        r,
        Err(RecoverError::Corrupt {
            offset: 11,
            damage: Damage::BadLength(u32::MAX)
        })
    ));
}

#[test]
fn read_frame_returns_one_checked_body() {
    let limits = FrameLimits::new(1, 64);
    let (bytes, offsets) = batch(&[b"first".to_vec(), b"second".to_vec()], limits);
    let end = bytes.len() as u64;
    let read = |bytes: &[u8], at, end| read_frame(bytes, at, end, limits).expect("slice");
    assert_eq!(read(&bytes, offsets[1], end), Ok(b"second".to_vec()));
    assert_eq!(read(&bytes, offsets[1], end - 1), Err(Damage::Torn));
    assert_eq!(read(&bytes, end - 3, end), Err(Damage::Torn));
    let mut flipped = bytes.clone();
    flipped[offsets[0] as usize + 8] ^= 1;
    assert_eq!(
        read(&flipped, 0, end),
        Err(Damage::BadChecksum { frame_len: 13 })
    );
    assert_eq!(read(&bytes, 2, end).map_err(|d| d.frame_len()), Err(None));
}

#[test]
fn a_failed_append_is_cut_back_and_a_failed_cut_is_reported() {
    let cut_to = std::cell::Cell::new(None);
    append_or_cut(7, || Ok(()), |_| panic!("no cut after a good write")).expect("ok");
    let e = append_or_cut(
        7,
        || Err(io::Error::other("disk full")),
        |at| {
            cut_to.set(Some(at));
            Ok(())
        },
    )
    .expect_err("failed");
    assert_eq!(cut_to.get(), Some(7));
    assert!(e.cut_error.is_none());
    let e = append_or_cut(
        7,
        || Err(io::Error::other("disk full")),
        |_| Err(io::Error::other("read-only")),
    )
    .expect_err("failed");
    assert!(e.to_string().contains("read-only"), "{e}");
}

#[cfg(unix)]
#[test]
fn files_are_read_like_slices() {
    use std::io::Write as _;
    let mut f = tempfile::tempfile().expect("tempfile");
    let bodies: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 300]).collect();
    let (bytes, _) = batch(&bodies, ANY);
    f.write_all(&bytes).expect("write");
    let mut n = 0;
    let end = walk(&f, 0, bytes.len() as u64, ANY, |b, _| {
        assert_eq!(b, &bodies[n][..]);
        n += 1;
        Visit::Next
    })
    .expect("walk");
    assert_eq!((n, end.damage), (100, None));
}

proptest! {
    /// Random frames, cut at every byte: exactly the complete prefix comes back, whatever the
    /// read chunk, and a flipped byte is never served: the walk stops at the frame holding it.
    #[test]
    fn random_frames_cut_anywhere_recover_exactly_the_complete_prefix(
        bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..12),
        chunk in 1usize..64,
        flip_seed in any::<u64>(),
    ) {
        let (bytes, _) = batch(&bodies, ANY);
        let bounds = boundaries(&bodies);
        for cut in 0..=bytes.len() {
            let whole = bounds.iter().filter(|b| **b <= cut as u64).count() - 1;
            let (seen, end) = walked(&bytes[..cut], ANY, chunk);
            prop_assert_eq!(&seen[..], &bodies[..whole]);
            prop_assert_eq!(end.end, bounds[whole]);
            let torn = bounds[whole] != cut as u64;
            prop_assert_eq!(end.damage, torn.then_some(Damage::Torn));
            let r = recover(&bytes[..cut], 0, cut as u64, ANY, |_, _| Visit::Next);
            prop_assert_eq!(r.ok(), Some(Recovered { end: bounds[whole], skipped: 0 }));
        }
        if !bytes.is_empty() {
            let at = (flip_seed % bytes.len() as u64) as usize;
            let mut flipped = bytes.clone();
            flipped[at] ^= 1 << (flip_seed % 8);
            let hit = bounds.iter().filter(|b| **b <= at as u64).count() - 1;
            let (seen, end) = walked(&flipped, ANY, chunk);
            prop_assert_eq!(&seen[..], &bodies[..hit]);
            prop_assert_eq!(end.end, bounds[hit]);
            prop_assert!(end.damage.is_some());
        }
    }
}
