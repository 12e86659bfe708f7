import ClusterKit
import Foundation

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

    /// `dapi <json>` on the local socket.
    func dapiLocal(_ r: IncomingRequest, from client: ClusterConnection) throws -> Reply {
        let prepared = try dapi.prepare(r.payload, from: "a local client")
        if WorkerNode.runsHere(prepared) {
            context.tasks.spawn(boundTo: client) { await self.dapiDeliver(await self.dapi.execute(prepared, on: self.dapiContext).bytes, to: client) }
        } else {
            guard let master = masterConnection else { throw ClusterError.wazuh(3023) }
            var request = prepared.request
            // An operation only the master answers, asked as local_any here.
            if request.requestType == .localAny { request.requestType = .localMaster }
            let relayed = request
            context.tasks.spawn(boundTo: client) { await self.dapiDeliver(await self.dapiRelay(relayed, master: master), to: client) }
        }
        return .ok(MasterNode.dapiQueued)
    }

    func dapiDeliver(_ bytes: [UInt8], to client: ClusterConnection) async {
        do {
            try await client.sendDapiAnswer(bytes, prefix: nil)
        } catch {
            dapi.logger.debug("Could not deliver a distributed API answer to a local client: \(error)")
        }
    }

    /// Sends a request made here to the master and waits for its answer. The request is sent
    /// re-serialized from what was parsed: fields we ignore (a caller's RBAC policies) are not
    /// passed on.
    func dapiRelay(_ request: DapiRequest, master: ClusterConnection) async -> [UInt8] {
        // The master may itself wait for other nodes: one more hop.
        await dapi.ask(request, over: master, peer: WorkerNode.masterPeer, hops: 2)
    }

    /// `dapi '<id> <json>'` from the master: run here, answer with `dapi_res '<id> <sid>'`.
    func dapiFromMaster(_ r: IncomingRequest, on conn: ClusterConnection) throws -> Reply {
        guard let (id, body) = r.splitFirstSpace(), !id.isEmpty else {
            throw DapiError.refused("dapi from the master needs '<id> <request>'")
        }
        context.tasks.spawn(boundTo: conn) {
            let prepared: PreparedRequest
            do {
                prepared = try self.dapi.prepare(body, from: "the master")
            } catch {
                _ = try? await conn.request(ClusterCommand.dapiError, Array("\(id) ".utf8) + WireError.payload(DapiRuntime.clusterError(error)))
                return
            }
            let answer = await self.dapi.execute(prepared, on: self.dapiContext)
            do {
                try await conn.sendDapiAnswer(answer.bytes, prefix: id)
            } catch {
                self.dapi.logger.debug("Could not send a distributed API answer to the master: \(error)")
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
