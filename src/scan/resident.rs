//! Whether a folder's files are in memory already (the kernel's page cache): reading their
//! headers then waits for no disk, and reader threads beyond the cores only cost their start.

use std::path::Path;

/// Files probed, spread evenly over a listing.
const PROBES: usize = 8;

/// Whether the first page of each of up to [`PROBES`] files spread evenly over `count` files
/// (`path_of(i)` is the i-th) is in the page cache. Each probe is a one-byte read that may not
/// wait for the disk (Linux's `RWF_NOWAIT`): it reads nothing from a disk and costs a few
/// microseconds. `false` when a probe cannot tell (a file system without `RWF_NOWAIT`, another
/// system, a file that cannot be opened).
pub fn in_page_cache<'a>(count: usize, path_of: impl Fn(usize) -> &'a Path) -> bool {
    let probes = count.min(PROBES);
    probes > 0 && (0..probes).all(|k| first_page_cached(path_of(k * count / probes)))
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn first_page_cached(path: &Path) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut byte = [0u8; 1];
    let buffer = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: byte.len(),
    };
    // SAFETY: one iovec describing `byte`, which outlives the call, on a descriptor `file`
    // keeps open; the kernel writes at most one byte into it.
    let read = unsafe { libc::preadv2(file.as_raw_fd(), &buffer, 1, 0, libc::RWF_NOWAIT) };
    // 0: an empty file, nothing to wait for; -1: EAGAIN (on disk) or EOPNOTSUPP (cannot tell).
    read >= 0
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn first_page_cached(_path: &Path) -> bool {
    false
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    /// Whether the kernel holds the first page of `file` in memory, by `mincore` over a mapping
    /// of it: an oracle independent of the read probe.
    fn resident(file: &std::fs::File) -> bool {
        let page = 4096;
        // SAFETY: a fresh read-only mapping of the file's first page, unmapped below; `vec`
        // holds the one entry mincore writes for it.
        unsafe {
            let map = libc::mmap(
                std::ptr::null_mut(),
                page,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            );
            assert_ne!(map, libc::MAP_FAILED);
            let mut vec = [0u8; 1];
            assert_eq!(libc::mincore(map, page, vec.as_mut_ptr()), 0);
            libc::munmap(map, page);
            vec[0] & 1 == 1
        }
    }

    #[test]
    fn written_files_are_cached_and_evicted_ones_are_not() {
        // On tmpfs files are always in memory: the eviction below is then checked not to
        // have happened, and skipped.
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<_> = (0..20)
            .map(|i| dir.path().join(format!("{i}.dcm")))
            .collect();
        for path in &paths {
            std::fs::File::create(path)
                .unwrap()
                .write_all(&[7u8; 8192])
                .unwrap();
        }
        assert!(!in_page_cache(0, |i| &paths[i]));
        if !first_page_cached(&paths[0]) {
            // A file system that cannot answer a read that may not wait: the files are in
            // memory (mincore says), and the answer is the cautious one.
            assert!(resident(&std::fs::File::open(&paths[0]).unwrap()));
            assert!(!in_page_cache(paths.len(), |i| &paths[i]));
            return;
        }
        assert!(in_page_cache(paths.len(), |i| &paths[i]));

        // Evict one probed file's pages: the probe must then say the folder is not cached,
        // wherever the file system lets clean pages go (checked with mincore). A probe that
        // misses may start the kernel reading the page, so each check evicts it first.
        let evicted = std::fs::File::open(&paths[10]).unwrap();
        evicted.sync_all().unwrap();
        let evict = || {
            // SAFETY: advice on a descriptor `evicted` keeps open.
            unsafe { libc::posix_fadvise(evicted.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
            !resident(&evicted)
        };
        if evict() {
            assert!(!in_page_cache(paths.len(), |i| &paths[i]));
            evict();
            assert!(in_page_cache(5, |i| &paths[i]));
        }
        assert!(!first_page_cached(&dir.path().join("absent.dcm")));
    }
}
