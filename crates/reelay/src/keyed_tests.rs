use bytes::Bytes;

use super::*;

fn keys() -> ClusterKeys {
    ClusterKeys::new(vec![7; 32], None)
}

fn value(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn a_seal_verifies_its_parts_and_nothing_else() {
    let k = keys();
    let parts: [&[u8]; 3] = [b"bus", b"c.live.src_1", b"body"];
    let seal = k.seal(&parts);
    assert!(k.verify(&parts, &seal));
    assert!(!k.verify(&[b"bus", b"c.live.src_2", b"body"], &seal));
    assert!(!k.verify(&[b"bus", b"c.live.src_1", b"bodx"], &seal));
    // Moving bytes between parts changes the MAC (lengths go in first).
    assert!(!k.verify(&[b"bus", b"c.live.src_1b", b"ody"], &seal));
    assert!(!k.verify(&parts, &seal[..31]));
    let other = ClusterKeys::new(vec![8; 32], None);
    assert!(!other.verify(&parts, &seal));
}

#[test]
fn during_a_rotation_both_keys_verify_and_the_new_one_seals() {
    let old = keys();
    let rotating = ClusterKeys::new(vec![9; 32], Some(vec![7; 32]));
    let parts: [&[u8]; 1] = [b"x"];
    assert!(rotating.verify(&parts, &old.seal(&parts)));
    assert!(rotating.verify(&parts, &rotating.seal(&parts)));
    assert!(!old.verify(&parts, &rotating.seal(&parts)));
    let entry = Bytes::from(seal_entry(&old, b"id", b"v"));
    assert_eq!(
        open_entry(&rotating, b"id", &entry).as_deref(),
        Ok(&b"v"[..])
    );
    let entry = Bytes::from(seal_entry(&rotating, b"id", b"v"));
    assert_eq!(open_entry(&old, b"id", &entry), Err("seal"));
}

#[test]
fn an_entry_opens_as_its_own_identity_whatever_its_length() {
    let k = keys();
    for len in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 5] {
        let v = value(len);
        let entry = Bytes::from(seal_entry(&k, b"cache:chunk:1", &v));
        assert_eq!(entry.len(), head_len(len) + len);
        assert_eq!(
            open_entry(&k, b"cache:chunk:1", &entry).as_deref(),
            Ok(&v[..])
        );
        assert_eq!(
            open_entry(&k, b"cache:chunk:2", &entry),
            Err("seal"),
            "moved"
        );
    }
}

#[test]
fn any_changed_byte_or_length_is_refused() {
    let k = keys();
    let v = value(2 * BLOCK + 100);
    let entry = seal_entry(&k, b"live:src_1/index/5.ts", &v);
    let positions = (0..300)
        .chain((300..entry.len()).step_by(997))
        .chain([entry.len() - 1]);
    for at in positions {
        let mut bad = entry.clone();
        bad[at] ^= 0x01;
        let opened = open_entry(&k, b"live:src_1/index/5.ts", &Bytes::from(bad));
        assert!(opened.is_err(), "a flip at {at} was believed");
    }
    for bad in [&entry[..entry.len() - 1], &entry[..39], &[][..]] {
        assert!(open_entry(&k, b"live:src_1/index/5.ts", &Bytes::copy_from_slice(bad)).is_err());
    }
    let mut long = entry.clone();
    long.push(0);
    assert_eq!(
        open_entry(&k, b"live:src_1/index/5.ts", &Bytes::from(long)),
        Err("length")
    );
    // A forged head claiming a huge value is refused without allocating for it.
    let mut huge = entry.clone();
    huge[32..40].copy_from_slice(&u64::MAX.to_be_bytes());
    assert!(open_entry(&k, b"live:src_1/index/5.ts", &Bytes::from(huge)).is_err());
}

/// Reads `from..to` of `entry` (a value of `len`) as a tier would: head and covering blocks.
fn read_span(
    k: &ClusterKeys,
    id: &[u8],
    entry: &[u8],
    len: usize,
    from: usize,
    to: usize,
) -> Result<Bytes, Unsealed> {
    let plan = SpanPlan::new(len, from, to).expect("a plan");
    let body = Bytes::copy_from_slice(&entry[plan.start..plan.end]);
    open_span(k, id, &plan, (&entry[..plan.head], entry.len(), &body))
}

#[test]
fn a_span_fetches_at_most_a_block_more_each_side_and_serves_exactly_what_was_asked() {
    let k = keys();
    let len = 5 * BLOCK + 123;
    let v = value(len);
    let entry = seal_entry(&k, b"c", &v);
    let edges = [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK, len - 1, len];
    for from in edges {
        for to in edges.into_iter().filter(|&to| to > from) {
            let plan = SpanPlan::new(len, from, to).expect("plan");
            assert!(plan.start <= plan.head + from && plan.head + from < plan.start + BLOCK);
            assert!(plan.end >= plan.head + to && plan.end < plan.head + to + BLOCK);
            let got = read_span(&k, b"c", &entry, len, from, to);
            assert_eq!(got.as_deref(), Ok(&v[from..to]), "{from}..{to}");
        }
    }
    assert_eq!(SpanPlan::new(len, 5, 5), None);
    assert_eq!(SpanPlan::new(len, 0, len + 1), None);
}

#[test]
fn a_span_over_a_changed_block_or_of_another_entry_is_refused() {
    let k = keys();
    let len = 4 * BLOCK;
    let entry = seal_entry(&k, b"c", &value(len));
    let head = head_len(len);
    let mut bad = entry.clone();
    bad[head + 2 * BLOCK + 7] ^= 0x80; // in the third block
    assert_eq!(
        read_span(&k, b"c", &bad, len, 2 * BLOCK + 100, 2 * BLOCK + 200),
        Err("block")
    );
    assert_eq!(
        read_span(&k, b"c", &bad, len, BLOCK, 3 * BLOCK),
        Err("block")
    );
    // A span that does not cover the changed block serves what it verified.
    assert!(read_span(&k, b"c", &bad, len, 0, BLOCK).is_ok());
    assert_eq!(read_span(&k, b"d", &entry, len, 0, 10), Err("seal"));
    // Another value's head with this span, or a wrong total length, is refused.
    let other = seal_entry(&k, b"c", &value(len - 1));
    let plan = SpanPlan::new(len, 0, 10).expect("plan");
    let body = Bytes::copy_from_slice(&entry[plan.start..plan.end]);
    assert!(open_span(&k, b"c", &plan, (&other[..plan.head], other.len(), &body)).is_err());
    assert_eq!(
        open_span(
            &k,
            b"c",
            &plan,
            (&entry[..plan.head], entry.len() + 1, &body)
        ),
        Err("length")
    );
    let short = body.slice(..body.len() - 1);
    assert_eq!(
        open_span(&k, b"c", &plan, (&entry[..plan.head], entry.len(), &short)),
        Err("length")
    );
}
