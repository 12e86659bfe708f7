import ArgumentParser
import ClusterCLI
import ClusterKit
import Foundation

@main
struct CLCrypt: ToolCommand {
    static let configuration = CommandConfiguration(
        commandName: "cl-crypt",
        abstract: "Fernet encryption with the cluster key.",
        discussion: """
        Tokens are byte-compatible with the Fernet specification and with the Wazuh 4.9.2 cluster, \
        which signs with the first 16 characters of the 32-character cluster key and encrypts \
        (AES-128-CBC) with the last 16. A key file may hold that cluster key or a standard \
        44-character Fernet key.

        Exit status: 0 ok, 64 usage, 65 bad key or bad token, 66 key file missing, 73 the key file \
        exists (keygen without --force), 74 I/O error, 77 the key file cannot be given to --group.
        """,
        version: ToolVersion.versionLine,
        subcommands: [Keygen.self, Encrypt.self, Decrypt.self])
}

struct Keygen: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a new 32-character cluster key from [A-Za-z0-9_].")

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the key to this file (mode 0600) instead of stdout.", valueName: "file"),
            completion: .file())
    var output: String?

    @Option(help: ArgumentHelp("Give the key file to this group, mode 0640, so that a service running as that group can read it.", valueName: "group"),
            completion: .custom { _, _, _ in KeyFileWriter.groupNames() })
    var group: String?

    @Flag(help: "Overwrite the output file if it exists (without it, an existing file is refused, exit 73).")
    var force = false

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if group != nil && output == nil { throw ValidationError("--group needs --output (a key on stdout has no group)") }
    }

    func run() throws {
        let key = ClusterKey.generateText()
        guard let output else {
            StandardStreams.write(key + "\n")
            return
        }
        try KeyFileWriter.write(key + "\n", to: output, overwrite: force, group: group)
    }
}

struct Encrypt: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encrypt stdin into one Fernet token on stdout.",
        discussion: "--iv and --timestamp exist to reproduce test vectors; never use them for real traffic.")

    @OptionGroup var key: KeyOptions

    @Option(help: ArgumentHelp("Use this IV (32 hex digits) instead of a random one. For reproducible vectors only.", valueName: "hex"))
    var iv: String?

    @Option(help: ArgumentHelp("Use this Unix time in the token instead of now. For reproducible vectors only.", valueName: "seconds"))
    var timestamp: UInt64?

    @OptionGroup var common: CommonOptions

    func validate() throws { if let iv { _ = try parseIV(iv) } }

    func run() throws {
        let fernet = Fernet(key: try key.load())
        let input = try StandardStreams.readAll()
        let token = fernet.encrypt(input, timestamp: timestamp, iv: try iv.map(parseIV))
        StandardStreams.write(token)
        if isatty(STDOUT_FILENO) == 1 { StandardStreams.write("\n") }
    }
}

struct Decrypt: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decrypt one Fernet token on stdin; the plaintext goes to stdout.",
        discussion: """
        Nothing is written unless the whole token verifies. A trailing newline after the token is \
        ignored. A token is one indivisible document, so it is held in memory (about 1.75 times \
        its length at the peak); one longer than --max-bytes is refused (exit 65) before it is read \
        whole.
        """)

    /// The default cap: a token of 64 MiB carries 48 MiB of plaintext, ten times the largest
    /// single frame of the cluster link.
    static let defaultMaxBytes = 64 << 20

    @OptionGroup var key: KeyOptions

    @Option(help: ArgumentHelp("Refuse tokens older than this many seconds (the cluster link itself uses no TTL).", valueName: "seconds"))
    var ttl: UInt64?

    @Option(help: ArgumentHelp("Take this Unix time as now when checking --ttl. For reproducible vectors only.", valueName: "seconds"))
    var now: UInt64?

    @Option(help: ArgumentHelp("Refuse a token longer than this (exit 65).", valueName: "bytes"))
    var maxBytes: Int = Decrypt.defaultMaxBytes

    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard maxBytes > 0 else { throw ValidationError("--max-bytes must be positive") }
    }

    func run() throws {
        let fernet = Fernet(key: try key.load())
        // Two bytes of slack for a trailing CR LF after a token of exactly --max-bytes.
        var token: [UInt8]
        do {
            token = try StandardStreams.readAll(limit: maxBytes + 2)
        } catch let e as ClusterError where e.exit == .dataError {
            throw ClusterError.badData("the token on standard input is longer than \(maxBytes) bytes (raise --max-bytes to accept it)", code: 3025)
        }
        while let last = token.last, last == 0x0A || last == 0x0D { token.removeLast() }
        guard !token.isEmpty else { throw ClusterError.badData("no token on standard input", code: 3025) }
        guard token.count <= maxBytes else {
            throw ClusterError.badData("the token on standard input is longer than \(maxBytes) bytes (raise --max-bytes to accept it)", code: 3025)
        }
        // Decoded, the text is let go before the plaintext is made in place of the ciphertext.
        var raw = try Fernet.decode(token)
        token = []
        let plain = try fernet.decryptInPlace(&raw, ttl: ttl, now: now)
        raw.withUnsafeBytes { StandardStreams.write(UnsafeRawBufferPointer(rebasing: $0[plain])) }
    }
}
