import ClusterKit
import Foundation
import NIOCore

/// The master's side of the distributed API (dapi §3.3–§4): requests from its local socket and
/// from workers, routing, the fan-out to the nodes concerned, and the answers workers send back.
///
/// Wire forms, as the reference: a worker relays a request as `dapi '<id> <json>'` and gets
/// `dapi_res '<id> <string id>'` (the answer sent first with `new_str`/`str_upd`) or
/// `dapi_err '<id> <error>'`; the master asks a worker the same way. Ids are a process-wide
/// counter, and an answer is taken only from the worker the request was sent to.
extension MasterNode {
    static let dapiQueued = "Added request to API requests queue"

    var dapiContext: NodeDapiContext {
        NodeDapiContext(context: context, runtime: dapi,
                        nodes: { [self] in nodeList() },
                        health: { [self] filter in health(filter: filter) },
                        connections: { [self] in ["workers": .int(Int64(registry.count)), "local_clients": .int(Int64(localClientCount))] },
                        agents: { [self] in StoreAgentSource(store: try agents.open(), node: config.nodeName) })
    }

    // MARK: the local socket

    /// `dapi <json>`: acknowledged at once; the answer follows as `new_str`/`str_upd` and
    /// `dapi_res <string id>` on the same connection. A request that does not pass the checks is
    /// answered `err` at once, and nothing runs.
    func dapiLocal(_ r: IncomingRequest, from client: ClusterConnection) throws -> Reply {
        let prepared = try dapi.prepare(r.payload, from: "a local client")
        context.tasks.spawn(boundTo: client) {
            let answer = await self.dapiProcess(prepared)
            await self.dapiDeliver(answer.bytes, to: client)
        }
        return .ok(MasterNode.dapiQueued)
    }

    /// `dapi_fwd '<node> <json>'`: the request runs on that node only.
    func dapiForwardLocal(_ r: IncomingRequest, from client: ClusterConnection) throws -> Reply {
        guard let (node, body) = r.splitFirstSpace() else { throw DapiError.refused("dapi_fwd needs '<node> <request>'") }
        let prepared = try dapi.prepare(body, from: "a local client")
        let one = prepared.narrowed(to: prepared.arguments.values)
        if node == config.nodeName {
            context.tasks.spawn(boundTo: client) { await self.dapiDeliver(await self.dapi.execute(one, on: self.dapiContext).bytes, to: client) }
        } else {
            guard let session = registry.session(node) else { throw ClusterError.wazuh(3022, node) }
            context.tasks.spawn(boundTo: client) { await self.dapiDeliver(await self.dapiAsk(one.request, session: session), to: client) }
        }
        return .ok("Request forwarded to worker node")
    }

    func dapiDeliver(_ bytes: [UInt8], to client: ClusterConnection) async {
        do {
            try await client.sendDapiAnswer(bytes, prefix: nil)
        } catch {
            dapi.logger.debug("Could not deliver a distributed API answer to a local client: \(error)")
        }
    }

    // MARK: workers

    /// `dapi '<id> <json>'` from a worker (a request made on that worker).
    func dapiFromWorker(_ r: IncomingRequest, session: MasterWorkerSession) throws -> Reply {
        guard let (id, body) = r.splitFirstSpace(), !id.isEmpty else {
            throw DapiError.refused("dapi from a worker needs '<id> <request>'")
        }
        let conn = session.connection
        let origin = "worker \(session.name ?? conn.peerAddress)"
        context.tasks.spawn(boundTo: conn) {
            let prepared: PreparedRequest
            do {
                prepared = try self.dapi.prepare(body, from: origin)
            } catch {
                _ = try? await conn.request(ClusterCommand.dapiError, Array("\(id) ".utf8) + WireError.payload(DapiRuntime.clusterError(error)))
                return
            }
            let answer = await self.dapiProcess(prepared)
            do {
                try await conn.sendDapiAnswer(answer.bytes, prefix: id)
            } catch {
                self.dapi.logger.debug("Could not send a distributed API answer to \(origin): \(error)")
            }
        }
        return .ok(MasterNode.dapiQueued)
    }

    /// `dapi_res '<id> <string id>'`: a worker's answer to a request we sent it.
    func dapiResponse(_ r: IncomingRequest, session: MasterWorkerSession) throws -> Reply {
        guard let name = session.name, let (id, sidBytes) = r.splitFirstSpace() else {
            throw ClusterError.wazuh(3032, "dapi_res needs '<id> <string id>'")
        }
        let sid = String(decoding: sidBytes, as: UTF8.self)
        let bytes = Result { try session.connection.takeString(sid) }
        guard dapi.resolve(id: id, peer: name, bytes) else { throw ClusterError.wazuh(3032, id) }
        return .ok("Distributed api response received")
    }

