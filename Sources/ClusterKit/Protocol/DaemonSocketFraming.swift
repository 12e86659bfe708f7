/// The framing of the manager's daemon sockets (authd, wazuh-db, remoted, the task manager): a
/// 4-byte little-endian length, then that many bytes, in both directions (the reference's
/// `WazuhSocket`, header format `<I`). A request is one frame and its answer is one frame.
public enum DaemonSocketFraming {
    /// `message` behind its length header.
    public static func frame(_ message: [UInt8]) -> [UInt8] {
        let n = UInt32(message.count)
        var out = [UInt8]()
        out.reserveCapacity(4 + message.count)
        out.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)])
        out.append(contentsOf: message)
        return out
    }

    /// Reads one answer as its bytes arrive. The length a daemon claims is checked against
    /// `maxReply` as soon as the header is in, before anything more is kept.
    public struct ReplyReader: Sendable {
        public let maxReply: Int
        private var buffer: [UInt8] = []
        private var length: Int?

        public init(maxReply: Int) { self.maxReply = maxReply }

        /// Takes the next bytes; returns the answer once it is whole. Bytes after it are ignored.
        public mutating func feed(_ bytes: some Collection<UInt8>) throws -> [UInt8]? {
            buffer.append(contentsOf: bytes)
            if length == nil, buffer.count >= 4 {
                let n = Int(buffer[0]) | Int(buffer[1]) << 8 | Int(buffer[2]) << 16 | Int(buffer[3]) << 24
                guard n <= maxReply else {
                    throw ClusterError.wazuh(1014, "the daemon's reply of \(n) bytes exceeds the \(maxReply)-byte limit")
                }
                length = n
                buffer.removeFirst(4)
                buffer.reserveCapacity(n)
            }
            guard let length, buffer.count >= length else { return nil }
            return Array(buffer[0..<length])
        }

        /// Whether part of an answer has arrived.
        public var hasPartial: Bool { !buffer.isEmpty || length != nil }
    }
}
