import ArgumentParser
import ClusterCLI
import ClusterKit
import Foundation

@main
struct CLChunk: ToolCommand {
    static let configuration = CommandConfiguration(
        commandName: "cl-chunk",
        abstract: "Chunk payloads into JSON Lines, and frame or unframe cluster wire messages.",
        discussion: """
        split/join move any byte stream through text-only channels as verified JSON Lines chunks. \
        frame/unframe produce and read the cluster's wire format: a 20-byte header (counter, \
        length, 12-byte command field) per frame, the payload Fernet-encrypted with the cluster \
        key on TCP, or in clear (no key) as on the local unix socket, and messages over \
        5,242,880 bytes divided exactly as Wazuh 4.9.2 divides them.

        Exit status: 0 ok, 64 usage, 65 bad input (bad chunk, sequence, frame or token), \
        66 key file missing, 74 I/O error.
        """,
        version: ToolVersion.versionLine,
        subcommands: [Split.self, Join.self, Frame.self, Unframe.self])
}

struct Split: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Split stdin into JSON Lines chunks {\"id\",\"seq\",\"last\",\"size\",\"sha256\",\"data\"}.",
        discussion: "Each line is flushed as soon as it is complete. Empty input gives one empty last chunk.")

    /// The largest chunk: its line (22 MiB of base64) is what `join` holds at most by default.
    static let maxSize = 16 << 20

    @Option(help: ArgumentHelp("Bytes of data per chunk, at most 16777216.", valueName: "bytes"))
    var size: Int = 65536

    @Option(help: ArgumentHelp("Stream id written in every chunk (default: random).", valueName: "id"))
    var id: String?

    @OptionGroup var progressOptions: ProgressOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard size > 0 && size <= Split.maxSize else { throw ValidationError("--size must be from 1 to \(Split.maxSize) bytes") }
    }

    func run() throws {
        let streamID = id ?? Hex.encode(SecureRandom.bytes(8))
        var seq = 0
        var pending: [UInt8]? = nil
        let progress = ProgressReporter(label: "split", enabled: progressOptions.showProgress)
        var total = 0
        // One chunk of look-ahead tells whether the current chunk is the last.
        while true {
            let chunk = try StandardStreams.readUpTo(size)
            if let p = pending {
                StandardStreams.writeJSONLine(ChunkRecord(id: streamID, seq: seq, last: chunk.isEmpty, data: p).toJSON())
                seq += 1
                total += p.count
                progress.update(done: total, unit: "B")
            }
            if chunk.isEmpty {
                if pending == nil {
                    StandardStreams.writeJSONLine(ChunkRecord(id: streamID, seq: 0, last: true, data: []).toJSON())
                }
                break
            }
            pending = chunk
        }
        progress.finish()
    }
}

struct Join: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join JSON Lines chunks from stdin back into the original bytes on stdout.",
        discussion: """
        Every chunk's size and sha256 are verified, and the sequence must run from 0 without gaps, \
        repeats or reordering up to exactly one last chunk. Nothing is written to stdout until the \
        whole stream has verified (the data is staged in an unlinked temporary file), so a bad \
        stream leaves no partial output. A missing, swapped or corrupt chunk exits 65.

        Input is read one line at a time, and a line is read as a chunk and nothing else, so memory \
        stays bounded by the longest line allowed (--max-bytes; the default holds the largest \
        chunk split writes) whatever arrives on stdin.
        """)

    @Option(help: ArgumentHelp("Refuse a line longer than this (exit 65).", valueName: "bytes"))
    var maxBytes: Int = ChunkRecord.lineBytes(forDataSize: Split.maxSize)

    @OptionGroup var progressOptions: ProgressOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard maxBytes > 0 else { throw ValidationError("--max-bytes must be positive") }
    }

    func run() throws {
        let staging = try StagingFile()
        var joiner = ChunkJoiner()
        let progress = ProgressReporter(label: "join", enabled: progressOptions.showProgress)
        try StandardStreams.readLines(maxLineBytes: maxBytes, what: "--max-bytes") { line, number in
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
                throw ClusterError.badData("line \(number) is empty; expected a chunk")
            }
            let record = try line.withUnsafeBytes { try ChunkRecord(bytes: $0, line: number) }
            try joiner.accept(record, line: number)
            try staging.append(record.data)
            progress.update(done: joiner.totalBytes, unit: "B")
        }
        try joiner.finish()
        progress.finish()
        try staging.copy(to: STDOUT_FILENO)
    }
}

