//! The Merkle tree of RFC 9162 (Certificate Transparency 2.0) §2.1, sans-IO: the tree hash,
//! inclusion proofs and consistency proofs, each generated and verified.
//!
//! Owns: the hashing rules and the proof algorithms. Never does: store leaves, sign tree
//! heads, read clocks or files. onrecord's transparency log keeps its leaves in the catalog
//! and signs tree heads with the node key; both call into this crate.
//!
//! Leaves are handled as their leaf hashes ([`leaf_hash`]), so a caller can keep the hashes
//! and compute roots and proofs without the leaf bytes. Every verifier here takes its inputs
//! from outside (a proof file) and fails with a [`ProofError`], never a panic.

use sha2::{Digest, Sha256};

/// A SHA-256 output: a leaf hash, a node hash, a root.
pub type Hash = [u8; 32];

/// Longest proof any tree can need: one node per level of a tree of 2^64 leaves.
pub const MAX_PROOF_LENGTH: usize = 64;

/// Why a proof cannot be made or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("the old tree size {old} is larger than the new tree size {new}")]
    SizesOutOfOrder { old: u64, new: u64 },
    #[error("the proof has {0} hashes, more than any tree needs")]
    TooLong(usize),
    #[error("the proof has the wrong number of hashes for these tree sizes")]
    WrongLength,
    #[error("the proof does not lead to the given root hash")]
    RootMismatch,
}

/// `MTH({})`: RFC 9162 §2.1.1, "the hash of an empty list is the hash of an empty string".
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// `MTH({d(0)}) = HASH(0x00 || d(0))` (RFC 9162 §2.1.1): the hash of one leaf's bytes.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(leaf);
    hasher.finalize().into()
}

/// `HASH(0x01 || left || right)` (RFC 9162 §2.1.1): the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// "k is the largest power of two smaller than n (i.e., k < n <= 2k)" (RFC 9162 §2.1.1).
/// Defined for `n >= 2`.
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// `MTH(D[n])` (RFC 9162 §2.1.1) of the leaves given by their leaf hashes:
/// `MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))`.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

fn index(value: u64) -> Result<usize, ProofError> {
    usize::try_from(value).map_err(|_| ProofError::IndexOutOfRange {
        index: value,
        size: u64::MAX,
    })
}

/// The audit path `PATH(m, D[n])` of leaf `m` (RFC 9162 §2.1.3.1), nearest sibling first.
pub fn inclusion_proof(leaf_index: u64, leaves: &[Hash]) -> Result<Vec<Hash>, ProofError> {
    let size = leaves.len() as u64;
    if leaf_index >= size {
        return Err(ProofError::IndexOutOfRange {
            index: leaf_index,
            size,
        });
    }
    let mut path = Vec::new();
    audit_path(index(leaf_index)?, leaves, &mut path);
    Ok(path)
}

fn audit_path(m: usize, leaves: &[Hash], path: &mut Vec<Hash>) {
    let n = leaves.len();
    // PATH(0, {d(0)}) = {}
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        // PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) for m < k
        audit_path(m, &leaves[..k], path);
        path.push(root(&leaves[k..]));
    } else {
        // PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k]) for m >= k
        audit_path(m - k, &leaves[k..], path);
        path.push(root(&leaves[..k]));
    }
}

