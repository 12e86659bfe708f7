import Foundation
import Testing
@testable import ClusterKit

/// The `ha` section and `node.master` as a list (docs/HA.md): what is accepted, what each key
/// defaults to, and the errors an operator gets.
@Suite struct HAConfigTests {
    static let cluster: JSON = ["name": "prod", "key": .string(ConfigSchemaTests.key)]

    func load(_ node: JSON, ha: JSON? = nil) throws -> ClusterConfig {
        var o: JSON = ["cluster": Self.cluster, "node": node]
        if let ha { o["ha"] = ha }
        return try ClusterConfig(json: o, baseDirectory: "/etc/clustertools")
    }

    func error(_ node: JSON, ha: JSON? = nil) -> String {
        do { _ = try load(node, ha: ha); return "" } catch let e as ClusterError { return e.message } catch { return "\(error)" }
    }

    static let master: JSON = ["name": "m1", "type": "master", "root": "/var/ossec", "bind": "10.0.0.1", "port": 1516]

    @Test func aMasterWithHaTakesTheDefaults() throws {
        let c = try load(Self.master, ha: ["etcd": ["http://10.0.0.3:2379", "10.0.0.4"]])
        let ha = try #require(c.ha)
        #expect(ha.etcd == [HostPort(host: "10.0.0.3", port: 2379), HostPort(host: "10.0.0.4", port: 2379)])
        #expect(ha.election == "clustertools/prod/master")
        #expect(ha.leaseTTL == 10)
        #expect(ha.advertise == HostPort(host: "10.0.0.1", port: 1516), "the bind address and port")
        #expect(try load(Self.master).ha == nil, "no ha section, no failover")
    }

    @Test func aWildcardBindAdvertisesTheFirstMasterAddressOrIsGivenOne() throws {
        var node = Self.master
        node["bind"] = "0.0.0.0"
        node["master"] = "master-1.example:1516"
        #expect(try load(node, ha: ["etcd": "10.0.0.3:2379"]).ha?.advertise == HostPort(host: "master-1.example", port: 1516))
        let given = try load(node, ha: ["etcd": "10.0.0.3:2379", "advertise": "192.0.2.7:1516", "election": "e", "lease_ttl": 4])
        #expect(given.ha == HAConfig(etcd: [HostPort(host: "10.0.0.3", port: 2379)], election: "e", leaseTTL: 4,
                                     advertise: HostPort(host: "192.0.2.7", port: 1516)))
    }

    @Test func aWorkerMayListSeveralMasters() throws {
        let c = try load(["name": "w1", "type": "worker", "root": "/var/ossec", "master": ["10.0.0.1", "10.0.0.2:1600", "[::1]:1517"]])
        #expect(c.masterAddresses == [HostPort(host: "10.0.0.1", port: 1516), HostPort(host: "10.0.0.2", port: 1600),
                                      HostPort(host: "::1", port: 1517)])
        #expect(c.masterHost == "10.0.0.1" && c.masterPort == 1516)
        #expect(c.masterAddresses[2].description == "[::1]:1517")
    }

    @Test func badValuesAreNamedWithTheirKey() {
        let worker: JSON = ["name": "w1", "type": "worker", "root": "/var/ossec", "master": "m"]
        #expect(error(Self.master, ha: ["lease_ttl": 10]).contains("ha.etcd: is required when ha is given"))
        #expect(error(Self.master, ha: ["etcd": "https://10.0.0.3:2379"]).contains("https is not supported"))
        #expect(error(Self.master, ha: ["etcd": "http://10.0.0.3:99999"]).contains("ha.etcd"))
        #expect(error(Self.master, ha: ["etcd": []]).contains("ha.etcd: must not be an empty list"))
        #expect(error(Self.master, ha: ["etcd": [1]]).contains("ha.etcd: every entry must be a non-empty string"))
        #expect(error(Self.master, ha: ["etcd": "e:2379", "lease_ttl": 1]).contains("ha.lease_ttl: must be from 2 to 300"))
        #expect(error(Self.master, ha: ["etcd": "e:2379", "advertise": "nohost"]).contains("ha.advertise: must be HOST:PORT"))
        #expect(error(Self.master, ha: ["etcd": "e:2379", "leasettl": 4]).contains("did you mean lease_ttl"))
        var bad = worker
        bad["master"] = ["m1", "m2:0"]
        #expect(error(bad).contains("node.master: must be HOST or HOST:PORT (or a list of them), got \"m2:0\""))
        bad["master"] = .int(5)
        #expect(error(bad).contains("node.master: must be a string or a list of strings"))
    }
}
