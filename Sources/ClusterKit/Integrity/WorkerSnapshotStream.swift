/// `WorkerSnapshotCheck` fed with the worker's metadata as it is inflated from its container, so
/// that the master never holds the document whole (13 MB of JSON for 50,000 files, per worker
/// being checked): it keeps only the records not yet read, a few hundred KiB.
///
/// A light pass over the incoming bytes (strings and nesting only) finds where the records end;
/// each whole record is then read by the same strict reader as `WorkerSnapshotCheck.run(master:
/// workerJSON:...)`, over exactly its bytes. Anything short of a valid snapshot (bad JSON, a bad
/// record, a duplicate, a document that ends early) stops the stream with `NeedsWholeDocument`,
/// and `run(master:containerPath:...)` then checks the document read whole, which refuses it in
/// the same words as before. What is accepted is accepted by both, with the same result.
final class WorkerSnapshotStream {
    /// The stream cannot decide; the whole document must be read.
    struct NeedsWholeDocument: Error {}

    private enum Phase {
        /// Before the object's `{`.
        case start
        /// Inside the object, records to read.
        case records
        /// After the object's `}`: only white space may follow.
        case end
    }

    private var classifier: WorkerSnapshotCheck.Classifier
    private var buffer = [UInt8]()
    /// Where the next record (or separator) starts in `buffer`.
    private var position = 0
    private var phase = Phase.start
    // The light pass: how far it has looked, its state there, and the last separator it found
    // at the object's own level (a `,` or its closing `}`): every record before it is whole.
    private var scanned = 0
    private var inString = false
    private var escaped = false
    private var depth = 0
    private var lastSeparator = -1

    init(master: Snapshot, rules: FileRules, source: String) {
        classifier = WorkerSnapshotCheck.Classifier(master: master, rules: rules, source: source)
    }

    func feed(_ bytes: UnsafeRawBufferPointer) throws {
        buffer.append(contentsOf: bytes)
        try scan()
        try readWholeRecords()
        // Drop what has been read, once there is enough of it to be worth moving the rest.
        if position >= 256 * 1024 {
            buffer.removeSubrange(0..<position)
            scanned -= position
            lastSeparator -= position
            position = 0
        }
    }

    /// The end of the document: the check, and the first worker path under no rule.
    func finish() throws -> (WorkerSnapshotCheck, ClusterError?) {
        guard case .end = phase else { throw NeedsWholeDocument() }
        for b in buffer[position...] where !Self.isSpace(b) { throw NeedsWholeDocument() }
        guard classifier.firstProblem == nil else { throw NeedsWholeDocument() }
        let (check, noRule, _) = classifier.result()
        return (check, noRule)
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    /// The light pass over the bytes not yet looked at.
    private func scan() throws {
        var i = scanned
        let n = buffer.count
        if case .start = phase {
            while i < n && Self.isSpace(buffer[i]) { i += 1 }
            guard i < n else { scanned = i; return }
            guard buffer[i] == UInt8(ascii: "{") else { throw NeedsWholeDocument() }
            i += 1
            position = i
            phase = .records
        }
        guard case .records = phase else { scanned = n; return }
        buffer.withUnsafeBufferPointer { b in
            while i < n {
                let c = b[i]
                if inString {
                    if escaped { escaped = false } else if c == UInt8(ascii: "\\") { escaped = true } else if c == UInt8(ascii: "\"") { inString = false }
                } else {
                    switch c {
                    case UInt8(ascii: "\""): inString = true
                    case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        if depth == 0 {
                            lastSeparator = i
                            i += 1
                            scanned = i
                            return
                        }
                        depth -= 1
                    case UInt8(ascii: ","):
                        if depth == 0 { lastSeparator = i }
                    default: break
                    }
                }
                i += 1
            }
            scanned = i
        }
    }

    /// Reads every record that ends before the last separator found.
    private func readWholeRecords() throws {
        guard case .records = phase, lastSeparator >= position else { return }
        let end = lastSeparator + 1
        try buffer.withUnsafeBytes { raw in
            var s = JSONScanner(UnsafeRawBufferPointer(rebasing: raw[position..<end]))
            // Inside the document's object, as the whole-document reader is.
            s.depth = 1
            do {
                var more = true
                if atObjectStart {
                    atObjectStart = false
                    if try s.take(UInt8(ascii: "}")) {
                        phase = .end
                        more = false
                    }
                }
                while more && s.i < s.bytes.count {
                    try classifier.read(&s)
                    more = try separator(&s)
                }
            } catch {
                throw NeedsWholeDocument()
            }
            position += s.i
        }
        guard position == end else { throw NeedsWholeDocument() }
    }

    /// No record read yet: the object may be empty.
    private var atObjectStart = true

    /// After a record: a `,` (more records) or the object's `}` (then false).
    private func separator(_ s: inout JSONScanner) throws -> Bool {
        if try s.take(UInt8(ascii: ",")) { return true }
        try s.expect(UInt8(ascii: "}"))
        phase = .end
        return false
    }
}

extension WorkerSnapshotCheck {
    /// The check of the worker's container at `containerPath` (its entries verified and
    /// discarded, as `ContainerReader.readMetadata` does), its metadata classified as it is
    /// inflated. The same result and the same refusals as `run(master:workerJSON:...)` of the
    /// metadata read whole.
    public static func run(master: Snapshot, containerPath: String, rules: FileRules,
                           source: String = "snapshot", limits: ContainerLimits = ContainerLimits()) throws -> WorkerSnapshotCheck {
        let stream = WorkerSnapshotStream(master: master, rules: rules, source: source)
        let streamed: (WorkerSnapshotCheck, ClusterError?)
        do {
            try ContainerReader.readMetadata(path: containerPath, limits: limits) { try stream.feed($0) }
            streamed = try stream.finish()
        } catch is WorkerSnapshotStream.NeedsWholeDocument {
            return try run(master: master, workerJSON: try ContainerReader.readMetadata(path: containerPath, limits: limits),
                           rules: rules, source: source)
        }
        if let noRule = streamed.1 { throw noRule }
        return streamed.0
    }
}
