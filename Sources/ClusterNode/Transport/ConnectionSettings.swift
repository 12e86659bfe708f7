import ClusterKit
import Logging
import NIOPosix

/// What every connection of a node shares: timeouts, caps, the node root for file transfers,
/// the thread pool for blocking I/O, and the log.
public struct ConnectionSettings: Sendable {
    public var fernet: Fernet?
    public var requestChunk: Int = FrameEncoder.defaultRequestChunk
    public var requestTimeout: Double
    public var frameLimits: FrameLimits
    /// Strings plus files a peer may have in flight on one connection.
    public var maxTransfers: Int
    /// Largest file a peer may send us.
    public var maxFileBytes: Int
    /// How long a received string or file may wait to be claimed before it is dropped.
    public var transferTTL: Double
    public var root: String
    public var threadPool: NIOThreadPool
    public var logger: Logger

    public init(fernet: Fernet?, requestTimeout: Double, frameLimits: FrameLimits, maxTransfers: Int,
                maxFileBytes: Int, transferTTL: Double, root: String, threadPool: NIOThreadPool, logger: Logger) {
        self.fernet = fernet
        self.requestTimeout = requestTimeout
        self.frameLimits = frameLimits
        self.maxTransfers = maxTransfers
        self.maxFileBytes = maxFileBytes
        self.transferTTL = transferTTL
        self.root = root
        self.threadPool = threadPool
        self.logger = logger
    }

    /// Settings for a node's TCP links (encrypted) from its configuration.
    public static func cluster(_ config: ClusterConfig, threadPool: NIOThreadPool, logger: Logger) -> ConnectionSettings {
        ConnectionSettings(fernet: Fernet(key: config.key),
                           requestTimeout: config.intervals.timeoutClusterRequest,
                           frameLimits: config.frameLimits,
                           maxTransfers: config.limits.maxTransfersPerConnection,
                           maxFileBytes: config.intervals.maxZipSize + config.limits.maxMessageBytes,
                           transferTTL: max(config.intervals.timeoutReceivingFile, config.intervals.timeoutDapiRequest) + 60,
                           root: config.root, threadPool: threadPool, logger: logger)
    }

    /// The same settings without encryption, for the local unix socket.
    public var local: ConnectionSettings {
        var s = self
        s.fernet = nil
        return s
    }
}
