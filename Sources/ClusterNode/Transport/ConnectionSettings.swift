import ClusterKit
import Logging
import NIOPosix

/// What every connection of a node shares: timeouts, caps and budgets, the node root for file
/// transfers, the thread pool for blocking I/O, and the log.
public struct ConnectionSettings: Sendable {
    public var fernet: Fernet?
    public var requestChunk: Int = FrameEncoder.defaultRequestChunk
    public var requestTimeout: Double
    public var frameLimits: FrameLimits
    /// Strings plus files a peer may have in flight on one connection.
    public var maxTransfers: Int
    /// Largest string a peer may send us.
    public var maxStringBytes: Int
    /// Largest file a peer may send us.
    public var maxFileBytes: Int
    /// How long a received string or file may wait to be claimed before it is dropped.
    public var transferTTL: Double
    /// Bytes all connections of one listener may make the node hold together.
    public var budget: MemoryBudget
    /// The server side of a cluster link: one undivided `hello` of at most 64 KiB first, within
    /// `helloTimeout`, or the connection is closed.
    public var requireHello = false
    public var helloTimeout: Double = 10
    /// A connection that holds unfinished data (a frame, a divided message, a string) and sends
    /// nothing for this long is closed.
    public var stallTimeout: Double
    public var payloadLimits = CommandPayloadLimits()
    /// Messages larger than this are decrypted and encrypted off the event loop.
    public var offloadBytes = 256 * 1024
    public var root: String
    public var threadPool: NIOThreadPool
    public var logger: Logger

    public init(fernet: Fernet?, requestTimeout: Double, frameLimits: FrameLimits, maxTransfers: Int,
                maxFileBytes: Int, transferTTL: Double, budget: MemoryBudget, stallTimeout: Double,
                root: String, threadPool: NIOThreadPool, logger: Logger) {
        self.fernet = fernet
        self.requestTimeout = requestTimeout
        self.frameLimits = frameLimits
        self.maxTransfers = maxTransfers
        self.maxStringBytes = frameLimits.maxMessageBytes
        self.maxFileBytes = maxFileBytes
        self.transferTTL = transferTTL
        self.budget = budget
        self.stallTimeout = stallTimeout
        self.root = root
        self.threadPool = threadPool
        self.logger = logger
    }

    /// Settings for a node's TCP links (encrypted) from its configuration.
    public static func cluster(_ config: ClusterConfig, budget: MemoryBudget, threadPool: NIOThreadPool,
                               logger: Logger) -> ConnectionSettings {
        var s = ConnectionSettings(fernet: Fernet(key: config.key),
                                   requestTimeout: config.intervals.timeoutClusterRequest,
                                   frameLimits: config.frameLimits,
                                   maxTransfers: config.limits.maxTransfersPerConnection,
                                   maxFileBytes: config.intervals.maxZipSize + config.limits.maxMessageBytes,
                                   transferTTL: max(config.intervals.timeoutReceivingFile, config.intervals.timeoutDapiRequest) + 60,
                                   budget: budget, stallTimeout: config.intervals.timeoutReceivingFile,
                                   root: config.root, threadPool: threadPool, logger: logger)
        s.helloTimeout = config.limits.helloTimeout
        return s
    }

    /// Settings for a node's local unix socket: no encryption, and each client bounded to
    /// `limits.local_client_bytes` in flight, with `limits.local_idle_timeout` to finish what it
    /// started sending.
    public static func local(_ config: ClusterConfig, budget: MemoryBudget, threadPool: NIOThreadPool,
                             logger: Logger) -> ConnectionSettings {
        let bytes = config.limits.localClientBytes
        let limits = FrameLimits(maxFrameBytes: bytes, maxMessageBytes: bytes, maxFragments: 4096,
                                 maxPartialMessages: 4, maxPartialBytes: bytes)
        return ConnectionSettings(fernet: nil, requestTimeout: config.intervals.timeoutClusterRequest, frameLimits: limits,
                                  maxTransfers: 16, maxFileBytes: 0,
                                  transferTTL: config.intervals.timeoutDapiRequest + 60,
                                  budget: budget, stallTimeout: config.limits.localIdleTimeout,
                                  root: config.root, threadPool: threadPool, logger: logger)
    }

    var stateMachineConfiguration: ConnectionStateMachine.Configuration {
        .init(requireHello: requireHello, maxTransfers: maxTransfers, maxStringBytes: maxStringBytes,
              maxFileBytes: maxFileBytes, transferTTL: .nanoseconds(Int64(transferTTL * 1e9)),
              payloadLimits: payloadLimits, root: root)
    }
}
