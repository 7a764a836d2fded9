//! neural-style-studio: Gatys et al. neural style transfer on candle.
//!
//! Layers point one way: [`model`] (VGG and its weights) -> [`transfer`] (losses, optimisers,
//! the render's spec and its driver, the [`transfer::Job`]) -> [`worker`] (the background
//! thread) -> `app` (the egui window, behind the default `app` feature). Below the worker
//! nothing spawns threads; below the app nothing knows egui.

pub mod error;
pub mod examples;
pub mod farm;
pub mod grid;
pub mod imageio;
pub mod model;
pub mod notice;
pub mod selfcheck;
pub mod transfer;
pub mod video;
pub mod worker;

#[cfg(feature = "app")]
pub mod app;

pub use error::{Error, Result};

/// Makes the system allocator keep and reuse the large buffers every iteration frees (glibc on
/// Linux; elsewhere a no-op). By default glibc maps buffers over 128 KiB fresh from the kernel
/// and returns them on free, paying a page fault per 4 KiB on every iteration, and moves that
/// threshold as it goes, so resident memory drifts between levels over a long run. With a fixed
/// 32 MiB threshold and a high trim threshold, RSS settles at the run's peak and stays there.
/// Call once at start-up, before other threads exist.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator parameters; it is called before any other thread
    // allocates.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}
