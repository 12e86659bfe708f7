import ClusterKit
import NIOCore

/// Everything one connection knows, as a value: the hello state, our pending requests and their
/// counters, the strings and files a peer is sending, received files waiting to be claimed, the
/// tasks the peer cancelled, and every per-connection budget.
///
/// It does no I/O. Its methods take what happened (a message arrived, a request is to be sent, a
/// file step finished, time passed, the connection closed) and return what to do; the
/// `ConnectionHandler` does it on the connection's event loop. That keeps the protocol testable
/// without sockets, and keeps every bound in one place.
struct ConnectionStateMachine {
    struct Configuration {
        /// The server side of a cluster link: nothing but one `hello` until it is accepted.
        var requireHello: Bool
        var maxTransfers: Int
        var maxStringBytes: Int
        var maxFileBytes: Int
        var transferTTL: TimeAmount
        var payloadLimits: CommandPayloadLimits
        var maxInterruptedTasks = 256
        var maxTaskIDBytes = 256
        /// The node root, under which the file inbox lies.
        var root: String
    }

    enum Phase: Equatable {
        case awaitingHello
        case helloInProgress
        case open
        case closed
    }

    struct PendingRequest {
        var command: String
        var promise: EventLoopPromise<Response>
        var timer: Scheduled<Void>?
    }

    struct InboundString {
        var expected: Int
        var data: [UInt8]
        var created: NIODeadline
    }

    struct ReceivedFile {
        var path: String
        var at: NIODeadline
    }

    /// What to do with a message that arrived.
    enum InboundAction {
        /// A response to one of our requests.
        case complete(PendingRequest, Response)
        /// A response nobody waits for: never answered.
        case drop(String)
        case reply(Reply)
        /// The role decides (the hello included).
        case handToRole(IncomingRequest)
        case openFile(relative: String, absolute: String, replacing: InboundFile?)
        case writeFile(InboundFile, [UInt8])
        case finishFile(InboundFile, digest: [UInt8])
        case abandonFile(InboundFile, Reply)
        case close(ClusterError)
    }

    /// What is left to release when the connection ends or entries expire.
    struct Leftovers {
        var pending: [PendingRequest] = []
        var files: [InboundFile] = []
        var receivedFiles: [String] = []
        var strings = 0
    }

    let configuration: Configuration
    let budget: MemoryBudget
    private(set) var phase: Phase
    private var counter: UInt32
    private var pending: [UInt32: PendingRequest] = [:]
    private var strings: [String: InboundString] = [:]
    /// Budget held by unclaimed strings.
    private(set) var stringBytes = 0
    private var files: [String: InboundFile] = [:]
    private var receivedFiles: [String: ReceivedFile] = [:]
    private var interrupted: [String] = []
    private var interruptedSet: Set<String> = []
    /// The only directory (relative to the root) a peer may send files into.
    var fileInbox: String?

    init(configuration: Configuration, budget: MemoryBudget, initialCounter: UInt32) {
        self.configuration = configuration
        self.budget = budget
        self.counter = initialCounter
        phase = configuration.requireHello ? .awaitingHello : .open
    }

    var pendingCount: Int { pending.count }
    var stringCount: Int { strings.count }
    var fileCount: Int { files.count }
    var receivedFileCount: Int { receivedFiles.count }

    // MARK: messages in

