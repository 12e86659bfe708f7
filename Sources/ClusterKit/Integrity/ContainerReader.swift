import CZlib

/// Receives the entries of a container as the reader verifies them.
public protocol ContainerEntryConsumer: AnyObject {
    /// A new entry (never the metadata) begins. `path` has passed `SafePath.validateRelative`.
    func beginEntry(path: String) throws
    /// Decompressed bytes of the current entry.
    func entryData(_ bytes: UnsafeRawBufferPointer) throws
    /// The entry's zlib stream ended cleanly (its checksum verified).
    func endEntry() throws
}

/// What a whole, verified container held.
public struct ContainerContents: Sendable {
    /// Entry paths in container order (the metadata excluded).
    public var entries: [String]
    /// The decompressed `files_metadata.json`.
    public var metadata: [UInt8]
    /// Decompressed bytes of all entries (metadata excluded).
    public var entryBytes: Int
    /// The entry paths as a set (the reader's own, which refused duplicates), with the metadata's name.
    var entrySet: Set<String> = []

    /// Whether the container has an entry for `path`.
    public func contains(entry path: String) -> Bool {
        path != ContainerFormat.metadataName && entrySet.contains(path)
    }
}

/// Reads the reference's container as a stream (sync spec §4.3), more strictly than the
/// reference does:
///
/// * each entry is `path |//@@//| <zlib stream>`; the stream is inflated to its own end, so
///   compressed bytes that happen to contain a separator cannot cut it (the reference splits the
///   whole buffer on the separators, §9.13);
/// * after a stream, `|@@//@@|` must follow, or the end of input after `files_metadata.json`;
/// * a container that ends anywhere else (inside a path, a stream or a separator) is truncated;
///   one without `files_metadata.json` is incomplete; both are errors;
/// * every entry path must pass `SafePath.validateRelative` and appear once;
/// * path length, entry count, total decompressed bytes and metadata size are capped
///   (`ContainerLimits`).
///
/// Nothing is ever held whole in memory except the metadata: entry bytes go to the consumer as
/// they are inflated. Push input with `feed` and call `finish` at the end of input, or use
/// `read(from:)`. All failures are `ClusterError.badData` (exit 65).
public final class ContainerReader {
    private enum State {
        case path
        case stream
        case separator(matched: Int)
        case done
    }

    public let limits: ContainerLimits
    private weak var consumer: ContainerEntryConsumer?
    private let hasConsumer: Bool
    private var state = State.path
    private var pathBuffer = [UInt8]()
    private var currentPath = ""
    private var currentIsMetadata = false
    /// One zlib stream for every entry, reset between them (setting one up costs more than
    /// inflating a small file).
    private var inflater: StreamInflater?
    private var seen = Set<String>()
    private var entries = [String]()
    private var metadata: [UInt8]?
    private var metadataBuffer = [UInt8]()
    private var totalOut = 0
    private var entryBytes = 0
    /// Bytes of input consumed, for messages.
    public private(set) var offset = 0

    /// Receives `files_metadata.json` as it is inflated, instead of it being kept (then
    /// `ContainerContents.metadata` is empty).
    private let metadataSink: ((UnsafeRawBufferPointer) throws -> Void)?
    private var metadataBytes = 0

    /// `consumer` receives the entries; without one they are verified and discarded.
    public init(limits: ContainerLimits = ContainerLimits(), consumer: ContainerEntryConsumer? = nil,
                metadataSink: ((UnsafeRawBufferPointer) throws -> Void)? = nil) {
        self.limits = limits
        self.consumer = consumer
        hasConsumer = consumer != nil
        self.metadataSink = metadataSink
    }

