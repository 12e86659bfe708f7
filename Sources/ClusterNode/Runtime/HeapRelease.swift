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

    /// Caps the arenas; called once, before the node starts its threads.
    static func limitArenas() {
        #if canImport(Glibc)
        _ = mallopt(M_ARENA_MAX, maxArenas)
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