    /// `dapi_err '<id> <error>'`: a worker could not run a request we sent it.
    func dapiErrorFromWorker(_ r: IncomingRequest, session: MasterWorkerSession) throws -> Reply {
        guard let name = session.name, let (id, text) = r.splitFirstSpace() else {
            throw ClusterError.wazuh(3032, "dapi_err needs '<id> <error>'")
        }
        guard dapi.resolve(id: id, peer: name, .success(DapiAnswer.errorText(text))) else { throw ClusterError.wazuh(3032, id) }
        return .ok("Response received")
    }

    func dapiWorkerDisconnected(_ session: MasterWorkerSession) {
        guard let name = session.name else { return }
        dapi.failAll(peer: name, ClusterError.wazuh(3018, "\(name) disconnected before answering"))
    }

    // MARK: routing

    /// Where a request runs (dapi §3.3): here for `local_any`, `local_master`, a request another
    /// node already fanned out, and anything only the master answers; otherwise the fan-out.
    func dapiProcess(_ p: PreparedRequest) async -> DapiAnswer {
        if p.operation.placement == .master || p.request.requestType != .distributedMaster || p.request.fromCluster {
            return await dapi.execute(p, on: dapiContext)
        }
        return await dapiFanOut(p)
    }

    /// Asks every node concerned at once (dapi §3.4): the nodes named by `node_id`/`node_list`,
    /// else the owners of the agents named by `agent_list`, else every node; then merges.
    func dapiFanOut(_ p: PreparedRequest) async -> DapiAnswer {
        let op = p.operation
        var args = p.arguments.values
        if case .items = op.merge {
            do { args = try DapiPaging(p.arguments, strategy: op.merge).forwarded(args) } catch {
                return .failure(DapiRuntime.clusterError(error))
            }
        }
        let me = config.nodeName
        let nodes = nodeList().map(\.name)
        var plan: [(node: String, args: JSONObject)] = []
        var answers: [ResultMerge.NodeAnswer] = []
        if let names = p.targetNodes {
            var seen = Set<String>()
            for n in names where seen.insert(n).inserted {
                if nodes.contains(n) { plan.append((n, args)) } else {
                    answers.append(.init(node: n, answer: .failure(ClusterError.wazuh(1730, n))))
                }
            }
        } else if op.agentRouted, let ids = (try? p.arguments.list("agent_list")) ?? nil, !ids.isEmpty {
            do {
                // A store read: on the DAPI pool, never on the cooperative pool.
                let source = dapiContext
                let owners = try await context.dapiPool.runIfActive { try source.agentSource().owners(of: ids) }
                var placed = Set<String>()
                for node in owners.keys.sorted() {
                    var a = args
                    a["agent_list"] = .array(owners[node]!.map(JSON.string))
                    placed.formUnion(owners[node]!)
                    plan.append((node, a))
                }
                // Ids no node owns: the master answers for them ("agent does not exist").
                let unowned = ids.filter { !placed.contains($0) }
                if !unowned.isEmpty {
                    if let i = plan.firstIndex(where: { $0.node == me }) {
                        let mine = plan[i].args["agent_list"]?.arrayValue ?? []
                        plan[i].args["agent_list"] = .array(mine + unowned.map(JSON.string))
                    } else {
                        var a = args
                        a["agent_list"] = .array(unowned.map(JSON.string))
                        plan.append((me, a))
                    }
                }
            } catch {
                return .failure(DapiRuntime.clusterError(error))
            }
        } else {
            plan = nodes.map { ($0, args) }
        }
        let planned = plan
        let results = await withTaskGroup(of: (Int, DapiAnswer).self) { group in
            for (i, target) in planned.enumerated() {
                group.addTask {
                    let one = p.narrowed(to: target.args)
                    if target.node == me { return (i, await self.dapi.execute(one, on: self.dapiContext)) }
                    guard let session = self.registry.session(target.node) else {
                        return (i, .failure(ClusterError.wazuh(3022, target.node)))
                    }
                    return (i, DapiAnswer(bytes: await self.dapiAsk(one.request, session: session)))
                }
            }
            var out = [DapiAnswer?](repeating: nil, count: planned.count)
            for await (i, a) in group { out[i] = a }
            return out
        }
        for (i, target) in planned.enumerated() { answers.append(.init(node: target.node, answer: results[i]!)) }
        do {
            return .result(try ResultMerge.merge(answers, strategy: op.merge, arguments: p.arguments))
        } catch {
            return .failure(DapiRuntime.clusterError(error))
        }
    }

    /// Sends `request` to one worker and returns its answer (a result or an exception, as JSON).
    func dapiAsk(_ request: DapiRequest, session: MasterWorkerSession) async -> [UInt8] {
        guard let name = session.name else { return WireError.payload(ClusterError.wazuh(3022, session.connection.peerAddress)) }
        return await dapi.ask(request, over: session.connection, peer: name, hops: 1)
    }
}