    public func feed(_ input: UnsafeRawBufferPointer) throws {
        var i = 0
        let n = input.count
        while i < n {
            switch state {
            case .done:
                throw ClusterError.badData("container: unexpected data after files_metadata.json at byte \(offset + i)")
            case .path:
                let b = input[i]
                pathBuffer.append(b)
                i += 1
                if pathBuffer.count > limits.maxPathBytes + ContainerFormat.pathSeparator.count {
                    throw ClusterError.badData("container: entry path at byte \(offset + i - pathBuffer.count) is longer than \(limits.maxPathBytes) bytes")
                }
                if b == UInt8(ascii: "|"), pathBuffer.count >= ContainerFormat.pathSeparator.count,
                   pathBuffer.suffix(ContainerFormat.pathSeparator.count).elementsEqual(ContainerFormat.pathSeparator) {
                    pathBuffer.removeLast(ContainerFormat.pathSeparator.count)
                    try beginEntry()
                }
            case .stream:
                let used: Int, ended: Bool
                do {
                    (used, ended) = try inflater!.inflate(UnsafeRawBufferPointer(rebasing: input[i...])) { out in
                        try self.deliver(out)
                    }
                } catch let e as ZlibDataError {
                    throw ClusterError.badData("container: the data of \(SafePath.quoted(currentPath)) is corrupt: \(e.message)")
                }
                i += used
                if ended { try endEntry() }
            case .separator(let matched):
                let sep = ContainerFormat.fileSeparator
                guard input[i] == sep[matched] else {
                    throw ClusterError.badData("container: expected the entry separator after \(SafePath.quoted(currentPath)) at byte \(offset + i)")
                }
                i += 1
                state = matched + 1 == sep.count ? .path : .separator(matched: matched + 1)
            }
        }
        offset += n
    }

    private func beginEntry() throws {
        guard let path = String(validating: pathBuffer, as: UTF8.self) else {
            throw ClusterError.badData("container: an entry path is not valid UTF-8")
        }
        pathBuffer.removeAll(keepingCapacity: true)
        try SafePath.validateRelative(path)
        guard seen.insert(path).inserted else {
            throw ClusterError.badData("container: entry \(SafePath.quoted(path)) appears twice")
        }
        guard seen.count <= limits.maxEntries else {
            throw ClusterError.badData("container: more than \(limits.maxEntries) entries")
        }
        currentPath = path
        currentIsMetadata = path == ContainerFormat.metadataName
        if currentIsMetadata {
            metadataBuffer.removeAll()
            metadataBytes = 0
        } else {
            entries.append(path)
            try consumer?.beginEntry(path: path)
        }
        if let inflater { try inflater.reset() } else { inflater = try StreamInflater() }
        state = .stream
    }

    private func deliver(_ out: UnsafeRawBufferPointer) throws {
        totalOut += out.count
        guard totalOut <= limits.maxTotalBytes else {
            throw ClusterError.badData("container: decompresses to more than \(limits.maxTotalBytes) bytes")
        }
        if currentIsMetadata {
            metadataBytes += out.count
            guard metadataBytes <= limits.maxMetadataBytes else {
                throw ClusterError.badData("container: files_metadata.json decompresses to more than \(limits.maxMetadataBytes) bytes")
            }
            if let metadataSink { try metadataSink(out) } else { metadataBuffer.append(contentsOf: out) }
        } else {
            entryBytes += out.count
            try consumer?.entryData(out)
        }
    }

    private func endEntry() throws {
        if currentIsMetadata {
            metadata = metadataBuffer
            metadataBuffer = []
        } else {
            try consumer?.endEntry()
        }
        state = .separator(matched: 0)
    }

    /// Call at the end of input: checks the container ended where it may and returns what it held.
    public func finish() throws -> ContainerContents {
        switch state {
        case .separator(matched: 0) where currentIsMetadata:
            state = .done
        case .done:
            break
        case .path where pathBuffer.isEmpty && offset == 0:
            throw ClusterError.badData("container: empty input")
        case .path:
            throw ClusterError.badData("container: truncated (it ends \(pathBuffer.isEmpty ? "after an entry separator" : "inside an entry path") at byte \(offset))")
        case .stream:
            throw ClusterError.badData("container: truncated inside the data of \(SafePath.quoted(currentPath))")
        case .separator:
            throw ClusterError.badData("container: truncated after \(SafePath.quoted(currentPath)) (no files_metadata.json at the end)")
        }
        guard let metadata else {
            throw ClusterError.badData("container: no files_metadata.json")
        }
        return ContainerContents(entries: entries, metadata: metadata, entryBytes: entryBytes, entrySet: seen)
    }

