#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::*;

/// The leaves of the Certificate Transparency reference test vectors (hex).
const REFERENCE_LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// `MTH` of the first 1..=8 reference leaves, computed by hand from RFC 9162 §2.1.1 (an
/// independent script composing SHA-256 over 0x00/0x01 prefixes) and equal to the CT
/// reference implementation's published roots.
const REFERENCE_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn reference_hashes() -> Vec<Hash> {
    REFERENCE_LEAVES
        .iter()
        .map(|leaf| leaf_hash(&hex::decode(leaf).unwrap()))
        .collect()
}

fn leaves(count: usize) -> Vec<Hash> {
    (0..count)
        .map(|index| leaf_hash(format!("leaf {index}").as_bytes()))
        .collect()
}

#[test]
fn empty_tree_root_is_the_hash_of_the_empty_string() {
    assert_eq!(
        hex::encode(root(&[])),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn roots_of_the_reference_trees_match_the_hand_computed_values() {
    let hashes = reference_hashes();
    for (size, expected) in REFERENCE_ROOTS.iter().enumerate() {
        assert_eq!(
            hex::encode(root(&hashes[..=size])),
            *expected,
            "tree of {} leaves",
            size + 1
        );
    }
}

/// The tree of RFC 9162 §2.1.5 (seven leaves d0..d6), its nodes named as in the RFC's figure:
///
/// ```text
///             hash
///            /    \
///           k      l
///          / \    / \
///         g   h  i   j
///        / \ / \ / \  |
///        a b c d e f  d6
/// ```
struct Figure {
    leaves: Vec<Hash>,
    a: Hash,
    b: Hash,
    c: Hash,
    d: Hash,
    e: Hash,
    f: Hash,
    g: Hash,
    h: Hash,
    i: Hash,
    j: Hash,
    k: Hash,
    l: Hash,
}

fn figure() -> Figure {
    let leaves = leaves(7);
    let [a, b, c, d, e, f, j] = [
        leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[5], leaves[6],
    ];
    let (g, h, i) = (node_hash(&a, &b), node_hash(&c, &d), node_hash(&e, &f));
    let (k, l) = (node_hash(&g, &h), node_hash(&i, &j));
    Figure {
        leaves,
        a,
        b,
        c,
        d,
        e,
        f,
        g,
        h,
        i,
        j,
        k,
        l,
    }
}

#[test]
fn the_seven_leaf_tree_of_the_rfc_has_the_hand_composed_root() {
    let t = figure();
    assert_eq!(root(&t.leaves), node_hash(&t.k, &t.l));
    assert_eq!(t.a, t.leaves[0]);
    assert_eq!(t.e, t.leaves[4]);
}

#[test]
fn inclusion_proofs_of_the_rfc_example_are_the_ones_it_lists() {
    // RFC 9162 §2.1.5: d0 → [b, h, l]; d3 → [c, g, l]; d4 → [f, j, k]; d6 → [i, k].
    let t = figure();
    assert_eq!(inclusion_proof(0, &t.leaves).unwrap(), vec![t.b, t.h, t.l]);
    assert_eq!(inclusion_proof(3, &t.leaves).unwrap(), vec![t.c, t.g, t.l]);
    assert_eq!(inclusion_proof(4, &t.leaves).unwrap(), vec![t.f, t.j, t.k]);
    assert_eq!(inclusion_proof(6, &t.leaves).unwrap(), vec![t.i, t.k]);
}

#[test]
fn consistency_proofs_of_the_rfc_example_are_the_ones_it_lists() {
    // RFC 9162 §2.1.5: (3, 7) → [c, d, g, l]; (4, 7) → [l]; (6, 7) → [i, j, k].
    let t = figure();
    assert_eq!(
        consistency_proof(3, &t.leaves).unwrap(),
        vec![t.c, t.d, t.g, t.l]
    );
    assert_eq!(consistency_proof(4, &t.leaves).unwrap(), vec![t.l]);
    assert_eq!(
        consistency_proof(6, &t.leaves).unwrap(),
        vec![t.i, t.j, t.k]
    );
}

fn flip(hash: &Hash, bit: usize) -> Hash {
    let mut flipped = *hash;
    flipped[bit / 8] ^= 1 << (bit % 8);
    flipped
}

/// Bits flipped in every test over all trees: first, last and a middle one of each hash.
const SAMPLE_BITS: [usize; 3] = [0, 131, 255];

#[test]
fn every_inclusion_proof_of_trees_up_to_64_leaves_verifies_and_any_flip_fails() {
    let all = leaves(64);
    for size in 1..=64usize {
        let tree = &all[..size];
        let root_hash = root(tree);
        for index in 0..size {
            let proof = inclusion_proof(index as u64, tree).unwrap();
            let (index, size64) = (index as u64, size as u64);
            let leaf = &tree[index as usize];
            assert_eq!(
                verify_inclusion(index, size64, leaf, &proof, &root_hash),
                Ok(()),
                "leaf {index} of {size}"
            );
            for bit in SAMPLE_BITS {
                assert!(
                    verify_inclusion(index, size64, &flip(leaf, bit), &proof, &root_hash).is_err()
                );
                assert!(
                    verify_inclusion(index, size64, leaf, &proof, &flip(&root_hash, bit)).is_err()
                );
                for position in 0..proof.len() {
                    let mut changed = proof.clone();
                    changed[position] = flip(&changed[position], bit);
                    assert!(
                        verify_inclusion(index, size64, leaf, &changed, &root_hash).is_err(),
                        "flipped bit {bit} of hash {position}, leaf {index} of {size}"
                    );
                }
            }
            // A wrong position or size, or a proof cut short or padded, fails.
            if size > 1 {
                let other = (index + 1) % size64;
                assert!(verify_inclusion(other, size64, leaf, &proof, &root_hash).is_err());
            }
            // (A larger claimed size with the same root can pass §2.1.3.2 — leaf 0 of 3 reads
            // as leaf 0 of 4 — which is why the size is taken only from a signed tree head.)
            if let Some((_, shorter)) = proof.split_last() {
                assert!(verify_inclusion(index, size64, leaf, shorter, &root_hash).is_err());
            }
            let mut longer = proof.clone();
            longer.push(root_hash);
            assert!(verify_inclusion(index, size64, leaf, &longer, &root_hash).is_err());
        }
    }
}

#[test]
fn every_consistency_proof_between_trees_up_to_64_leaves_verifies_and_any_flip_fails() {
    let all = leaves(64);
    let roots: Vec<Hash> = (0..=64).map(|size| root(&all[..size])).collect();
    for new in 1..=64usize {
        for old in 1..=new {
            let proof = consistency_proof(old as u64, &all[..new]).unwrap();
            let (old64, new64) = (old as u64, new as u64);
            assert_eq!(
                verify_consistency(old64, new64, &roots[old], &roots[new], &proof),
                Ok(()),
                "({old}, {new})"
            );
            for bit in SAMPLE_BITS {
                assert!(
                    verify_consistency(old64, new64, &flip(&roots[old], bit), &roots[new], &proof)
                        .is_err()
                );
                assert!(
                    verify_consistency(old64, new64, &roots[old], &flip(&roots[new], bit), &proof)
                        .is_err()
                );
                for position in 0..proof.len() {
                    let mut changed = proof.clone();
                    changed[position] = flip(&changed[position], bit);
                    assert!(
                        verify_consistency(old64, new64, &roots[old], &roots[new], &changed)
                            .is_err(),
                        "flipped bit {bit} of hash {position}, ({old}, {new})"
                    );
                }
            }
            if let Some((_, shorter)) = proof.split_last() {
                assert!(
                    verify_consistency(old64, new64, &roots[old], &roots[new], shorter).is_err()
                );
            }
            // The proof does not prove consistency with a different old tree.
            if old < new && old > 1 {
                assert!(
                    verify_consistency(old64 - 1, new64, &roots[old - 1], &roots[new], &proof)
                        .is_err(),
                    "({}, {new}) accepted the proof of ({old}, {new})",
                    old - 1
                );
            }
        }
    }
}

#[test]
fn a_tree_that_rewrote_an_old_leaf_is_not_consistent_with_the_old_head() {
    let original = leaves(20);
    let mut rewritten = original.clone();
    rewritten[3] = leaf_hash(b"rewritten");
    let old_root = root(&original[..10]);
    let proof = consistency_proof(10, &rewritten).unwrap();
    assert_eq!(
        verify_consistency(10, 20, &old_root, &root(&rewritten), &proof),
        Err(ProofError::RootMismatch)
    );
}

#[test]
fn out_of_range_requests_are_errors_not_panics() {
    let tree = leaves(5);
    assert!(inclusion_proof(5, &tree).is_err());
    assert!(inclusion_proof(0, &[]).is_err());
    assert!(consistency_proof(6, &tree).is_err());
    assert!(verify_inclusion(0, 0, &tree[0], &[], &root(&[])).is_err());
    assert!(verify_consistency(3, 2, &tree[0], &tree[1], &[tree[2]]).is_err());
    assert!(verify_consistency(2, 4, &tree[0], &tree[1], &[]).is_err());
    assert!(verify_inclusion(0, 2, &tree[0], &[tree[1]; 65], &tree[0]).is_err());
    assert!(verify_inclusion(u64::MAX, u64::MAX, &tree[0], &[tree[1]; 64], &tree[0]).is_err());
    // The empty tree is extended by every tree; a tree by itself.
    assert_eq!(
        verify_consistency(0, 5, &root(&[]), &root(&tree), &[]),
        Ok(())
    );
    assert_eq!(
        verify_consistency(5, 5, &root(&tree), &root(&tree), &[]),
        Ok(())
    );
    assert!(verify_consistency(5, 5, &root(&tree), &tree[0], &[]).is_err());
}

proptest! {
    #[test]
    fn random_bit_flips_in_large_trees_break_every_proof(
        size in 65usize..400,
        index_seed in any::<u64>(),
        old_seed in any::<u64>(),
        bit in 0usize..256,
        position_seed in any::<usize>(),
    ) {
        let tree = leaves(size);
        let root_hash = root(&tree);
        let index = index_seed % size as u64;
        let proof = inclusion_proof(index, &tree).unwrap();
        prop_assert_eq!(
            verify_inclusion(index, size as u64, &tree[index as usize], &proof, &root_hash),
            Ok(())
        );
        let mut changed = proof.clone();
        let position = position_seed % changed.len();
        changed[position] = flip(&changed[position], bit);
        prop_assert!(
            verify_inclusion(index, size as u64, &tree[index as usize], &changed, &root_hash)
                .is_err()
        );

        let old = 1 + old_seed % (size as u64 - 1);
        let old_root = root(&tree[..old as usize]);
        let proof = consistency_proof(old, &tree).unwrap();
        prop_assert_eq!(
            verify_consistency(old, size as u64, &old_root, &root_hash, &proof),
            Ok(())
        );
        let mut changed = proof.clone();
        let position = position_seed % changed.len();
        changed[position] = flip(&changed[position], bit);
        prop_assert!(
            verify_consistency(old, size as u64, &old_root, &root_hash, &changed).is_err()
        );
    }
}
