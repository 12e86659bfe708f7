import Foundation

/// A node's configuration: our `cluster.json`.
///
/// Only `cluster.name`, `cluster.key` (or `cluster.key_file`), `node.name`, `node.type`,
/// `node.root` and, on a worker, `node.master` are required; the rest defaults to the reference's
/// values. Unknown keys and bad values are refused (exit 78) with the key named. Relative paths
/// (`node.root`, `cluster.key_file`) are taken from the configuration file's directory;
/// `node.local_socket` and the `files` rules are relative to `node.root`.
public struct ClusterConfig: Sendable {
    public enum NodeType: String, Sendable { case master, worker }

    public var clusterName: String
    public var key: ClusterKey
    public var compatVersion: String

    public var nodeName: String
    public var nodeType: NodeType
    public var root: String
    public var bind: String
    public var port: Int
    /// The first of `node.master` (on a worker, the master it tries first).
    public var masterHost: String?
    public var masterPort: Int?
    /// Every address of `node.master`, in the order given.
    public var masterAddresses: [HostPort] = []
    public var localSocket: String

    /// The `files` rules as given (nil: the reference's defaults).
    public var files: JSON?
    /// The integrity rules: `files` parsed, or the reference's rules.
    public var fileRules: FileRules
    public var intervals: Intervals
    public var limits: Limits
    /// `metrics.listen`: the address of the HTTP listener serving `/metrics` and `/healthz`
    /// (nil: off, the default).
    public var metricsListen: MetricsListen?
    /// `ha`: master failover on etcd (nil: one master, no etcd).
    public var ha: HAConfig?

    public struct MetricsListen: Sendable, Equatable {
        public var host: String
        /// 0: a port the system chooses (logged at start).
        public var port: Int
    }

    /// The document this configuration was read from (a reload compares the new one with it).
    public internal(set) var document: JSON = .null

    public var localSocketPath: String { (root as NSString).appendingPathComponent(localSocket) }

