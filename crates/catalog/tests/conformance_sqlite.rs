//! The conformance suite against SQLite, each case on its own temp-file database.
#![allow(clippy::expect_used)] // a test fails by panicking

use onrecord_catalog::SqliteCatalog;
use tempfile::TempDir;

async fn fresh() -> (SqliteCatalog, TempDir) {
    let directory = tempfile::tempdir().expect("temp dir");
    let catalog = SqliteCatalog::open(directory.path().join("catalog.db"))
        .await
        .expect("open SQLite catalog");
    (catalog, directory)
}

onrecord_catalog::conformance_tests!(fresh);
onrecord_catalog::governance_conformance_tests!(fresh);
onrecord_catalog::completeness_conformance_tests!(fresh);
onrecord_catalog::transparency_conformance_tests!(fresh);
onrecord_catalog::retention_conformance_tests!(fresh);

mod in_memory {
    //! The same suite on `:memory:`, which takes a different connection setup.
    use onrecord_catalog::SqliteCatalog;

    async fn fresh() -> (SqliteCatalog, ()) {
        let catalog = SqliteCatalog::open_in_memory()
            .await
            .expect("open in-memory SQLite catalog");
        (catalog, ())
    }

    onrecord_catalog::conformance_tests!(fresh);
    onrecord_catalog::governance_conformance_tests!(fresh);
    onrecord_catalog::completeness_conformance_tests!(fresh);
    onrecord_catalog::transparency_conformance_tests!(fresh);
    onrecord_catalog::retention_conformance_tests!(fresh);
}
