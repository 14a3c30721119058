//! The `jrule` command.

use std::alloc::{GlobalAlloc, Layout};

use mimalloc::MiMalloc;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};

use clap::Parser;

fn main() -> ExitCode {
    let cli = jrule::cli::Cli::parse();
    cli.install_logging();
    // Counting costs a shared atomic per allocation: only when measuring.
    COUNTING.store(cli.measures_heap(), Relaxed);
    ExitCode::from(jrule::cli::run(cli, Some(heap)))
}

/// mimalloc (much faster than glibc malloc when engines on several threads
/// allocate and free), counting allocations and live bytes so that
/// `jrule bench` can report allocations per event and bytes per customer.
/// The only unsafe code of the project: `GlobalAlloc` is an unsafe trait,
/// and each method forwards to `System` with the caller's own guarantees.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicI64 = AtomicI64::new(0);

fn heap() -> (u64, i64) {
    (ALLOCATIONS.load(Relaxed), LIVE.load(Relaxed))
}

#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Relaxed) {
            ALLOCATIONS.fetch_add(1, Relaxed);
            LIVE.fetch_add(layout.size() as i64, Relaxed);
        }
        // SAFETY: forwarded unchanged; `layout` is valid per the caller.
        unsafe { MiMalloc.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Relaxed) {
            LIVE.fetch_sub(layout.size() as i64, Relaxed);
        }
        // SAFETY: `ptr` came from `alloc` with this `layout`.
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Relaxed) {
            ALLOCATIONS.fetch_add(1, Relaxed);
            LIVE.fetch_add(new_size as i64 - layout.size() as i64, Relaxed);
        }
        // SAFETY: forwarded unchanged from the caller.
        unsafe { MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;
