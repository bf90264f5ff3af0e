//! A bounded pool for blocking image work: at most `workers` jobs run at
//! once (each on tokio's blocking threads) and at most `queue` wait; a job
//! beyond that is refused at once so the caller can answer 429. Jobs are
//! also admitted by the pixels they handle (source + output): the pixels in
//! flight never exceed the pool's pixel budget, so memory follows pixels,
//! not the number of jobs. A job larger than the whole budget runs alone.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Why [`Pool::run`] did not return the job's value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Busy {
    /// Every worker busy and the queue full: answer 429 with `Retry-After`.
    #[error("image workers busy")]
    Full,
    /// The job panicked (a decoder bug on a hostile file): answer 500; the
    /// pool itself is unharmed.
    #[error("image job panicked: {0}")]
    Panicked(String),
}

#[derive(Clone)]
pub struct Pool {
    running: Arc<Semaphore>,
    /// One permit per pixel in flight.
    pixels: Arc<Semaphore>,
    pixel_budget: u32,
    admitted: Arc<AtomicUsize>,
    capacity: usize,
}

/// Counts a job from admission until it has finished or was dropped.
struct Admitted(Arc<AtomicUsize>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Pool {
    /// `workers` is clamped to at least 1 (SPEC: one per core);
    /// `pixel_budget` (at least 1) bounds the pixels of the jobs running.
    pub fn new(workers: usize, queue: usize, pixel_budget: u32) -> Pool {
        let workers = workers.max(1);
        let pixel_budget = pixel_budget.max(1);
        Pool {
            running: Arc::new(Semaphore::new(workers)),
            pixels: Arc::new(Semaphore::new(pixel_budget as usize)),
            pixel_budget,
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: workers + queue,
        }
    }

    /// Pixels of the jobs running now.
    pub fn pixels_in_flight(&self) -> u64 {
        u64::from(self.pixel_budget) - self.pixels.available_permits() as u64
    }

    /// Jobs running or waiting now.
    pub fn load(&self) -> usize {
        self.admitted.load(Ordering::Acquire)
    }

    fn admit(&self) -> Option<Admitted> {
        self.admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .ok()
            .map(|_| Admitted(self.admitted.clone()))
    }

    /// Runs `f`, a job handling `pixels` pixels, on a blocking thread once
    /// its pixels fit in the budget (a job over the whole budget waits for
    /// all of it) and a worker is free. The pixels are taken before the
    /// worker, so a waiting large job holds no worker. Pixels and worker
    /// slot move into the blocking job, so a caller that gives up (client
    /// gone) frees its queue place at once but never lets more than
    /// `workers` jobs, or more pixels than the budget, run at the same time.
    pub async fn run<F, T>(&self, pixels: u64, f: F) -> Result<T, Busy>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let admitted = self.admit().ok_or(Busy::Full)?;
        let share = pixels.clamp(1, u64::from(self.pixel_budget)) as u32;
        let pixels = self
            .pixels
            .clone()
            .acquire_many_owned(share)
            .await
            .map_err(|_| Busy::Full)?;
        let permit = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Busy::Full)?;
        let job = tokio::task::spawn_blocking(move || {
            let _slot = (permit, pixels, admitted);
            f()
        });
        job.await.map_err(|e| {
            let msg = match e.try_into_panic() {
                Ok(p) => p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default(),
                Err(e) => e.to_string(),
            };
            Busy::Panicked(msg)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bounded_and_refuses_when_full() {
        let pool = Pool::new(1, 1, 100);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let max_seen = Arc::new(AtomicUsize::new(0));
        let live = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for _ in 0..2 {
            let (pool, rx, live, max_seen) =
                (pool.clone(), rx.clone(), live.clone(), max_seen.clone());
            handles.push(tokio::spawn(async move {
                pool.run(10, move || {
                    let n = live.fetch_add(1, Ordering::SeqCst) + 1;
                    max_seen.fetch_max(n, Ordering::SeqCst);
                    rx.lock().unwrap().recv().unwrap();
                    live.fetch_sub(1, Ordering::SeqCst);
                    7
                })
                .await
            }));
        }
        while pool.load() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(pool.run(1, || 1).await, Err(Busy::Full));
        tx.send(()).unwrap();
        tx.send(()).unwrap();
        for h in handles {
            assert_eq!(h.await.unwrap(), Ok(7));
        }
        assert_eq!(max_seen.load(Ordering::SeqCst), 1);
        assert_eq!(pool.load(), 0);
        assert_eq!(pool.run(1, || 3).await, Ok(3));
    }

    #[tokio::test]
    async fn panic_is_reported_not_propagated() {
        let pool = Pool::new(1, 0, 100);
        let r: Result<(), Busy> = pool.run(1, || panic!("boom")).await;
        assert_eq!(r, Err(Busy::Panicked("boom".into())));
        assert_eq!(pool.run(1, || 5).await, Ok(5));
        assert_eq!(pool.pixels_in_flight(), 0);
    }

    /// Two workers, a budget of 100 pixels: jobs of 60 run one by one, a job
    /// over the budget runs alone, small ones share; all finish.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn admits_by_pixels_in_flight() {
        let pool = Pool::new(2, 8, 100);
        let live = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for px in [60u64, 60, 500, 30, 30, 60] {
            let (pool, live, most) = (pool.clone(), live.clone(), most.clone());
            handles.push(tokio::spawn(async move {
                pool.run(px, move || {
                    let share = px.min(100) as usize;
                    let now = live.fetch_add(share, Ordering::SeqCst) + share;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(30));
                    live.fetch_sub(share, Ordering::SeqCst);
                })
                .await
            }));
        }
        for h in handles {
            assert_eq!(h.await.unwrap(), Ok(()));
        }
        let most = most.load(Ordering::SeqCst);
        assert!(most <= 100, "{most} pixels ran at once");
        assert_eq!(pool.pixels_in_flight(), 0);
    }
}
