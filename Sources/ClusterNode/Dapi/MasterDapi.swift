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
    /// answered `err` at once, and nothing runs. Everything happens on the client's event loop,
    /// as futures: no task and no thread hand-off for an operation that only reads memory.
    func dapiLocal(_ r: IncomingRequest, from client: ClusterConnection) throws -> Reply {
        let prepared = try dapi.prepare(r.payload, from: "a local client")
        dapi.deliver(dapiProcess(prepared, loop: client.eventLoop), to: client, prefix: nil, reference: prepared.request.reference)
        return .ok(MasterNode.dapiQueued)
    }

    /// `dapi_fwd '<node> <json>'`: the request runs on that node only.
    func dapiForwardLocal(_ r: IncomingRequest, from client: ClusterConnection) throws -> Reply {
        guard let (node, body) = r.splitFirstSpace() else { throw DapiError.refused("dapi_fwd needs '<node> <request>'") }
        let prepared = try dapi.prepare(body, from: "a local client")
        let one = prepared.narrowed(to: prepared.arguments.values)
        let reference = prepared.request.reference
        if node == config.nodeName {
            dapi.deliver(dapi.execute(one, on: dapiContext, loop: client.eventLoop), to: client, prefix: nil, reference: reference)
        } else {
            guard let session = registry.session(node) else { throw ClusterError.wazuh(3022, node) }
            dapi.deliver(dapiAsk(one.request, session: session).map(DapiAnswer.init(bytes:)), to: client, prefix: nil, reference: reference)
        }
        return .ok("Request forwarded to worker node")
    }

    // MARK: workers

    /// `dapi '<id> <json>'` from a worker (a request made on that worker).
    func dapiFromWorker(_ r: IncomingRequest, session: MasterWorkerSession) throws -> Reply {
        guard let (id, body) = r.splitFirstSpace(), !id.isEmpty else {
            throw DapiError.refused("dapi from a worker needs '<id> <request>'")
        }
        let conn = session.connection
        let origin = "worker \(session.name ?? conn.peerAddress)"
        let loop = conn.eventLoop
        dapi.prepare(body, from: origin, loop: loop).whenComplete { [self] prepared in
            switch prepared {
            case .success(let p):
                dapi.deliver(dapiProcess(p, loop: loop), to: conn, prefix: id, reference: p.request.reference)
            case .failure(let error):
                _ = conn.requestFuture(ClusterCommand.dapiError, Array("\(id) ".utf8) + WireError.payload(DapiRuntime.clusterError(error)))
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
    func dapiProcess(_ p: PreparedRequest, loop: EventLoop) -> EventLoopFuture<DapiAnswer> {
        if p.operation.placement == .master || p.request.requestType != .distributedMaster || p.request.fromCluster {
            return dapi.execute(p, on: dapiContext, loop: loop)
        }
        return dapiFanOut(p, loop: loop)
    }

    /// Asks every node concerned at once (dapi §3.4): the nodes named by `node_id`/`node_list`,
    /// else the owners of the agents named by `agent_list`, else every node; then merges. The
    /// asks are futures on `loop`; only the agent owners' lookup (a store read) and a large merge
    /// leave it, for the DAPI pool.
    func dapiFanOut(_ p: PreparedRequest, loop: EventLoop) -> EventLoopFuture<DapiAnswer> {
        let op = p.operation
        var args = p.arguments.values
        if case .items = op.merge {
            do { args = try DapiPaging(p.arguments, strategy: op.merge).forwarded(args) } catch {
                return loop.makeSucceededFuture(.failure(DapiRuntime.clusterError(error)))
            }
        }
        let forwarded = args
        let plan: EventLoopFuture<DapiPlan>
        if p.targetNodes == nil, op.agentRouted, let ids = (try? p.arguments.list("agent_list")) ?? nil, !ids.isEmpty {
            let source = dapiContext, me = config.nodeName
            plan = context.dapiPool.runIfActive(eventLoop: loop) {
                DapiPlan.byOwner(ids, owners: try source.agentSource().owners(of: ids), args: forwarded, me: me)
            }
        } else {
            plan = loop.makeSucceededFuture(DapiPlan.byNode(p.targetNodes, known: nodeList().map(\.name), args: forwarded))
        }
        return plan.flatMap { plan in
            let asked = plan.targets.map { target -> EventLoopFuture<ResultMerge.NodeAnswer> in
                let one = p.narrowed(to: target.args)
                let answer: EventLoopFuture<DapiAnswer>
                if target.node == self.config.nodeName {
                    answer = self.dapi.execute(one, on: self.dapiContext, loop: loop)
                } else if let session = self.registry.session(target.node) {
                    answer = self.dapiAsk(one.request, session: session).map(DapiAnswer.received)
                } else {
                    answer = loop.makeSucceededFuture(.failure(ClusterError.wazuh(3022, target.node)))
                }
                return answer.hop(to: loop).map { ResultMerge.NodeAnswer(node: target.node, answer: $0) }
            }
            return EventLoopFuture.whenAllSucceed(asked, on: loop).flatMap { answers in
                let all = plan.unknown + answers
                let merge = { () -> DapiAnswer in
                    do { return try ResultMerge.answer(all, strategy: op.merge, arguments: p.arguments) } catch {
                        return .failure(DapiRuntime.clusterError(error))
                    }
                }
                if !ResultMerge.isLarge(answers) { return loop.makeSucceededFuture(merge()) }
                return self.context.dapiPool.runIfActive(eventLoop: loop, merge)
            }
        }.flatMapErrorThrowing { .failure(DapiRuntime.clusterError($0)) }
    }

    /// Sends `request` to one worker; the future has its answer (a result or an exception, as
    /// JSON). A reference worker is sent the table's code reference, or nothing (`DapiRuntime.ask`).
    func dapiAsk(_ request: DapiRequest, session: MasterWorkerSession) -> EventLoopFuture<[UInt8]> {
        let conn = session.connection
        guard let name = session.name else {
            return conn.eventLoop.makeSucceededFuture(WireError.payload(ClusterError.wazuh(3022, conn.peerAddress)))
        }
        return session.peer.kind(on: conn.eventLoop).flatMap { [dapi] kind in
            dapi.ask(request, over: conn, peer: name, kind: kind, hops: 1)
        }
    }
}

/// Which nodes a fan-out asks, with the arguments each gets, and the nodes named that do not
/// exist (failed items at once).
struct DapiPlan: Sendable {
    var targets: [(node: String, args: JSONObject)] = []
    var unknown: [ResultMerge.NodeAnswer] = []

    /// The nodes named by `node_id`/`node_list` (each once), or every node.
    static func byNode(_ names: [String]?, known: [String], args: JSONObject) -> DapiPlan {
        var plan = DapiPlan()
        guard let names else {
            plan.targets = known.map { ($0, args) }
            return plan
        }
        var seen = Set<String>()
        for n in names where seen.insert(n).inserted {
            if known.contains(n) { plan.targets.append((n, args)) } else {
                plan.unknown.append(.init(node: n, answer: .failure(ClusterError.wazuh(1730, n))))
            }
        }
        return plan
    }

    /// The owners of the agents named, each asked for its own; the ids no node owns go to the
    /// master, which answers for them ("agent does not exist").
    static func byOwner(_ ids: [String], owners: [String: [String]], args: JSONObject, me: String) -> DapiPlan {
        var plan = DapiPlan()
        var placed = Set<String>()
        for node in owners.keys.sorted() {
            var a = args
            a["agent_list"] = .array(owners[node]!.map(JSON.string))
            placed.formUnion(owners[node]!)
            plan.targets.append((node, a))
        }
        let unowned = ids.filter { !placed.contains($0) }
        if !unowned.isEmpty {
            if let i = plan.targets.firstIndex(where: { $0.node == me }) {
                let mine = plan.targets[i].args["agent_list"]?.arrayValue ?? []
                plan.targets[i].args["agent_list"] = .array(mine + unowned.map(JSON.string))
            } else {
                var a = args
                a["agent_list"] = .array(unowned.map(JSON.string))
                plan.targets.append((me, a))
            }
        }
        return plan
    }
}