    mutating func receive(counter: UInt32, command: String, payload: [UInt8], now: NIODeadline) -> InboundAction {
        switch phase {
        case .closed:
            return .drop("the connection is closed")
        case .awaitingHello:
            guard command == ClusterCommand.hello else {
                return .close(.wazuh(1000, "'\(LogText.truncated(command, max: 16))' before hello"))
            }
            if let refusal = checkPayload(command, payload.count) { return .close(refusal) }
            phase = .helloInProgress
            return .handToRole(IncomingRequest(counter: counter, command: command, payload: payload))
        case .helloInProgress:
            return .close(.wazuh(1000, "'\(LogText.truncated(command, max: 16))' while the hello was being checked"))
        case .open:
            break
        }
        if ClusterCommand.responseNames.contains(command) {
            guard let p = pending.removeValue(forKey: counter) else {
                return .drop("no request of ours is waiting for counter \(counter)")
            }
            return .complete(p, Response(command: command, payload: payload))
        }
        if let refusal = checkPayload(command, payload.count) { return .reply(.error(refusal)) }
        let request = IncomingRequest(counter: counter, command: command, payload: payload)
        switch command {
        case ClusterCommand.echo: return .reply(.ok(payload))
        case ClusterCommand.newString: return newString(request, now: now)
        case ClusterCommand.stringUpdate: return stringUpdate(request)
        case ClusterCommand.errorString: return errorString(request)
        case ClusterCommand.newFile: return newFile(request)
        case ClusterCommand.fileUpdate: return fileUpdate(request)
        case ClusterCommand.fileEnd: return fileEnd(request)
        case ClusterCommand.cancelTask: return cancelTask(request)
        default: return .handToRole(request)
        }
    }

    private func checkPayload(_ command: String, _ count: Int) -> ClusterError? {
        do { try configuration.payloadLimits.check(command: command, payloadCount: count) } catch {
            return error as? ClusterError ?? .wazuh(1000, "\(error)")
        }
        return nil
    }

    /// The role answered the hello: accepted opens the connection, anything else closes it.
    mutating func helloAnswered(accepted: Bool) {
        guard phase == .helloInProgress else { return }
        phase = accepted ? .open : .closed
    }

    // MARK: requests out

    /// A counter for a new request of ours (never one of our own pending ones); nil once closed.
    mutating func startRequest(_ command: String, promise: EventLoopPromise<Response>) -> UInt32? {
        guard phase != .closed else { return nil }
        repeat { counter &+= 1 } while pending[counter] != nil
        pending[counter] = PendingRequest(command: command, promise: promise, timer: nil)
        return counter
    }

    mutating func setTimer(_ timer: Scheduled<Void>, for counter: UInt32) {
        pending[counter]?.timer = timer
    }

    /// The request timed out, or could not be written: it is no longer pending.
    mutating func abandonRequest(_ counter: UInt32) -> PendingRequest? {
        pending.removeValue(forKey: counter)
    }

    // MARK: strings (wire §6)

    private mutating func newString(_ r: IncomingRequest, now: NIODeadline) -> InboundAction {
        guard let n = Int(r.text), n >= 0 else {
            return .reply(.error(.wazuh(1000, "new_str needs a decimal length, got '\(LogText.truncated(r.text, max: 32))'")))
        }
        guard n <= configuration.maxStringBytes else {
            return .reply(.error(.wazuh(1000, "string of \(n) bytes exceeds the \(configuration.maxStringBytes)-byte limit")))
        }
        guard strings.count + files.count < configuration.maxTransfers else {
            return .reply(.error(.wazuh(1000, "too many strings and files in flight on this connection (\(configuration.maxTransfers))")))
        }
        var id: String
        repeat { id = String(SecureRandom.uint32()) } while strings[id] != nil
        var data = [UInt8]()
        data.reserveCapacity(min(n, 1 << 16))
        strings[id] = InboundString(expected: n, data: data, created: now)
        return .reply(.ok(id))
    }

    private mutating func stringUpdate(_ r: IncomingRequest) -> InboundAction {
        guard let (id, slice) = r.splitFirstSpace() else { return .reply(.error(.wazuh(1000, "str_upd needs '<id> <data>'"))) }
        // Taken out and put back so the append happens in place, not on a copy.
        guard var s = strings.removeValue(forKey: id) else {
            return .reply(.error(.wazuh(3035, "no string with id \(LogText.truncated(id, max: 32))")))
        }
        // The reference silently drops bytes past the announced length; so do we.
        let take = min(slice.count, s.expected - s.data.count)
        guard budget.reserve(take) else {
            stringBytes -= s.data.count
            budget.release(s.data.count)
            return .close(.wazuh(1000, "the node's buffer budget (\(budget.limit) bytes, limits.max_buffered_bytes) is exhausted"))
        }
        stringBytes += take
        s.data.append(contentsOf: slice.prefix(take))
        strings[id] = s
        return .reply(.ok("String updated"))
    }

