import Foundation

/// A small network made of Linux network namespaces for the network-fault tests: one namespace
/// per node, each joined to a bridge in a hub namespace by a veth pair (or, for a link that must
/// delay and lose frames, by a LinkEmulator's two TAP devices). Every node has the address
/// `<subnet>.<n>/24` on its `eth0`. Faults: `cut` brings a node's port on the bridge down (a
/// cable pulled in the middle: neither daemon sees its own interface go down), `heal` brings it
/// back, and `impair` sets an emulated link's delay and loss.
///
/// Nothing is made in the test process's own namespace but a TAP device for the moment it takes
/// to move it, so runs never collide on addresses: each run has its own hub. Namespace names
/// carry the creating PID and a random tag; `close()` (also from `deinit`) deletes them, and a
/// new lab first deletes those of runs whose process is gone (a crashed test).
final class NetworkLab: @unchecked Sendable {
    struct Node: Sendable {
        let name: String
        let namespace: String
        let address: String
        let index: Int
        var hubPort: String { "p\(index)" }
    }

    let tag: String
    let subnet: String
    let hub: String
    private(set) var nodes: [String: Node] = [:]
    private var emulators: [String: LinkEmulator] = [:]
    private var namespaces: [String] = []
    private let lock = NSLock()
    private var closed = false

    static let ipPath: String? = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Whether this machine lets a test build namespaces: root, `ip` and /dev/net/tun present.
    static var available: Bool {
        getuid() == 0 && ipPath != nil && FileManager.default.fileExists(atPath: "/dev/net/tun")
    }

    init(subnet: String = "10.77.0") throws {
        self.subnet = subnet
        tag = "cn\(getpid())r" + String(format: "%02x", UInt8.random(in: 0...255))
        hub = "\(tag)-hub"
        Self.sweepAbandoned()
        try addNamespace(hub)
        try Self.ip(["-n", hub, "link", "add", "br0", "type", "bridge"])
        try Self.ip(["-n", hub, "link", "set", "br0", "up"])
    }

    deinit { close() }

    /// Adds a node in its own namespace, joined to the bridge by a veth pair, or through a
    /// LinkEmulator when `emulated` (then `impair` can delay and drop its frames).
    @discardableResult
    func addNode(_ name: String, emulated: Bool = false) throws -> Node {
        let index = lock.withLock { nodes.count + 1 }
        let node = Node(name: name, namespace: "\(tag)-n\(index)", address: "\(subnet).\(index)", index: index)
        try addNamespace(node.namespace)
        if emulated {
            // TAP devices are made here, then moved: one becomes the node's eth0, the other its port.
            let link = try LinkEmulator(nameA: "\(tag)a\(index)", nameB: "\(tag)b\(index)")
            lock.withLock { emulators[name] = link }
            try Self.ip(["link", "set", link.nameA, "netns", node.namespace])
            try Self.ip(["-n", node.namespace, "link", "set", link.nameA, "name", "eth0"])
            try Self.ip(["link", "set", link.nameB, "netns", hub])
            try Self.ip(["-n", hub, "link", "set", link.nameB, "name", node.hubPort])
            link.start()
        } else {
            try Self.ip(["-n", hub, "link", "add", node.hubPort, "type", "veth", "peer", "name", "eth0", "netns", node.namespace])
        }
        try Self.ip(["-n", hub, "link", "set", node.hubPort, "master", "br0", "up"])
        try Self.ip(["-n", node.namespace, "addr", "add", "\(node.address)/24", "dev", "eth0"])
        try Self.ip(["-n", node.namespace, "link", "set", "eth0", "up"])
        lock.withLock { nodes[name] = node }
        return node
    }

    func node(_ name: String) -> Node { lock.withLock { nodes[name]! } }

    /// Pulls the node's cable at the bridge: its port goes down, frames stop both ways.
    func cut(_ name: String) throws { try Self.ip(["-n", hub, "link", "set", node(name).hubPort, "down"]) }

    /// Plugs it back.
    func heal(_ name: String) throws { try Self.ip(["-n", hub, "link", "set", node(name).hubPort, "up"]) }

    /// Delay and loss on an emulated node's link: `egress` for what the node sends (netem on its
    /// eth0), `ingress` for what it receives.
    func impair(_ name: String, egress: LinkEmulator.Impairment, ingress: LinkEmulator.Impairment = .none) {
        lock.withLock { emulators[name] }?.set(aToB: egress, bToA: ingress)
    }

    func emulator(_ name: String) -> LinkEmulator? { lock.withLock { emulators[name] } }

    /// Stops the emulators and deletes every namespace this lab made (their veths and bridge go
    /// with them). Processes still running inside keep their namespace alive until they exit;
    /// the harness stops them by PID first.
    func close() {
        let (links, names) = lock.withLock { () -> ([LinkEmulator], [String]) in
            if closed { return ([], []) }
            closed = true
            return (Array(emulators.values), namespaces)
        }
        for link in links { link.stop() }
        for ns in names.reversed() { try? Self.ip(["netns", "delete", ns]) }
    }

    private func addNamespace(_ name: String) throws {
        try Self.ip(["netns", "add", name])
        lock.withLock { namespaces.append(name) }
        try Self.ip(["-n", name, "link", "set", "lo", "up"])
    }

    /// Deletes namespaces left by labs whose process is gone.
    static func sweepAbandoned() {
        guard let list = try? ip(["netns", "list"]) else { return }
        for line in list.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            guard name.hasPrefix("cn"), let r = name.firstIndex(of: "r"),
                  let pid = Int32(name[name.index(name.startIndex, offsetBy: 2)..<r]) else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? ip(["netns", "delete", name]) }
        }
    }

    /// Runs `ip` with `args`; its stdout, or an error with its stderr.
    @discardableResult
    static func ip(_ args: [String]) throws -> String {
        guard let ipPath else { throw LabError("no ip(8) on this machine") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ipPath)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let error = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw LabError("ip \(args.joined(separator: " ")): \(String(decoding: error, as: UTF8.self))")
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The prefix that runs a command inside `node`'s namespace; `ip netns exec` execs the
    /// command, so the process started is the command itself (its PID is the tool's).
    func execPrefix(_ name: String) -> [String] { [Self.ipPath ?? "ip", "netns", "exec", node(name).namespace] }
}
