import Foundation

/// The cluster's shared secret, split the way the reference splits it.
///
/// The reference takes the 32-character `<key>` from its configuration, base64-encodes its ASCII
/// bytes and hands that to Fernet, which decodes it straight back: so the HMAC-SHA256 key is
/// `key[0..<16]` and the AES-128 key is `key[16..<32]`, with no KDF. A standard 44-character Fernet
/// key (URL-safe base64 of 32 bytes) is accepted too, for interoperating with plain Fernet tools.
///
/// The key never prints: `description` is redacted so it cannot leak through logs or errors.
public struct ClusterKey: Sendable, CustomStringConvertible, Equatable {
    public let signingKey: [UInt8]
    public let encryptionKey: [UInt8]

    /// Where the key came from: the 32-character cluster form or a standard Fernet key.
    public enum Form: String, Sendable { case clusterKey = "cluster-key", fernetKey = "fernet-key" }
    public let form: Form

    public init(rawBytes: [UInt8], form: Form) throws {
        guard rawBytes.count == 32 else {
            throw ClusterError.badData("a key is 32 bytes, got \(rawBytes.count)")
        }
        signingKey = Array(rawBytes[0..<16])
        encryptionKey = Array(rawBytes[16..<32])
        self.form = form
    }

    /// Parses key text: a 32-character cluster key from `[A-Za-z0-9_]`, or a 44-character URL-safe
    /// base64 Fernet key. One trailing newline (as `echo` or an editor leaves it) is ignored.
    public init(text: String) throws {
        var t = text
        if t.hasSuffix("\r\n") { t.removeLast(2) } else if t.hasSuffix("\n") { t.removeLast() }
        let bytes = Array(t.utf8)
        if bytes.count == 32 {
            guard bytes.allSatisfy(ClusterKey.isKeyCharacter) else {
                throw ClusterError.badData("a 32-character cluster key may only use the characters A-Z a-z 0-9 _")
            }
            try self.init(rawBytes: bytes, form: .clusterKey)
        } else if bytes.count == 44 {
            guard let raw = Base64.decode(bytes, alphabet: .urlSafe), raw.count == 32 else {
                throw ClusterError.badData("a 44-character Fernet key must be URL-safe base64 of 32 bytes")
            }
            try self.init(rawBytes: raw, form: .fernetKey)
        } else {
            throw ClusterError.badData("a key is either the 32-character cluster key or a 44-character Fernet key; got \(bytes.count) characters")
        }
    }

    /// Reads a key file; the file must hold the key alone (one trailing newline allowed).
    public init(contentsOfFile path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) {
                throw ClusterError(message: "cannot read key file \(path)", exit: .noPermission)
            }
            throw ClusterError.noInput("key file \(path) does not exist")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ClusterError.badData("key file \(path) is not text")
        }
        do { try self.init(text: text) } catch let e as ClusterError {
            throw ClusterError.badData("key file \(path): \(e.message)")
        }
    }

    static func isKeyCharacter(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
    }

    /// A fresh random 32-character cluster key.
    public static func generateText() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_".utf8)
        var out = [UInt8]()
        out.reserveCapacity(32)
        for _ in 0..<32 { out.append(alphabet[Int(SecureRandom.below(UInt64(alphabet.count)))]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The standard Fernet key text for the same secret (what the reference hands to Fernet).
    public var fernetKeyText: String {
        Base64.encodeString(signingKey + encryptionKey, alphabet: .urlSafe)
    }

    public var description: String { "ClusterKey(<redacted>)" }

    /// Two keys are the same key when their bytes are, whichever text form they were given in.
    public static func == (a: ClusterKey, b: ClusterKey) -> Bool {
        a.signingKey == b.signingKey && a.encryptionKey == b.encryptionKey
    }
}

extension ClusterError {
    init(message: String, exit: ExitStatus) { self.init(code: 0, message, exit: exit) }
}