    private mutating func errorString(_ r: IncomingRequest) -> InboundAction {
        guard let n = Int(r.text) else { return .reply(.ok("None")) }
        guard let (id, _) = strings.first(where: { $0.value.expected == n && $0.value.data.isEmpty }) else {
            return .reply(.ok("None"))
        }
        strings.removeValue(forKey: id)
        return .reply(.ok(id))
    }

    /// Takes a received string by id; an error when it is unknown or incomplete (and then it is
    /// dropped: a consumer never gets a string with a hole in it).
    mutating func takeString(_ id: String) throws -> [UInt8] {
        guard let s = strings.removeValue(forKey: id) else {
            throw ClusterError.wazuh(3035, "no string with id \(LogText.truncated(id, max: 32))")
        }
        stringBytes -= s.data.count
        budget.release(s.data.count)
        guard s.data.count == s.expected else {
            throw ClusterError.wazuh(3035, "string \(id) is incomplete: \(s.data.count) of \(s.expected) bytes arrived")
        }
        return s.data
    }

    // MARK: files (wire §7.1)

    /// Paths arrive with a leading `/`, relative to the node root; only `/<inbox>/<one name>` is
    /// accepted, so a peer can never write anywhere else.
    private func inboxPath(_ wire: String) throws -> (relative: String, absolute: String) {
        guard let inbox = fileInbox else { throw ClusterError.wazuh(1000, "this connection does not accept files") }
        guard wire.hasPrefix("/") else { throw ClusterError.wazuh(1000, "file path must start with '/': \(LogText.truncated(wire, max: 80))") }
        let rel = String(wire.dropFirst())
        let prefix = inbox + "/"
        guard rel.hasPrefix(prefix) else {
            throw ClusterError.wazuh(1000, "file path \(LogText.truncated(wire, max: 200)) is outside this connection's directory /\(inbox)")
        }
        let name = String(rel.dropFirst(prefix.count))
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.utf8.contains(0), name.utf8.count <= 255 else {
            throw ClusterError.wazuh(1000, "bad file name in \(LogText.truncated(wire, max: 200))")
        }
        let root = configuration.root.hasSuffix("/") ? configuration.root : configuration.root + "/"
        return (rel, root + rel)
    }

    private mutating func newFile(_ r: IncomingRequest) -> InboundAction {
        let rel: String, abs: String
        do { (rel, abs) = try inboxPath(r.text) } catch { return .reply(.error(error as! ClusterError)) }
        // The cap is checked before anything is created.
        guard strings.count + files.count < configuration.maxTransfers || files[rel] != nil else {
            return .reply(.error(.wazuh(1000, "too many strings and files in flight on this connection (\(configuration.maxTransfers))")))
        }
        return .openFile(relative: rel, absolute: abs, replacing: files.removeValue(forKey: rel))
    }

    /// The handler created the file `new_file` asked for.
    mutating func fileOpened(_ file: InboundFile) {
        if phase == .closed { return }
        files[file.relativePath] = file
    }

    private func transfer(_ r: IncomingRequest) -> (InboundFile, [UInt8])? {
        guard let (wire, rest) = r.splitFirstSpace() else { return nil }
        let rel = wire.hasPrefix("/") ? String(wire.dropFirst()) : wire
        guard let f = files[rel] else { return nil }
        return (f, rest)
    }