    public static func load(path: String) throws -> ClusterConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) {
                throw ClusterError.config("cannot read \(path)")
            }
            throw ClusterError.noInput("configuration file \(path) does not exist")
        }
        let json: JSON
        do { json = try JSON.parse([UInt8](data), source: path) } catch let e as ClusterError {
            throw ClusterError.config(e.message, code: 3004)
        }
        let base = (URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent()).path
        return try ClusterConfig(json: json, baseDirectory: base, source: path)
    }

    public init(json: JSON, baseDirectory: String, source: String = "cluster.json") throws {
        try self.init(json: json, baseDirectory: baseDirectory, source: source, log: nil)
    }

    /// Every key the reader asks for, read from a minimal configuration: the keys it accepts.
    /// Tests check ConfigSchema and cluster.json(5) against it.
    public static func keysRead() throws -> Set<String> {
        let log = ConfigKeyLog()
        _ = try ClusterConfig(json: ["cluster": ["name": "wazuh", "key": "0123456789abcdef0123456789abcdef"],
                                     "node": ["name": "w", "type": "worker", "root": "/", "master": "m"]],
                              baseDirectory: "/", source: "cluster.json", log: log)
        return log.keys
    }

    init(json: JSON, baseDirectory: String, source: String, log: ConfigKeyLog?) throws {
        document = json
        let top = try ConfigReader(json, path: "", source: source, log: log)
        guard case .object = json else { throw ConfigReader.error(source, "", "must be a JSON object") }
        func resolve(_ p: String) -> String {
            p.hasPrefix("/") ? p : (URL(fileURLWithPath: baseDirectory).appendingPathComponent(p).standardizedFileURL.path)
        }

        let cluster = try top.section("cluster")
        let cname = try cluster.requiredString("name")
        try cluster.check("name") { try NodeName.validate(cname, what: "cluster name") }
        clusterName = cname
        let inlineKey = try cluster.string("key")
        let keyFile = try cluster.string("key_file")
        switch (inlineKey, keyFile) {
        case (let k?, nil):
            do { key = try ClusterKey(text: k) } catch let e as ClusterError { throw cluster.fail("key", e.message) }
        case (nil, let f?):
            do { key = try ClusterKey(contentsOfFile: resolve(f)) } catch let e as ClusterError {
                throw cluster.fail("key_file", e.message)
            }
        case (.some, .some): throw cluster.fail("key", "give either key or key_file, not both")
        case (nil, nil): throw cluster.fail("key", "is required (or key_file)")
        }
        compatVersion = try cluster.string("compat_version") ?? ToolVersion.compatVersion
        guard !compatVersion.isEmpty, !compatVersion.contains(" ") else { throw cluster.fail("compat_version", "must be a version without spaces") }

        let node = try top.section("node")
        let nname = try node.requiredString("name")
        try node.check("name") { try NodeName.validate(nname) }
        nodeName = nname
        let type = try node.requiredString("type")
        guard let t = NodeType(rawValue: type == "client" ? "worker" : type) else {
            throw node.fail("type", "must be \"master\" or \"worker\", got \"\(type)\"")
        }
        nodeType = t
        root = resolve(try node.requiredString("root"))
        bind = try node.requiredString("bind")
        port = try node.integer("port")
        if let list = try node.strings("master") {
            let defaultPort = port == 0 ? 1516 : port
            var addresses: [HostPort] = []
            for m in list {
                guard let (h, p) = ClusterConfig.parseHostPort(m, defaultPort: defaultPort) else {
                    throw node.fail("master", "must be HOST or HOST:PORT (or a list of them), got \"\(m)\"")
                }
                addresses.append(HostPort(host: h, port: p))
            }
            masterAddresses = addresses
            masterHost = masterAddresses[0].host
            masterPort = masterAddresses[0].port
        } else if nodeType == .worker {
            throw node.fail("master", "is required on a worker (the master's HOST:PORT)")
        }
        localSocket = try node.requiredString("local_socket")
        guard !localSocket.hasPrefix("/"), !localSocket.split(separator: "/").contains("..") else {
            throw node.fail("local_socket", "must be a path relative to node.root without '..'")
        }

        files = top.raw("files")
        if let f = files {
            fileRules = try FileRules(filesSection: f, source: "\(source): files")
        } else {
            fileRules = .reference
        }
        intervals = try Intervals(try top.section("intervals"))
        limits = try Limits(try top.section("limits"))
        let metrics = try top.section("metrics")
        if let listen = try metrics.string("listen") {
            guard let (h, p) = ClusterConfig.parseHostPort(listen, defaultPort: -1, allowZero: true) else {
                throw metrics.fail("listen", "must be HOST:PORT (for example \"127.0.0.1:9516\"), got \"\(listen)\"")
            }
            metricsListen = MetricsListen(host: h, port: p)
        }
        ha = try HAConfig(try top.section("ha"), clusterName: clusterName)
        if ha != nil, ha?.advertise == nil, nodeType == .master {
            // What workers are told to reach: the first node.master, else the bind address.
            let host = masterHost ?? (bind == "0.0.0.0" || bind == "::" ? "127.0.0.1" : bind)
            ha?.advertise = HostPort(host: host, port: port)
        }
    }

    /// Parses `HOST`, `HOST:PORT` or `[V6]:PORT`.
    public static func parseHostPort(_ text: String, defaultPort: Int, allowZero: Bool = false) -> (String, Int)? {
        var host = text, port = defaultPort
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix(":") { guard let p = Int(rest.dropFirst()) else { return nil }; port = p } else if !rest.isEmpty { return nil }
        } else if let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon {
            host = String(text[..<colon])
            guard let p = Int(text[text.index(after: colon)...]) else { return nil }
            port = p
        }
        guard !host.isEmpty, ((allowZero ? 0 : 1)...65535).contains(port) else { return nil }
        return (host, port)
    }
}

extension ClusterConfig {
    /// The reference's intervals (seconds), plus the reconnect cap, the agent-groups start delay and
    /// how soon a worker pushes agent changes (`worker.agent_info_change_delay`).
    public struct Intervals: Sendable {
        public var workerSyncIntegrity: Double
        public var workerSyncAgentInfo: Double
        /// How soon a worker pushes agent changes it sees (0: only every sync_agent_info).
        public var workerAgentInfoChangeDelay: Double
        public var workerTimeoutAgentGroups: Double
        public var workerKeepAlive: Double
        public var workerConnectionRetry: Double
        public var workerConnectionRetryMax: Double
        public var workerMaxFailedKeepalive: Int
        public var workerAgentGroupsMismatchLimit: Int
        public var masterSyncAgentGroups: Double
        public var masterRecalculateIntegrity: Double
        /// Watch the synced directories (inotify) so that a recalculation reads only what changed
        /// (`intervals.master.watch_integrity`; ours).
        public var masterWatchIntegrity: Bool
        /// Seconds between full walks while watching, a safety net
        /// (`intervals.master.full_integrity_walk`; ours).
        public var masterFullIntegrityWalk: Double
        public var masterTimeoutAgentInfo: Double
        public var masterAgentGroupStartDelay: Double
        public var masterCheckWorkerKeepalive: Double
        public var masterMaxTimeWithoutKeepalive: Double
        public var masterMaxLockedIntegrityTime: Double
        public var masterProcessPoolSize: Int
        public var timeoutClusterRequest: Double
        public var timeoutDapiRequest: Double
        public var timeoutReceivingFile: Double
        public var maxZipSize: Int
        public var minZipSize: Int
        public var compressLevel: Int
        public var zipLimitTolerance: Double