    /// Reads a whole container from a source.
    public static func read(from source: ByteSource, limits: ContainerLimits = ContainerLimits(),
                            consumer: ContainerEntryConsumer? = nil,
                            metadataSink: ((UnsafeRawBufferPointer) throws -> Void)? = nil,
                            progress: ((Int) -> Void)? = nil) throws -> ContainerContents {
        let reader = ContainerReader(limits: limits, consumer: consumer, metadataSink: metadataSink)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try source.read(into: buffer)
            if n == 0 { break }
            try reader.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            progress?(reader.offset)
        }
        return try reader.finish()
    }

    /// Reads a container file and returns its metadata, verifying (and discarding) any entries:
    /// what a master does with a worker's integrity container.
    public static func readMetadata(path: String, limits: ContainerLimits = ContainerLimits()) throws -> [UInt8] {
        let fd = try FileIO.openForReading(path)
        defer { close(fd) }
        return try read(from: FileDescriptorSource(fd: fd), limits: limits).metadata
    }

    /// The same, with the metadata handed to `sink` in pieces as it is inflated, never whole.
    public static func readMetadata(path: String, limits: ContainerLimits = ContainerLimits(),
                                    into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let fd = try FileIO.openForReading(path)
        defer { close(fd) }
        try withoutActuallyEscaping(sink) { sink in
            _ = try read(from: FileDescriptorSource(fd: fd), limits: limits, metadataSink: sink)
        }
    }
}

/// One zlib (RFC 1950) stream, inflated until its end; reports how much input it used so the
/// bytes after the stream can be parsed.
final class StreamInflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private let out: UnsafeMutableRawBufferPointer

    init() throws {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let rc = inflateInit_(stream, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else {
            stream.deallocate()
            throw ClusterError.internalError("zlib inflateInit failed (\(rc))")
        }
        out = .allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
        out.deallocate()
    }

    /// Makes the stream ready for a new zlib stream.
    func reset() throws {
        let rc = inflateReset(stream)
        guard rc == Z_OK else { throw ClusterError.internalError("zlib inflateReset failed (\(rc))") }
    }

    /// Inflates from `input`; returns the input bytes used and whether the stream ended.
    func inflate(_ input: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> (Int, Bool) {
        guard input.count > 0 else { return (0, false) }
        let take = min(input.count, Int(UInt32.max >> 1))
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(take)
        while true {
            stream.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(out.count)
            let rc = CZlib.inflate(stream, Z_NO_FLUSH)
            let produced = out.count - Int(stream.pointee.avail_out)
            if produced > 0 { try sink(UnsafeRawBufferPointer(rebasing: out[0..<produced])) }
            let used = take - Int(stream.pointee.avail_in)
            switch rc {
            case Z_STREAM_END:
                return (used, true)
            case Z_OK:
                if stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0 { return (used, false) }
            case Z_BUF_ERROR:
                return (used, false)
            case Z_DATA_ERROR:
                throw ZlibDataError(message: stream.pointee.msg.map { String(cString: $0) } ?? "invalid zlib data")
            case Z_NEED_DICT:
                throw ZlibDataError(message: "the zlib stream needs a preset dictionary")
            case Z_MEM_ERROR:
                throw ClusterError.internalError("zlib is out of memory")
            default:
                throw ZlibDataError(message: "zlib inflate failed (\(rc))")
            }
        }
    }
}

struct ZlibDataError: Error {
    let message: String
}
