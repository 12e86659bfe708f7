import ClusterKit
import Foundation
import NIOCore

/// The worker's side of the distributed API: requests from its local socket (run here when they
/// are `local_any`, else relayed to the master as `dapi '<id> <json>'`), and requests the master
/// sends it (always run here, answered with `dapi_res '<id> <string id>'`).
extension WorkerNode {
    static let masterPeer = "master"

    var dapiContext: NodeDapiContext {
        NodeDapiContext(context: context, runtime: dapi,
                        nodes: { throw NodeDapiContext.notMaster("the node list") },
                        health: { _ in throw NodeDapiContext.notMaster("the cluster's health") },
                        connections: { [self] in
                            ["master": .int(masterConnection == nil ? 0 : 1), "local_clients": .int(Int64(localClientCount))]
                        },
                        agents: { [self] in StoreAgentSource(store: try agents.open(), node: config.nodeName) })
    }

    /// Whether a request made on this worker runs here (the reference's rule 1 of §3.3).
    static func runsHere(_ p: PreparedRequest) -> Bool {
        p.operation.placement == .anyNode && (p.request.requestType == .localAny || p.request.fromCluster)
    }

    /// `dapi <json>` on the local socket: run here, or relayed to the master; either way the
    /// answer is a future on the client's event loop.
    func dapiLocal(_ r: IncomingRequest, from client: ClusterConnection) throws -> Reply {
        let prepared = try dapi.prepare(r.payload, from: "a local client")
        let answer: EventLoopFuture<DapiAnswer>
        if WorkerNode.runsHere(prepared) {
            answer = dapi.execute(prepared, on: dapiContext, loop: client.eventLoop)
        } else {
            guard let master = masterConnection else { throw ClusterError.wazuh(3023) }
            var request = prepared.request
            // An operation only the master answers, asked as local_any here.
            if request.requestType == .localAny { request.requestType = .localMaster }
            answer = dapiRelay(request, master: master).map(DapiAnswer.init(bytes:))
        }
        dapi.deliver(answer, to: client, prefix: nil, reference: prepared.request.reference)
        return .ok(MasterNode.dapiQueued)
    }

    /// Sends a request made here to the master; the future has its answer. The request is sent
    /// re-serialized from what was parsed: fields we ignore (a caller's RBAC policies) are not
    /// passed on.
    func dapiRelay(_ request: DapiRequest, master: ClusterConnection) -> EventLoopFuture<[UInt8]> {
        // The master may itself wait for other nodes: one more hop. A reference master is sent
        // the table's code reference, or nothing (`DapiRuntime.ask`).
        masterKind.kind(on: master.eventLoop).flatMap { [dapi] kind in
            dapi.ask(request, over: master, peer: WorkerNode.masterPeer, kind: kind, hops: 2)
        }
    }

    /// `dapi '<id> <json>'` from the master: run here, answer with `dapi_res '<id> <sid>'`.
    func dapiFromMaster(_ r: IncomingRequest, on conn: ClusterConnection) throws -> Reply {
        guard let (id, body) = r.splitFirstSpace(), !id.isEmpty else {
            throw DapiError.refused("dapi from the master needs '<id> <request>'")
        }
        let loop = conn.eventLoop
        let prepared = dapi.prepare(body, from: "the master", loop: loop)
        prepared.whenComplete { [self] p in
            switch p {
            case .success(let p):
                dapi.deliver(dapi.execute(p, on: dapiContext, loop: loop), to: conn, prefix: id, reference: p.request.reference)
            case .failure(let error):
                _ = conn.requestFuture(ClusterCommand.dapiError, Array("\(id) ".utf8) + WireError.payload(DapiRuntime.clusterError(error)))
            }
        }
        return .ok(MasterNode.dapiQueued)
    }

    /// `dapi_res '<id> <string id>'`: the master's answer to a request relayed from here.
    func dapiResponse(_ r: IncomingRequest, on conn: ClusterConnection) throws -> Reply {
        guard let (id, sidBytes) = r.splitFirstSpace() else { throw ClusterError.wazuh(3032, "dapi_res needs '<id> <string id>'") }
        let bytes = Result { try conn.takeString(String(decoding: sidBytes, as: UTF8.self)) }
        guard dapi.resolve(id: id, peer: WorkerNode.masterPeer, bytes) else { throw ClusterError.wazuh(3032, id) }
        return .ok("Distributed api response received")
    }

    /// `dapi_err '<id> <error>'` from the master.
    func dapiErrorFromMaster(_ r: IncomingRequest) throws -> Reply {
        guard let (id, text) = r.splitFirstSpace() else { throw ClusterError.wazuh(3032, "dapi_err needs '<id> <error>'") }
        guard dapi.resolve(id: id, peer: WorkerNode.masterPeer, .success(DapiAnswer.errorText(text))) else {
            throw ClusterError.wazuh(3032, id)
        }
        return .ok("Response received")
    }

    func dapiMasterDisconnected() {
        dapi.failAll(peer: WorkerNode.masterPeer, ClusterError.wazuh(3023, "the connection was lost before the master answered"))
    }
}
