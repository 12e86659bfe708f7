import ClusterKit
import Foundation
import NIOCore

/// What `cl-master ha status` shows: etcd's view of the election (the leader, its term, every
/// campaigning master) and, when the master on this root is running, its own view.
public enum HAStatus {
    static let notConfigured = ClusterError.wazuh(3111, "failover is not configured on this master (no ha section in its configuration)")

    /// A running master's own state (the `ha_status` local command).
    static func local(_ e: LeaderElection, standby: StandbyLink?, followers: [(NodeInfo, WorkerSyncStatus)], workers: Int,
                      serving: Bool) -> JSON {
        let s = e.snapshot
        var o: JSON = ["node": .string(e.nodeName), "role": .string(s.role.rawValue), "serving": .bool(serving),
                       "workers": .int(Int64(workers)), "since": .string(ClusterDate.format(s.since)),
                       "elections_won": .int(Int64(s.elections)), "lease_ttl": .double(e.config.leaseTTL)]
        if let leader = s.leader { o["term"] = .int(leader.revision) }
        if s.lease != 0 { o["lease"] = .string(String(s.lease, radix: 16)) }
        if let note = s.note { o["note"] = .string(note) }
        if s.role == .leader {
            // How far behind each follower is: its last integrity check with this leader.
            o["followers"] = .array(followers.map { info, st in
                ["node": .string(info.name), "ip": .string(info.ip), "last_check_end": .string(st.integrityCheckEnd),
                 "last_sync_end": .string(st.integritySyncEnd), "files_missing": .int(Int64(st.filesMissing)),
                 "files_extra": .int(Int64(st.filesExtra))]
            })
        } else if let standby {
            var link: JSON = ["connected": .bool(standby.isConnected)]
            if let t = standby.lastInSync {
                link["last_in_sync"] = .string(ClusterDate.format(t))
                link["seconds_since_in_sync"] = .double((Date().timeIntervalSince(t) * 10).rounded() / 10)
            } else {
                link["last_in_sync"] = .null
            }
            o["standby"] = link
        }
        return o
    }

    /// etcd's view of `config`'s election: `{"election", "revision", "leader", "masters": [...]}`.
    /// The leader is the campaigner with the lowest create revision, which is its term.
    public static func query(_ config: ClusterConfig, group: EventLoopGroup) async throws -> JSON {
        guard let ha = config.ha else { throw notConfigured }
        let client = EtcdClient(endpoints: ha.etcd, group: group)
        let candidates: [EtcdClient.Candidate], revision: Int64
        do {
            (candidates, revision) = try await client.candidates(election: ha.election)
        } catch let e as EtcdClient.Failure {
            throw ClusterError.unavailable("\(e)")
        }
        var masters: [JSON] = []
        for (i, c) in candidates.enumerated() {
            let parsed = LeaderElection.parseValue(c.value)
            var m: JSON = ["node": .string(parsed?.node ?? "?"), "address": .string(parsed?.address?.description ?? ""),
                           "role": .string(i == 0 ? "leader" : "follower"), "created_revision": .int(c.createRevision),
                           "lease": .string(String(c.lease, radix: 16))]
            if i == 0 { m["term"] = .int(c.createRevision) }
            masters.append(m)
        }
        var o: JSON = ["election": .string(ha.election), "etcd_revision": .int(revision), "masters": .array(masters),
                       "etcd": .array(ha.etcd.map { .string($0.description) })]
        o["leader"] = masters.first.map { $0["node"] ?? .null } ?? .null
        return o
    }
}
