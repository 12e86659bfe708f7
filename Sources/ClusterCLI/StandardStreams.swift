import ClusterKit
import Foundation

/// Unbuffered-by-default POSIX access to the standard streams, with an output buffer that is
/// flushed per JSON line so that pipes see each record as soon as it is complete.
public enum StandardStreams {
    public static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }
    public static var stdinIsTerminal: Bool { isatty(STDIN_FILENO) == 1 }

    /// Refuses to wait silently on a terminal: a command that reads its input from stdin says what
    /// it expects (exit 64) instead of hanging until someone types ^D.
    public static func requireInput(_ expected: String, hint: String = "pipe it in or redirect a file") throws {
        guard stdinIsTerminal else { return }
        throw ClusterError.usage("expects \(expected) on standard input; \(hint)")
    }

    nonisolated(unsafe) private static var outBuffer: [UInt8] = []

    /// Reads all of stdin. `limit` bounds what will be held in memory.
    public static func readAll(limit: Int = Int.max) throws -> [UInt8] {
        try FileIO.readAll(fd: STDIN_FILENO, limit: limit, name: "standard input")
    }

    /// Reads stdin in chunks as they arrive; `body` sees each chunk.
    public static func readChunks(size: Int = 1 << 20, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var buf = [UInt8](repeating: 0, count: size)
        while true {
            let n = buf.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ClusterError.io("cannot read standard input: \(errnoDescription(errno))")
            }
            if n == 0 { return }
            try buf.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    /// Reads exactly up to `count` bytes (fewer only at end of input).
    public static func readUpTo(_ count: Int) throws -> [UInt8] {
        try FileIO.read(STDIN_FILENO, upTo: count, name: "standard input")
    }

    /// Reads stdin line by line (lines without their newline). A final line without a newline
    /// is delivered too.
    /// A line longer than `maxLineBytes` is refused (exit 65) as soon as that many bytes of it
    /// have arrived; `what` names the option that raises the limit, for the message.
    public static func readLines(maxLineBytes: Int = 64 << 20, what: String? = nil,
                                 _ body: (ArraySlice<UInt8>, Int) throws -> Void) throws {
        var pending = [UInt8]()
        var lineNo = 0
        func checkLength() throws {
            guard pending.count <= maxLineBytes else {
                throw ClusterError.badData("line \(lineNo + 1) of standard input is longer than \(maxLineBytes) bytes"
                                           + (what.map { " (raise \($0) to accept it)" } ?? ""))
            }
        }
        try readChunks { chunk in
            var start = 0
            for i in 0..<chunk.count where chunk[i] == 0x0A {
                pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[start..<i]))
                try checkLength()
                lineNo += 1
                try body(pending[...], lineNo)
                pending.removeAll(keepingCapacity: true)
                start = i + 1
            }
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[start...]))
            try checkLength()
        }
        if !pending.isEmpty {
            lineNo += 1
            try body(pending[...], lineNo)
        }
    }

    /// Buffers bytes for stdout; they are written by `flushOutput` or when the buffer grows large.
    /// A large piece is written straight through after what is buffered, never copied.
    public static func write(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count >= 1 << 20 {
            flushOutput()
            do { try FileIO.writeFully(STDOUT_FILENO, bytes) } catch { outputFailed(error) }
            return
        }
        outBuffer.append(contentsOf: bytes)
        if outBuffer.count >= 1 << 20 { flushOutput() }
    }

    public static func write(_ bytes: [UInt8]) { bytes.withUnsafeBytes { write($0) } }
    public static func write(_ text: String) { write(Array(text.utf8)) }

    /// Writes one JSON value as a line and flushes, so a reader downstream sees it at once.
    public static func writeJSONLine(_ value: JSON) {
        var b = JSONWriter.compact.bytes(value)
        b.append(0x0A)
        write(b)
        flushOutput()
    }

    /// Writes one JSON document for people and scripts alike: pretty on a terminal, one line
    /// otherwise.
    public static func writeJSONDocument(_ value: JSON) {
        let writer = isatty(STDOUT_FILENO) == 1 ? JSONWriter.pretty : JSONWriter.compact
        var b = writer.bytes(value)
        b.append(0x0A)
        write(b)
        flushOutput()
    }

    public static func flushOutput() {
        guard !outBuffer.isEmpty else { return }
        do {
            try writeFully(STDOUT_FILENO, outBuffer)
        } catch {
            outputFailed(error)
        }
        outBuffer.removeAll(keepingCapacity: true)
    }

    /// stdout is gone (a closed pipe): nothing more can be delivered.
    private static func outputFailed(_ error: Error) -> Never {
        outBuffer.removeAll()
        ErrorReporter.write(ClusterError.io("cannot write standard output: \(error)"), tool: CommandLine.arguments.first.map { ($0 as NSString).lastPathComponent } ?? "tool")
        exit(ExitStatus.ioError.rawValue)
    }

    public static func writeError(_ text: String) {
        _ = try? writeFully(STDERR_FILENO, Array(text.utf8))
    }

    static func writeFully(_ fd: Int32, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try FileIO.writeFully(fd, $0) }
    }
}