struct Frame: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Frame the payload on stdin as one cluster message on stdout.",
        discussion: """
        With a key the payload is Fernet-encrypted (as on the cluster's TCP link); without one it \
        is framed in clear (as on the local unix socket). A payload over --request-chunk bytes is \
        divided: its token is cut into slices of --request-chunk minus 20 bytes, flagged 'd' but the \
        last, all under the same counter. --iv and --timestamp exist to reproduce test vectors.
        """)

    @Option(help: ArgumentHelp("Command name, at most 11 bytes (e.g. hello, echo-c, dapi).", valueName: "name"))
    var command: String

    @Option(help: ArgumentHelp("Message counter, decimal or 0x-hex (default: random).", valueName: "n"))
    var counter: String?

    @OptionGroup var key: KeyOptions

    @Option(help: ArgumentHelp("Fixed IV (32 hex digits) for reproducible vectors.", valueName: "hex"))
    var iv: String?

    @Option(help: ArgumentHelp("Fixed Fernet timestamp (Unix seconds) for reproducible vectors.", valueName: "seconds"))
    var timestamp: UInt64?

    @Option(help: ArgumentHelp("Division threshold and frame size, as the reference's request_chunk.", valueName: "bytes"))
    var requestChunk: Int = FrameEncoder.defaultRequestChunk

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if let counter { _ = try parseUnsigned(counter, max: UInt64(UInt32.max), what: "--counter") }
        if let iv { _ = try parseIV(iv) }
        guard requestChunk > FrameHeader.size else { throw ValidationError("--request-chunk must be larger than 20") }
        do { try CommandField.validate(Array(command.utf8)) } catch let e as ClusterError {
            throw ValidationError("--command: \(e.message)")
        }
    }

    func run() throws {
        let fernet = try key.loadIfGiven().map(Fernet.init)
        let counterValue = try counter.map { UInt32(try parseUnsigned($0, max: UInt64(UInt32.max), what: "--counter")) } ?? SecureRandom.uint32()
        let payload = try StandardStreams.readAll()
        let encoder = FrameEncoder(fernet: fernet, requestChunk: requestChunk)
        let message = try payload.withUnsafeBytes {
            try encoder.encode(command: Array(command.utf8), counter: counterValue, payload: $0,
                               timestamp: timestamp, iv: try iv.map(parseIV))
        }
        StandardStreams.write(message.bytes)
    }
}

struct Unframe: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode wire frames on stdin into one JSON line per message.",
        discussion: """
        Output lines are {"counter","command","divided","frames","size","payload"}, the payload in \
        standard base64 after reassembly and (with a key) decryption. Frames may arrive in any \
        slicing; a header claiming more than --max-frame-bytes is refused before anything is \
        buffered, and a divided message is refused as soon as its fragments pass \
        --max-message-bytes. A truncated stream or a token that does not verify exits 65 after the \
        messages that did complete.

        A message is held whole until it verifies (about twice its size at the peak, with a key); \
        the default cap keeps that near 128 MiB. The daemons accept messages up to 256 MiB \
        (limits.max_message_bytes); raise --max-message-bytes to read such a capture.
        """)

    /// The tool's default cap on one reassembled message (the daemons' is 256 MiB).
    static let defaultMaxMessageBytes = 64 << 20

    @OptionGroup var key: KeyOptions

    @Option(help: ArgumentHelp("Refuse a frame whose payload is larger than this.", valueName: "bytes"))
    var maxFrameBytes: Int = FrameLimits.default.maxFrameBytes

    @Option(help: ArgumentHelp("Refuse a reassembled message larger than this.", valueName: "bytes"))
    var maxMessageBytes: Int = Unframe.defaultMaxMessageBytes

    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard maxFrameBytes > 0, maxMessageBytes > 0 else {
            throw ValidationError("--max-frame-bytes and --max-message-bytes must be positive")
        }
    }

    func run() throws {
        let fernet = try key.loadIfGiven().map(Fernet.init)
        var decoder = FrameDecoder(limits: FrameLimits(maxFrameBytes: maxFrameBytes, maxMessageBytes: maxMessageBytes))
        try StandardStreams.readChunks { chunk in
            try decoder.feed(chunk) { message in
                guard let fernet else { return Unframe.writeLine(message, plain: message.payload[...]) }
                var raw = try Fernet.decode(message.payload)
                let plain = try fernet.decryptInPlace(&raw)
                Unframe.writeLine(message, plain: raw[plain])
            }
        }
        try decoder.checkComplete()
    }

    /// `{"counter","command","divided","frames","size","payload"}` and a newline, the payload's
    /// base64 written piece by piece rather than built whole.
    static func writeLine(_ message: ReceivedMessage, plain: ArraySlice<UInt8>) {
        var head = Array("{\"counter\":\(message.counter),\"command\":".utf8)
        head += JSONWriter.compact.bytes(.string(message.command))
        head += Array(",\"divided\":\(message.divided),\"frames\":\(message.frames),\"size\":\(plain.count),\"payload\":\"".utf8)
        StandardStreams.write(head)
        plain.withUnsafeBytes { p in
            let piece = 3 << 20
            var buffer = [UInt8](repeating: 0, count: Base64.encodedLength(piece))
            var at = 0
            while at < p.count {
                let n = min(piece, p.count - at)
                let length = Base64.encodedLength(n)
                buffer.withUnsafeMutableBytes {
                    Base64.encode(UnsafeRawBufferPointer(rebasing: p[at..<(at + n)]),
                                  into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<length]))
                }
                buffer.withUnsafeBytes { StandardStreams.write(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
                at += n
            }
        }
        StandardStreams.write(Array("\"}\n".utf8))
        StandardStreams.flushOutput()
    }
}
