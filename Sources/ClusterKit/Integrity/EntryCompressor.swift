#if canImport(Glibc)
import Glibc
#endif
import CZlib

/// Opens files and deflates them into container entries' zlib streams, with one zlib stream and
/// one read buffer kept for its lifetime: setting up a zlib stream (and zeroing its tables) costs
/// more than deflating a typical small file. One per thread; not thread-safe.
final class EntryCompressor {
    let level: Int32
    private let deflater: Deflater
    private let buffer: UnsafeMutableRawBufferPointer

    init(level: Int32) throws {
        self.level = level
        deflater = try Deflater(level: level)
        buffer = .allocate(byteCount: 256 * 1024, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Opens a file to send, with the checks the reference makes before reading: it must exist,
    /// be a regular file and be no larger than `maxSize`.
    static func open(_ absolutePath: String, maxSize: Int) -> Result<(fd: Int32, size: Int), OutcomeError> {
        let fd = Glibc.open(absolutePath, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else {
            let err = errno
            return .failure(OutcomeError(err == ENOENT || err == ENOTDIR ? .vanished : .unreadable("cannot open: \(errnoDescription(err))")))
        }
        var st = stat()
        var refusal: ContainerWriter.Outcome?
        if fstat(fd, &st) != 0 {
            refusal = .unreadable("cannot stat: \(errnoDescription(errno))")
        } else if (st.st_mode & S_IFMT) != S_IFREG {
            refusal = .unreadable("not a regular file")
        } else if Int(st.st_size) > maxSize {
            refusal = .tooLarge
        }
        if let refusal {
            close(fd)
            return .failure(OutcomeError(refusal))
        }
        return .success((fd, Int(st.st_size)))
    }

    /// Deflates the rest of `fd` into `out` as one zlib stream; returns why a read failed.
    func deflate(fd: Int32, into out: ByteSink) throws -> String? {
        try deflate(fd: fd, limit: nil) { try out.write($0) }
    }

    /// Deflates `bytes` as one zlib stream into `out`.
    func deflate(_ bytes: UnsafeRawBufferPointer, into out: ByteSink) throws {
        try deflater.reset()
        try deflater.update(bytes) { try out.write($0) }
        try deflater.finish { try out.write($0) }
    }

    /// Deflates, as one zlib stream into `out`, what `produce` writes to the sink it is given
    /// (the same bytes as deflating it all at once).
    func deflate(into out: ByteSink, _ produce: (ByteSink) throws -> Void) throws {
        try deflater.reset()
        try produce(DeflatingSink(deflater: deflater, out: out))
        try deflater.finish { try out.write($0) }
    }

    /// Reads and deflates a file ahead of the writer. Files over `inlineAbove` bytes (or that
    /// grow past it while read) are handed over open and rewound, for the writer to stream, so
    /// that what is held in memory stays bounded.
    func prepare(_ absolutePath: String, maxSize: Int, inlineAbove: Int) throws -> PreparedEntry {
        let (fd, size): (Int32, Int)
        switch Self.open(absolutePath, maxSize: maxSize) {
        case .failure(let refusal): return .refused(refusal.outcome)
        case .success(let opened): (fd, size) = opened
        }
        if size > inlineAbove { return .opened(fd: fd, size: size) }
        var stream = [UInt8]()
        stream.reserveCapacity(Int(compressBound(uLong(size))))
        let failure: String?
        do {
            failure = try deflate(fd: fd, limit: inlineAbove) { stream.append(contentsOf: $0) }
        } catch is GrewPastLimit {
            guard lseek(fd, 0, SEEK_SET) == 0 else {
                let why = "cannot rewind: \(errnoDescription(errno))"
                close(fd)
                return .readFailed(why, size: size)
            }
            return .opened(fd: fd, size: size)
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        if let failure { return .readFailed(failure, size: size) }
        return .compressed(stream, size: size)
    }

    private struct GrewPastLimit: Error {}

    private func deflate(fd: Int32, limit: Int?, sink: (UnsafeRawBufferPointer) throws -> Void) throws -> String? {
        try deflater.reset()
        var total = 0
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                return "cannot read: \(errnoDescription(errno))"
            }
            if n == 0 { break }
            total += n
            if let limit, total > limit { throw GrewPastLimit() }
            try deflater.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), sink: sink)
        }
        try deflater.finish(sink: sink)
        return nil
    }
}

/// Deflates what is written to it into another sink (the stream is finished by its owner).
private final class DeflatingSink: ByteSink {
    let deflater: Deflater
    let out: ByteSink
    init(deflater: Deflater, out: ByteSink) { self.deflater = deflater; self.out = out }
    func write(_ bytes: UnsafeRawBufferPointer) throws { try deflater.update(bytes) { try out.write($0) } }
    func flush() throws {}
}

/// A refusal decided when a file is opened, carried as an error so that `Result` can hold it.
struct OutcomeError: Error {
    let outcome: ContainerWriter.Outcome
    init(_ outcome: ContainerWriter.Outcome) { self.outcome = outcome }
}