/// Verifies an inclusion proof exactly as RFC 9162 §2.1.3.2 says.
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf: &Hash,
    inclusion_path: &[Hash],
    root_hash: &Hash,
) -> Result<(), ProofError> {
    if inclusion_path.len() > MAX_PROOF_LENGTH {
        return Err(ProofError::TooLong(inclusion_path.len()));
    }
    // 1. Compare leaf_index from the inclusion_proof against tree_size. If leaf_index is
    //    greater than or equal to tree_size, then fail the proof verification.
    if leaf_index >= tree_size {
        return Err(ProofError::IndexOutOfRange {
            index: leaf_index,
            size: tree_size,
        });
    }
    // 2. Set fn to leaf_index and sn to tree_size - 1.
    let (mut fn_, mut sn) = (leaf_index, tree_size - 1);
    // 3. Set r to hash.
    let mut r = *leaf;
    // 4. For each value p in the inclusion_path array:
    for p in inclusion_path {
        // a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        // b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn_ & 1 == 1 || fn_ == sn {
            // i. Set r to HASH(0x01 || p || r).
            r = node_hash(p, &r);
            // ii. If LSB(fn) is not set, then right-shift both fn and sn equally until
            //     either LSB(fn) is set or fn is 0.
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            // Otherwise: i. Set r to HASH(0x01 || r || p).
            r = node_hash(&r, p);
        }
        // c. Finally, right-shift both fn and sn one time.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. Compare sn to 0. Compare r against the root_hash. If sn is equal to 0 and r and the
    //    root_hash are equal, then the log has proven the inclusion of hash. Otherwise, fail.
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root_hash {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The consistency proof `PROOF(m, D[n])` between the tree of the first `old_size` leaves and
/// the tree of all `leaves` (RFC 9162 §2.1.4.1). For `0 < m < n` it is the RFC's proof; for
/// `m == n` and for `m == 0` it is empty (every tree extends itself and the empty tree), which
/// [`verify_consistency`] accepts on its own terms.
pub fn consistency_proof(old_size: u64, leaves: &[Hash]) -> Result<Vec<Hash>, ProofError> {
    let new_size = leaves.len() as u64;
    if old_size > new_size {
        return Err(ProofError::SizesOutOfOrder {
            old: old_size,
            new: new_size,
        });
    }
    let mut proof = Vec::new();
    if old_size > 0 && old_size < new_size {
        // PROOF(m, D[n]) = SUBPROOF(m, D[n], true)
        subproof(index(old_size)?, leaves, true, &mut proof);
    }
    Ok(proof)
}

fn subproof(m: usize, leaves: &[Hash], b: bool, proof: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        // SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
        if !b {
            proof.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        // If m <= k: SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
        subproof(m, &leaves[..k], b, proof);
        proof.push(root(&leaves[k..]));
    } else {
        // If m > k: SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
        subproof(m - k, &leaves[k..], false, proof);
        proof.push(root(&leaves[..k]));
    }
}

/// Verifies a consistency proof between two tree heads exactly as RFC 9162 §2.1.4.2 says,
/// for `0 < first < second`. Outside the RFC's range: `first == second` holds when the proof
/// is empty and the roots are equal; `first == 0` (the empty tree) holds when the proof is
/// empty and `first_hash` is the empty tree's root.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_hash: &Hash,
    second_hash: &Hash,
    consistency_path: &[Hash],
) -> Result<(), ProofError> {
    if consistency_path.len() > MAX_PROOF_LENGTH {
        return Err(ProofError::TooLong(consistency_path.len()));
    }
    if first > second {
        return Err(ProofError::SizesOutOfOrder {
            old: first,
            new: second,
        });
    }
    if first == 0 || first == second {
        if !consistency_path.is_empty() {
            return Err(ProofError::WrongLength);
        }
        let expected = if first == 0 {
            empty_root()
        } else {
            *second_hash
        };
        return if *first_hash == expected {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    // 1. If consistency_path is an empty array, stop and fail the proof verification.
    if consistency_path.is_empty() {
        return Err(ProofError::WrongLength);
    }
    // 2. If first is an exact power of 2, then prepend first_hash to the consistency_path.
    let mut path = Vec::with_capacity(consistency_path.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_hash);
    }
    path.extend_from_slice(consistency_path);
    // 3. Set fn to first - 1 and sn to second - 1.
    let (mut fn_, mut sn) = (first - 1, second - 1);
    // 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set.
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. Set both fr and sr to the first value in the consistency_path array.
    let (mut fr, mut sr) = (path[0], path[0]);
    // 6. For each subsequent value c in the consistency_path array:
    for c in &path[1..] {
        // a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        // b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn_ & 1 == 1 || fn_ == sn {
            // i. Set fr to HASH(0x01 || c || fr).
            fr = node_hash(c, &fr);
            // ii. Set sr to HASH(0x01 || c || sr).
            sr = node_hash(c, &sr);
            // iii. If LSB(fn) is not set, then right-shift both fn and sn equally until
            //      either LSB(fn) is set or fn is 0.
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            // Otherwise: i. Set sr to HASH(0x01 || sr || c).
            sr = node_hash(&sr, c);
        }
        // c. Finally, right-shift both fn and sn one time.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 7. Verify that the fr calculated is equal to the first_hash supplied, that the sr
    //    calculated is equal to the second_hash supplied, and that sn is 0.
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *first_hash || sr != *second_hash {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
