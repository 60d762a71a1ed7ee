//! Group commit for finished live recordings: many calls share one durability barrier per
//! region and one catalog transaction, so syncs per second stay flat as the call rate grows,
//! and a call is durable within `max_delay` (default 200 ms) of its BYE.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use archive::Archive;
use catalog::{Catalog, CommitOutcome, NewRecording};
use model::RegionId;
use tokio::sync::{mpsc, oneshot};

/// Most recordings in one transaction.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<CommitOutcome, String>>;

#[derive(Debug, Clone)]
pub struct Committer {
    submissions: mpsc::Sender<(NewRecording, Reply)>,
}

impl Committer {
    pub fn start(catalog: Arc<dyn Catalog>, archive: Archive, max_delay: Duration) -> Committer {
        let (submissions, receiver) = mpsc::channel(4_096);
        tokio::spawn(run(receiver, catalog, archive, max_delay));
        Committer { submissions }
    }

    /// Commits a recording whose objects are published; returns once it is durable.
    pub async fn commit(&self, recording: NewRecording) -> Result<CommitOutcome, String> {
        let (reply, answer) = oneshot::channel();
        self.submissions
            .send((recording, reply))
            .await
            .map_err(|_| "the committer has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the committer has stopped".to_owned())?
    }
}

async fn run(
    mut receiver: mpsc::Receiver<(NewRecording, Reply)>,
    catalog: Arc<dyn Catalog>,
    archive: Archive,
    max_delay: Duration,
) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::sleep(max_delay);
        tokio::pin!(deadline);
        while batch.len() < MAX_BATCH {
            tokio::select! {
                _ = &mut deadline => break,
                next = receiver.recv() => match next {
                    Some(item) => batch.push(item),
                    None => break,
                },
            }
        }
        let (recordings, replies): (Vec<NewRecording>, Vec<Reply>) = batch.into_iter().unzip();
        let outcome = commit_batch(&recordings, catalog.as_ref(), &archive).await;
        match outcome {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(error) => {
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}

async fn commit_batch(
    recordings: &[NewRecording],
    catalog: &dyn Catalog,
    archive: &Archive,
) -> Result<Vec<CommitOutcome>, String> {
    // Objects first, durable, then the catalog flips (STYLE.md §7).
    let mut regions: BTreeMap<RegionId, ()> = BTreeMap::new();
    for recording in recordings {
        for stream in &recording.streams {
            regions.insert(stream.region.clone(), ());
        }
    }
    for region in regions.keys() {
        let store = archive.region(region).map_err(|e| e.to_string())?;
        store.make_durable().await.map_err(|e| e.to_string())?;
    }
    catalog
        .commit_recordings(recordings)
        .await
        .map_err(|e| e.to_string())
}
