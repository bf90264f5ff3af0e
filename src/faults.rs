//! Fault-injection points, for tests that cut a request at an exact moment
//! (e.g. a client that goes away between a commit and its cleanup). A point
//! costs one atomic load until a test arms it; an armed point pauses the code
//! that reaches it, for one account only, until the test releases it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use tokio::sync::Notify;

static ARMED: AtomicBool = AtomicBool::new(false);
/// Armed points: (point, account) → its pause.
type Pauses = HashMap<(&'static str, String), Arc<Pause>>;
static PAUSES: LazyLock<Mutex<Pauses>> = LazyLock::new(Default::default);

/// An armed point: [`Pause::reached`] waits until code arrives there, and
/// [`Pause::release`] lets it go on.
#[derive(Default)]
pub struct Pause {
    reached: Notify,
    released: Notify,
}

impl Pause {
    /// Arms point `name` for work of `account`.
    pub fn arm(name: &'static str, account: &str) -> Arc<Pause> {
        let pause = Arc::new(Pause::default());
        lock().insert((name, account.to_string()), pause.clone());
        ARMED.store(true, Ordering::SeqCst);
        pause
    }

    /// Waits until the code reaches the point.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets the paused code go on (and disarms the point).
    pub fn release(&self, name: &'static str, account: &str) {
        lock().remove(&(name, account.to_string()));
        self.released.notify_one();
    }
}

fn lock() -> std::sync::MutexGuard<'static, Pauses> {
    PAUSES.lock().unwrap_or_else(|e| e.into_inner())
}

/// A point in the code: pauses here if a test armed `name` for `account`.
pub async fn point(name: &'static str, account: &str) {
    if !ARMED.load(Ordering::Relaxed) {
        return;
    }
    let pause = lock().get(&(name, account.to_string())).cloned();
    if let Some(p) = pause {
        p.reached.notify_one();
        p.released.notified().await;
    }
}

/// Between a file's commit and the hand-over of its blob to the row.
pub const AFTER_COMMIT: &str = "ingest.after_commit";