    private mutating func fileUpdate(_ r: IncomingRequest) -> InboundAction {
        guard let (file, chunk) = transfer(r) else {
            return .reply(.error(.wazuh(1000, "no file transfer in progress for \(LogText.truncated(r.splitFirstSpace()?.0 ?? r.text, max: 200))")))
        }
        guard file.size + chunk.count <= configuration.maxFileBytes else {
            files.removeValue(forKey: file.relativePath)
            return .abandonFile(file, .error(.wazuh(1000, "file \(file.relativePath) exceeds the \(configuration.maxFileBytes)-byte limit")))
        }
        file.size += chunk.count
        return .writeFile(file, chunk)
    }

    private mutating func fileEnd(_ r: IncomingRequest) -> InboundAction {
        guard let (file, digest) = transfer(r) else {
            return .reply(.error(.wazuh(1000, "no file transfer in progress for \(LogText.truncated(r.splitFirstSpace()?.0 ?? r.text, max: 200))")))
        }
        files.removeValue(forKey: file.relativePath)
        return .finishFile(file, digest: digest)
    }

    /// A file arrived whole and verified: it waits to be claimed by the command that names it.
    /// Returns a path to remove when the connection closed meanwhile.
    mutating func fileReceived(_ file: InboundFile, now: NIODeadline) -> String? {
        guard phase != .closed else { return file.absolutePath }
        let old = receivedFiles.updateValue(ReceivedFile(path: file.absolutePath, at: now), forKey: file.relativePath)
        return old.flatMap { $0.path == file.absolutePath ? nil : $0.path }
    }

    /// Takes a completely received file by its path relative to the root.
    mutating func claimReceivedFile(_ relativePath: String) -> String? {
        let rel = relativePath.hasPrefix("/") ? String(relativePath.dropFirst()) : relativePath
        return receivedFiles.removeValue(forKey: rel)?.path
    }

    // MARK: cancelled tasks

    private mutating func cancelTask(_ r: IncomingRequest) -> InboundAction {
        let task = r.splitFirstSpace()?.0 ?? r.text
        guard !task.isEmpty, task.utf8.count <= configuration.maxTaskIDBytes else {
            return .reply(.error(.wazuh(1000, "cancel_task needs a task id of at most \(configuration.maxTaskIDBytes) bytes")))
        }
        if interruptedSet.insert(task).inserted {
            interrupted.append(task)
            if interrupted.count > configuration.maxInterruptedTasks {
                interruptedSet.remove(interrupted.removeFirst())
            }
        }
        return .reply(.ok("Request received correctly"))
    }

    func isInterrupted(_ task: String) -> Bool { interruptedSet.contains(task) }

    // MARK: time and the end

    /// Drops strings, files in progress and received files older than the transfer TTL.
    mutating func expire(now: NIODeadline) -> Leftovers {
        var out = Leftovers()
        let ttl = configuration.transferTTL
        for (id, s) in strings where now - s.created > ttl {
            strings.removeValue(forKey: id)
            stringBytes -= s.data.count
            budget.release(s.data.count)
            out.strings += 1
        }
        for (rel, f) in files where now - f.created > ttl {
            files.removeValue(forKey: rel)
            out.files.append(f)
        }
        for (rel, f) in receivedFiles where now - f.at > ttl {
            receivedFiles.removeValue(forKey: rel)
            out.receivedFiles.append(f.path)
        }
        return out
    }

    /// The connection is gone: everything pending fails and everything held is released.
    mutating func close() -> Leftovers {
        guard phase != .closed || !pending.isEmpty || !files.isEmpty || !strings.isEmpty || !receivedFiles.isEmpty else {
            return Leftovers()
        }
        phase = .closed
        let out = Leftovers(pending: Array(pending.values), files: Array(files.values),
                            receivedFiles: receivedFiles.values.map(\.path), strings: strings.count)
        pending.removeAll()
        files.removeAll()
        receivedFiles.removeAll()
        budget.release(stringBytes)
        stringBytes = 0
        strings.removeAll()
        return out
    }
}
