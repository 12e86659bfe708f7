/// Per-command caps on the payload of requests that are always small, checked on the payload's
/// size before it is parsed.
///
/// The frame and message limits (`FrameLimits`) bound every message at megabytes, since
/// integrity and agent traffic needs it; a `hello`, a keepalive or a permission request never
/// does, and parsing one of megabytes is work a peer gets for free. A command with no cap here
/// is bounded only by the frame and message limits.
///
/// The count is of the plaintext: on TCP, `maxTokenBytes(for:)` gives the size of the Fernet
/// token that carries a capped plaintext, so an oversized request can be refused before it is
/// decrypted.
public struct CommandPayloadLimits: Sendable, Equatable {
    /// Command name → most payload bytes.
    public let caps: [String: Int]

    /// The handshake and keepalives: names, versions and a timestamp.
    public static let controlCap = 64 << 10
    /// A DAPI request; 4 MiB holds one naming 100,000 agents several times over.
    public static let dapiCap = 4 << 20
    /// Transfer and sync control requests: a decimal length, a path, a task or string id.
    public static let transferControlCap = 4 << 10

    public static let defaultCaps: [String: Int] = {
        var caps: [String: Int] = [:]
        for c in [ClusterCommand.hello, ClusterCommand.echo, ClusterCommand.keepalive, ClusterCommand.masterKeepalive,
                  ClusterCommand.getNodes, ClusterCommand.getHealth, ClusterCommand.cancelTask, PeerCapabilities.command,
                  ClusterCommand.haStatus, ClusterCommand.haResign] {
            caps[c] = controlCap
        }
        caps[ClusterCommand.dapi] = dapiCap
        // A daemon request (the C clients send at most 1,000,000 bytes) behind a client id; the
        // master's answer names a string, its error is a line of text.
        caps[ClusterCommand.sendSync] = SendSyncRequest.maxPayloadBytes
        caps[ClusterCommand.sendSyncResponse] = transferControlCap
        caps[ClusterCommand.sendSyncError] = controlCap
        // Only the requests whose payload the reference defines as an id, a path or nothing
        // (sync §2.3, §4); the result and error commands carry JSON of their own size.
        for c in [ClusterCommand.newString, ClusterCommand.newFile, ClusterCommand.fileEnd,
                  ClusterCommand.integrityPermission, ClusterCommand.integrityStart, ClusterCommand.integrityEnd,
                  ClusterCommand.integritySync, ClusterCommand.integritySyncEnd,
                  ClusterCommand.agentInfoPermission, ClusterCommand.agentInfoStart,
                  ClusterCommand.agentGroups, ClusterCommand.agentGroupsFull, ClusterCommand.agentGroupsFullRequest] {
            caps[c] = transferControlCap
        }
        return caps
    }()

    public static let standard = CommandPayloadLimits()

    /// The default caps with `overrides` replacing or adding caps by command name.
    public init(overrides: [String: Int] = [:]) {
        precondition(overrides.values.allSatisfy { $0 >= 0 }, "a payload cap cannot be negative")
        caps = CommandPayloadLimits.defaultCaps.merging(overrides) { _, new in new }
    }

    /// The most payload bytes `command` may carry; nil when only the frame and message limits apply.
    public func maxPayload(for command: String) -> Int? { caps[command] }

    /// The most Fernet token bytes that can carry a payload within `command`'s cap.
    public func maxTokenBytes(for command: String) -> Int? {
        caps[command].map { Fernet.tokenLength(plaintextCount: $0) }
    }

    /// Refuses a payload over `command`'s cap, as the reference refuses a request it cannot
    /// handle: error 1000, which a reference peer decodes as an internal error with our text.
    public func check(command: String, payloadCount: Int) throws {
        guard let cap = caps[command], payloadCount > cap else { return }
        throw ClusterError.wazuh(1000, "\(LogText.truncated(command, max: 32)) payload of \(payloadCount) bytes exceeds its \(cap)-byte cap")
    }
}
