/// The group hashes wazuh-db keeps (sync §6.1), which master and workers compare.
///
/// - Per agent: the first 8 hex characters of SHA-256 over the agent's groups joined by commas in
///   priority order (`"default,g1"`); nil when the agent has no groups.
/// - Global: SHA-1 hex over the concatenation, without separator, of every non-nil per-agent hash
///   of the agents with id > 0, in id order; nil when there is none.
public enum GroupHash {
    public static func agent(_ groups: [String]) -> String? {
        guard !groups.isEmpty else { return nil }
        return agent(csv: groups.joined(separator: ","))
    }

    public static func agent(csv: String) -> String? {
        guard !csv.isEmpty else { return nil }
        return String(Digest.sha256Hex(Array(csv.utf8)).prefix(8))
    }

    /// `hashes` must already be in id order and hold only agents with id > 0.
    public static func global<S: Sequence>(_ hashes: S) -> String? where S.Element == String {
        var bytes = [UInt8]()
        var any = false
        for h in hashes {
            bytes.append(contentsOf: h.utf8)
            any = true
        }
        return any ? Digest.sha1Hex(bytes) : nil
    }
}