        init(_ reader: ConfigReader) throws {
            let r = reader
            let w = try r.section("worker")
            workerSyncIntegrity = try w.seconds("sync_integrity")
            workerSyncAgentInfo = try w.seconds("sync_agent_info")
            workerAgentInfoChangeDelay = try w.seconds("agent_info_change_delay")
            _ = try w.seconds("sync_agent_groups") // unused by the reference too
            workerTimeoutAgentGroups = try w.seconds("timeout_agent_groups")
            workerKeepAlive = try w.seconds("keep_alive")
            workerConnectionRetry = try w.seconds("connection_retry")
            workerConnectionRetryMax = try w.seconds("connection_retry_max")
            workerMaxFailedKeepalive = try w.integer("max_failed_keepalive_attempts")
            workerAgentGroupsMismatchLimit = try w.integer("agent_groups_mismatch_limit")
            let m = try r.section("master")
            masterProcessPoolSize = try m.integer("process_pool_size")
            masterSyncAgentGroups = try m.seconds("sync_agent_groups")
            _ = try m.seconds("timeout_extra_valid")
            masterRecalculateIntegrity = try m.seconds("recalculate_integrity")
            masterWatchIntegrity = try m.bool("watch_integrity")
            masterFullIntegrityWalk = try m.seconds("full_integrity_walk")
            masterTimeoutAgentInfo = try m.seconds("timeout_agent_info")
            masterAgentGroupStartDelay = try m.seconds("agent_group_start_delay")
            masterCheckWorkerKeepalive = try m.seconds("check_worker_lastkeepalive")
            masterMaxTimeWithoutKeepalive = try m.seconds("max_allowed_time_without_keepalive")
            masterMaxLockedIntegrityTime = try m.seconds("max_locked_integrity_time")
            let c = try r.section("communication")
            timeoutClusterRequest = try c.seconds("timeout_cluster_request")
            timeoutDapiRequest = try c.seconds("timeout_dapi_request")
            timeoutReceivingFile = try c.seconds("timeout_receiving_file")
            maxZipSize = try c.integer("max_zip_size")
            minZipSize = try c.integer("min_zip_size")
            compressLevel = try c.integer("compress_level")
            zipLimitTolerance = try c.double("zip_limit_tolerance")
            _ = try r.section("distributed_api").bool("enabled") // accepted for compatibility; see limits for DAPI bounds
            guard workerConnectionRetryMax >= workerConnectionRetry else {
                throw ConfigReader.error(reader.source, "intervals.worker.connection_retry_max", "must not be below connection_retry")
            }
            guard minZipSize <= maxZipSize else {
                throw ConfigReader.error(reader.source, "intervals.communication.min_zip_size", "must not exceed max_zip_size")
            }
        }
    }

    /// Bounds on what a peer can make a node hold or do.
    public struct Limits: Sendable {
        public var maxFrameBytes: Int
        public var maxMessageBytes: Int
        public var helloTimeout: Double
        public var maxConnections: Int
        public var maxDeleteFraction: Double
        /// Strings and files a peer may have in flight on one connection.
        public var maxTransfersPerConnection: Int
        /// Concurrent distributed API requests executed per node.
        public var dapiConcurrency: Int
        /// Bytes all of a listener's peers together may make the node hold in unfinished frames,
        /// divided messages and unclaimed strings.
        public var maxBufferedBytes: Int
        /// What one local-socket client may have in flight (a frame, a message, its strings).
        public var localClientBytes: Int
        /// A connection that holds unfinished data and sends nothing for this long is closed
        /// (local clients; cluster links use `timeout_receiving_file`).
        public var localIdleTimeout: Double
        /// How far ahead of the master's clock an agent row's `last_keepalive` may be; a row
        /// further ahead is refused (it would pin the agent to the sender).
        public var maxKeepaliveSkew: Double
        /// How long a `sendsync` exchange with a local daemon may take on the master (connect,
        /// request, whole answer); a worker waits this plus `timeout_cluster_request` for it.
        public var sendSyncTimeout: Double

        init(_ reader: ConfigReader) throws {
            let r = reader
            maxFrameBytes = try r.integer("max_frame_bytes")
            maxMessageBytes = try r.integer("max_message_bytes")
            helloTimeout = try r.seconds("hello_timeout")
            maxConnections = try r.integer("max_connections")
            maxDeleteFraction = try r.double("max_delete_fraction")
            maxTransfersPerConnection = try r.integer("max_transfers_per_connection")
            dapiConcurrency = try r.integer("dapi_concurrency")
            maxBufferedBytes = try r.integer("max_buffered_bytes")
            localClientBytes = try r.integer("local_client_bytes")
            localIdleTimeout = try r.seconds("local_idle_timeout")
            maxKeepaliveSkew = try r.seconds("max_keepalive_skew")
            sendSyncTimeout = try r.seconds("sendsync_timeout")
        }
    }

    public var frameLimits: FrameLimits {
        FrameLimits(maxFrameBytes: limits.maxFrameBytes, maxMessageBytes: limits.maxMessageBytes)
    }
}
