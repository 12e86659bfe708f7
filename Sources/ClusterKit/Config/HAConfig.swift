/// A `HOST:PORT` pair.
public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The `ha` section: master failover on etcd (docs/HA.md).
public struct HAConfig: Sendable, Equatable {
    /// etcd's client endpoints, tried in turn.
    public var etcd: [HostPort]
    /// The election's name (every master of the cluster gives the same).
    public var election: String
    /// The leader's lease, in seconds.
    public var leaseTTL: Double
    /// Where workers and followers reach this master when it leads (masters only).
    public var advertise: HostPort?

    public init(etcd: [HostPort], election: String, leaseTTL: Double, advertise: HostPort?) {
        self.etcd = etcd
        self.election = election
        self.leaseTTL = leaseTTL
        self.advertise = advertise
    }

    /// The default election name for a cluster.
    public static func defaultElection(cluster: String) -> String { "clustertools/\(cluster)/master" }

    /// nil when the section is left out. Every key is read either way (the schema's check).
    init?(_ r: ConfigReader, clusterName: String) throws {
        let endpoints = try r.strings("etcd")
        let election = try r.string("election")
        let ttl = try r.seconds("lease_ttl")
        let advertise = try r.string("advertise")
        guard let endpoints else {
            if !r.object.isEmpty { throw r.fail("etcd", "is required when ha is given (etcd's client URLs)") }
            return nil
        }
        etcd = try endpoints.map { e in
            var text = Substring(e)
            if text.hasPrefix("http://") { text = text.dropFirst(7) }
            if text.hasPrefix("https://") { throw r.fail("etcd", "\"\(e)\": https is not supported; use etcd's plain client URL on a trusted network, or a local TLS proxy") }
            if text.hasSuffix("/") { text = text.dropLast() }
            guard let (h, p) = ClusterConfig.parseHostPort(String(text), defaultPort: 2379) else {
                throw r.fail("etcd", "\"\(e)\" is not http://HOST:PORT or HOST:PORT")
            }
            return HostPort(host: h, port: p)
        }
        self.election = election ?? HAConfig.defaultElection(cluster: clusterName)
        guard !self.election.isEmpty, self.election.utf8.count <= 256 else { throw r.fail("election", "must be 1 to 256 bytes") }
        leaseTTL = ttl
        if let advertise {
            guard let (h, p) = ClusterConfig.parseHostPort(advertise, defaultPort: -1) else {
                throw r.fail("advertise", "must be HOST:PORT, got \"\(advertise)\"")
            }
            self.advertise = HostPort(host: h, port: p)
        } else {
            self.advertise = nil
        }
    }
}
