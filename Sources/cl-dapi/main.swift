import ArgumentParser
import ClusterCLI
import ClusterKit
import ClusterNode
import Foundation
import NodeCLI

@main
struct CLDapi: ToolCommand {
    static let configuration = CommandConfiguration(
        commandName: "cl-dapi",
        abstract: "Call the cluster's distributed API: operations registered by name, routed and merged.",
        discussion: """
        A request names an operation compiled into the tools (cl-dapi operations lists them); \
        nothing else runs. A reference-style {"__callable__": ...} request is answered only when \
        its code reference is in the compiled-in table of the reference's common endpoints, in \
        the reference's result encoding; any other is refused. A reference (Wazuh) node is never \
        sent an operation by name: it gets the table's code reference, or the node is a failed \
        item that says why. \
        local_any runs on the node asked, local_master on the master, distributed_master on every \
        node concerned: the master asks them at once and merges their answers, with sort, offset \
        and limit applied once over the merged items. A node that fails or does not answer in time \
        is listed in failed_items with its error; the others still answer.

        Exit status: 0 every node answered, 1 the result lists failed items (it is still printed), \
        64 usage, 65 bad request (unknown operation, code reference, bad argument), 66 \
        configuration file missing, 69 node not running or not connected, or a reference node \
        refused (or cannot be sent) the request, 70 internal error, 75 \
        timeout, 78 bad configuration.
        """,
        version: ToolVersion.versionLine,
        subcommands: [Call.self, Operations.self])
}

struct Call: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an operation through the local node and print the merged result (JSON).",
        discussion: """
        Without OPERATION, a whole request is read from standard input, with the reference's \
        fields (f, f_kwargs, request_type, wait_for_complete, from_cluster, nodes, api_timeout, \
        broadcasting), f being an operation's name. --nodes and --all imply distributed_master; \
        otherwise the operation's default type is used. The result is \
        {"affected_items", "total_affected_items", "failed_items", "total_failed_items"}.

        Examples:

        cl-dapi call agents.list --all --args '{"limit":10,"sort":"name"}'
        cl-dapi call node.logs --nodes worker-1 --args '{"level":"error"}'
        echo '{"f": "cluster.health", "request_type": "local_master"}' |
          cl-dapi call
        """)

    @Argument(help: ArgumentHelp("The operation to run; without it, a request JSON is read from standard input.", valueName: "operation"),
              completion: .list(OperationRegistry.standard.operations.map(\.name)))
    var operation: String?

    @Option(help: ArgumentHelp("Ask these nodes only (comma-separated names).", valueName: "names"),
            completion: .custom { words, _, prefix in await NodeNameCompletion.names(words: words, prefix: prefix) })
    var nodes: String?

    @Flag(help: "Ask every node.")
    var all = false

    @Option(help: ArgumentHelp("The operation's arguments: a JSON object (f_kwargs).", valueName: "json"))
    var args: String?

    @Option(help: ArgumentHelp("Request type: local_any, local_master or distributed_master.", valueName: "type"),
            completion: .list(DapiRequestType.allCases.map(\.rawValue)))
    var type: String?

    @Option(help: ArgumentHelp("Seconds the operation may run on each node (api_timeout; default 10).", valueName: "seconds"))
    var timeout: Double?

    @Flag(help: "No execution deadline (wait_for_complete); the transport timeout still bounds the wait.")
    var waitForComplete = false

    @OptionGroup var node: NodeOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if nodes != nil && all { throw ValidationError("--nodes and --all exclude each other") }
        if let type, DapiRequestType(rawValue: type) == nil {
            throw ValidationError("--type must be local_any, local_master or distributed_master")
        }
        if let timeout, !(timeout > 0 && timeout <= DapiRequest.maxTimeout) {
            throw ValidationError("--timeout must be above 0 and at most \(Int(DapiRequest.maxTimeout)) seconds")
        }
        if operation == nil && (nodes != nil || all || args != nil || type != nil || timeout != nil || waitForComplete) {
            throw ValidationError("with a request on standard input, give no other option than --config or --socket")
        }
    }

    func request() throws -> [UInt8] {
        guard let operation else {
            try StandardStreams.requireInput("a request as JSON", hint: "pipe it in, or name an operation (cl-dapi operations lists them) and use --args")
            let bytes = try StandardStreams.readAll(limit: 64 << 20)
            guard !bytes.isEmpty else { throw ClusterError.usage("no operation given and no request on standard input") }
            return bytes
        }
        var arguments = JSONObject()
        if let args {
            let parsed: JSON
            do { parsed = try JSON.parse(args, source: "--args") } catch let e as ClusterError {
                throw ClusterError.badData(e.message)
            }
            guard case .object(let o) = parsed else { throw ClusterError.badData("--args must be a JSON object, got \(parsed.typeName)") }
            arguments = o
        }
        var requestType = type.flatMap(DapiRequestType.init(rawValue:))
        if let nodes {
            arguments["node_list"] = .array(nodes.split(separator: ",").map { JSON.string(String($0)) })
            requestType = requestType ?? .distributedMaster
        }
        if all { requestType = requestType ?? .distributedMaster }
        let defaultType = OperationRegistry.standard.operation(named: operation)?.defaultRequestType ?? .localMaster
        let r = DapiRequest(operation: operation, arguments: arguments, requestType: requestType ?? defaultType,
                            waitForComplete: waitForComplete, apiTimeout: timeout, broadcasting: all)
        return r.bytes
    }

    /// How long to wait for the node: the transport timeout, or less when the request has a
    /// deadline (it may cross the master and one more node: two request timeouts more).
    func waitLimit() -> Double {
        let intervals = try? node.loadConfig().intervals
        let transport = intervals?.timeoutDapiRequest ?? 200
        guard let timeout, !waitForComplete else { return transport }
        return min(transport, timeout + 3 * (intervals?.timeoutClusterRequest ?? 20))
    }

    func run() async throws {
        let payload = try request()
        let answer = try await node.client(timeout: waitLimit()).request(ClusterCommand.dapi, payload)
        let json: JSON
        do { json = try JSON.parse(answer, source: "the node's answer") } catch {
            throw ClusterError.badData("the node answered with something that is not JSON: \(String(decoding: answer.prefix(200), as: UTF8.self))", code: 3036)
        }
        let result = try DapiResult(json: json)
        StandardStreams.writeJSONDocument(json)
        if result.hasFailures { throw ExitCode(ExitStatus.difference.rawValue) }
    }
}

struct Operations: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the operations the distributed API runs (JSON).",
        discussion: "Each with its summary, where it runs (master or any node), its default request type and its arguments.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let list: [JSON] = OperationRegistry.standard.operations.map { op in
            ["name": .string(op.name), "summary": .string(op.summary),
             "placement": .string(op.placement == .master ? "master" : "any"),
             "default_type": .string(op.defaultRequestType.rawValue),
             "arguments": .array(op.argumentNames.sorted().map(JSON.string))]
        }
        StandardStreams.writeJSONDocument(.array(list))
    }
}
