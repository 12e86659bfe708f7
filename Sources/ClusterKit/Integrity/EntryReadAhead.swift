import Foundation

/// Reads and deflates the files of a pack on worker threads ahead of the writer, which takes
/// them strictly in order: the container's bytes are those of a pack that reads each file
/// itself, while the deflating runs on every core.
///
/// Bounded: workers stay at most `maxAhead` files ahead of the writer and stop taking new files
/// while `maxBufferedBytes` of compressed streams wait; large files are not read ahead at all
/// (`PreparedEntry.opened`), so memory stays flat whatever the sizes.
final class EntryReadAhead: @unchecked Sendable {
    struct Limits: Sendable {
        var maxAhead = 512
        var maxBufferedBytes = 8 << 20
        /// Files larger than this are streamed by the writer.
        var inlineAbove = 1 << 20
    }

    /// The path of entry i (nil: skipped), and how many entries there are.
    private let path: @Sendable (Int) -> String?
    private let count: Int
    private let maxSize: Int
    private let level: Int32
    private let limits: Limits
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var slots: [Result<PreparedEntry, Error>?]
    private var nextToClaim = 0
    private var nextToTake = 0
    private var buffered = 0
    private var stopped = false
    private var running = 0
    // Who waits, so that a change wakes only someone it concerns (a wake-up per file costs a
    // futex call on each side).
    private var writerWaitsFor: Int?
    private var workersWaiting = 0

    /// `path(i)` is read for entry i, made when it is read (a pack of 50,000 files holds no
    /// absolute path per file); a nil path is skipped (the writer does not ask for it).
    init(count: Int, path: @escaping @Sendable (Int) -> String?, maxSize: Int, level: Int32, threads: Int,
         limits: Limits = Limits()) {
        self.path = path
        self.count = count
        self.maxSize = maxSize
        self.level = level
        self.limits = limits
        slots = Array(repeating: nil, count: count)
        running = threads
        for _ in 0..<threads {
            let thread = Thread { [self] in work() }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// `paths[i]` is read for entry i; a nil path is skipped.
    convenience init(paths: [String?], maxSize: Int, level: Int32, threads: Int, limits: Limits = Limits()) {
        self.init(count: paths.count, path: { paths[$0] }, maxSize: maxSize, level: level, threads: threads, limits: limits)
    }

    deinit { stop() }

    /// The prepared entry `index`, waiting for it if a worker has not finished it yet. Indices
    /// must be taken in increasing order.
    func take(_ index: Int) throws -> PreparedEntry {
        condition.lock()
        defer { condition.unlock() }
        precondition(index >= nextToTake)
        precondition(path(index) != nil)
        // Indices without a path are never prepared; nothing waits in their slots.
        nextToTake = index
        if workersWaiting > 0 { condition.broadcast() }
        while slots[index] == nil {
            writerWaitsFor = index
            condition.wait()
        }
        writerWaitsFor = nil
        let entry = release(index)!
        nextToTake = index + 1
        if workersWaiting > 0 { condition.broadcast() }
        return try entry.get()
    }

    /// Stops the workers (the writer needs no more entries), waits for them, and releases what
    /// they prepared.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        for i in slots.indices { try? slots[i]?.get().discard(); slots[i] = nil }
        buffered = 0
        condition.unlock()
    }

    /// Caller holds the lock.
    private func release(_ index: Int) -> Result<PreparedEntry, Error>? {
        let entry = slots[index]
        slots[index] = nil
        if let held = try? entry?.get() { buffered -= held.bufferedBytes }
        return entry
    }

    private func work() {
        defer {
            condition.lock()
            running -= 1
            condition.broadcast()
            condition.unlock()
        }
        // An error is kept in the entry's slot, so that the writer meets it where reading the
        // file itself would have thrown it.
        let compressor = Result { try EntryCompressor(level: level) }
        var prepared = [(Int, Result<PreparedEntry, Error>)]()
        while let batch = claim() {
            prepared.removeAll(keepingCapacity: true)
            for index in batch {
                guard let path = path(index) else { continue }
                prepared.append((index, Result {
                    try compressor.get().prepare(path, maxSize: maxSize, inlineAbove: limits.inlineAbove)
                }))
            }
            condition.lock()
            for (index, entry) in prepared {
                if stopped {
                    try? entry.get().discard()
                } else {
                    slots[index] = entry
                    buffered += (try? entry.get().bufferedBytes) ?? 0
                }
            }
            if let waited = writerWaitsFor, batch.contains(waited) { condition.broadcast() }
            condition.unlock()
        }
    }

    /// The next indices to prepare (a few at once: each claim and hand-over takes the lock the
    /// writer takes), once the bounds allow it; nil when there are none or the pack stopped.
    private func claim() -> Range<Int>? {
        condition.lock()
        defer { condition.unlock() }
        while !stopped && nextToClaim < count
                && (nextToClaim - nextToTake >= limits.maxAhead || buffered >= limits.maxBufferedBytes) {
            workersWaiting += 1
            condition.wait()
            workersWaiting -= 1
        }
        guard !stopped && nextToClaim < count else { return nil }
        // No more files than could each fill the byte budget's room (a file read ahead is at
        // most `inlineAbove` bytes before deflating): the bound holds to within one file per thread.
        let room = max(1, (limits.maxBufferedBytes - buffered) / max(1, limits.inlineAbove))
        let batch = nextToClaim..<min(nextToClaim + min(16, room), count, nextToTake + limits.maxAhead)
        nextToClaim = batch.upperBound
        return batch
    }
}
