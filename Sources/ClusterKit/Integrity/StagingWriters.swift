#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Creates and writes staged files on worker threads behind the container reader, which only
/// inflates: for the small files of an apply, creating and writing each file costs far more than
/// inflating it, and it runs on every core this way.
///
/// The reader hands over batches of whole, verified entries of one destination directory, so
/// that one staging directory is written by one thread at a time (creating a file locks its
/// directory). Bounded: the reader waits while `maxBufferedBytes` of entries or `maxBatches`
/// batches are waiting, so memory stays flat whatever the number of files.
final class StagingWriters: @unchecked Sendable {
    struct Limits: Sendable {
        var maxBatches = 64
        var maxBufferedBytes = 8 << 20
    }

    /// Entries of one staging directory, their bytes back to back.
    struct Batch {
        /// The staging directory (made by the first batch that needs it).
        var directory: String
        /// Each entry's path (for messages), file name in `directory`, and end in `bytes`.
        var paths: [String] = []
        var names: [String] = []
        var ends: [Int] = []
        var bytes: [UInt8] = []

        var count: Int { names.count }

        mutating func append(path: String, name: String, _ data: [UInt8]) {
            paths.append(path)
            names.append(name)
            bytes.append(contentsOf: data)
            ends.append(bytes.count)
        }
    }

    private let syncEachFile: Bool
    private let limits: Limits
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var queue: [Batch] = []
    private var head = 0
    private var buffered = 0
    private var busy = 0
    private var stopped = false
    private var running = 0
    private var failure: ClusterError?

    init(threads: Int, syncEachFile: Bool, limits: Limits = Limits()) {
        self.syncEachFile = syncEachFile
        self.limits = limits
        running = threads
        for _ in 0..<threads {
            let thread = Thread { [self] in work() }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    deinit { stop() }

    /// Queues a batch, first waiting for room; throws the first failure of any writer.
    func submit(_ batch: Batch) throws {
        condition.lock()
        defer { condition.unlock() }
        while failure == nil && !stopped && queue.count - head > 0
                && (queue.count - head >= limits.maxBatches || buffered + batch.bytes.count > limits.maxBufferedBytes) {
            condition.wait()
        }
        if let failure { throw failure }
        guard !stopped else { throw ClusterError.internalError("the staging writers were stopped") }
        buffered += batch.bytes.count
        queue.append(batch)
        condition.broadcast()
    }

    /// Waits until every batch queued is written; throws the first failure of any writer.
    func finish() throws {
        condition.lock()
        defer { condition.unlock() }
        while failure == nil && (queue.count - head > 0 || busy > 0) { condition.wait() }
        if let failure { throw failure }
    }

    /// Stops the writers and waits for them; what is still queued is dropped.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        queue = []
        head = 0
        buffered = 0
        condition.unlock()
    }

    private func work() {
        defer {
            condition.lock()
            running -= 1
            condition.broadcast()
            condition.unlock()
        }
        while let batch = next() {
            let result = Result { try write(batch) }
            condition.lock()
            busy -= 1
            buffered -= batch.bytes.count
            if case .failure(let error) = result, failure == nil {
                failure = error as? ClusterError ?? ClusterError.io("\(error)")
            }
            condition.broadcast()
            condition.unlock()
        }
    }

    /// The next batch to write; nil once stopped or failed.
    private func next() -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        while !stopped && failure == nil && head == queue.count { condition.wait() }
        guard !stopped && failure == nil else { return nil }
        let batch = queue[head]
        queue[head] = Batch(directory: "")
        head += 1
        if head >= 64 && head * 2 >= queue.count {
            queue.removeFirst(head)
            head = 0
        }
        busy += 1
        // The reader may be waiting for room.
        condition.broadcast()
        return batch
    }

    private func write(_ batch: Batch) throws {
        let dir = try StagingArea.openDirectory(batch.directory)
        defer { close(dir) }
        try batch.bytes.withUnsafeBytes { all in
            var start = 0
            for i in 0..<batch.count {
                try StagingArea.writeFile(batch.names[i], in: dir, UnsafeRawBufferPointer(rebasing: all[start..<batch.ends[i]]),
                                          sync: syncEachFile, path: batch.paths[i])
                start = batch.ends[i]
            }
        }
    }
}
