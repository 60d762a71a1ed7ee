//! The conformance suite against the in-memory twin.
#![allow(clippy::expect_used)] // a test fails by panicking

use onrecord_catalog::MemoryCatalog;

async fn fresh() -> (MemoryCatalog, ()) {
    (MemoryCatalog::new(), ())
}

onrecord_catalog::conformance_tests!(fresh);
onrecord_catalog::governance_conformance_tests!(fresh);
onrecord_catalog::completeness_conformance_tests!(fresh);
onrecord_catalog::transparency_conformance_tests!(fresh);
onrecord_catalog::retention_conformance_tests!(fresh);
