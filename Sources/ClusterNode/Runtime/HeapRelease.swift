#if canImport(Glibc)
import CHeap
#endif

/// Gives the C heap's free pages back to the system after a node's large, short-lived work (a
/// worker's snapshot compared and a container packed, an apply), so that a daemon at rest does
/// not keep the peak of its last sync. glibc keeps freed memory in its arenas, one per thread
/// that allocated it; without this a master that has just synced 50,000 files to two workers
/// stays at about its peak for good.
enum HeapRelease {
    /// At most this many malloc arenas (glibc's default is eight per core): fewer arenas, less
    /// memory held apart in each, at no measurable cost with a node's few threads.
    static let maxArenas: Int32 = 4

    /// Blocks of this size or more are mapped on their own and unmapped when freed. glibc's
    /// default starts at 128 KiB and rises, up to 32 MiB, each time a mapped block is freed:
    /// after the first check, a worker's 13 MB metadata and the 50,000-element arrays of its
    /// comparison came from the arenas, where the next allocations fragmented them and the
    /// memory stayed mapped (155 MB of arenas for 40 MB in use, measured). Fixed, the threshold
    /// no longer moves and those blocks go back to the system as soon as they are freed.
    static let mmapThreshold: Int32 = 256 * 1024

    /// Caps the arenas and fixes the mapping threshold; called once, before the node starts its
    /// threads.
    static func limitArenas() {
        #if canImport(Glibc)
        _ = mallopt(M_ARENA_MAX, maxArenas)
        _ = mallopt(M_MMAP_THRESHOLD, mmapThreshold)
        #endif
    }

    /// Returns every arena's free pages (`malloc_trim(0)`). A few milliseconds at most; call it
    /// off the event loops, after the work, not inside it.
    static func trim() {
        #if canImport(Glibc)
        _ = malloc_trim(0)
        #endif
    }
}
