import Foundation

/// A link with delay and loss made in user space, for kernels built without `sch_netem` (the
/// test machines' kernel has `CONFIG_NET_SCH_NETEM` unset, so `tc qdisc add ... netem` fails with
/// "Specified qdisc kind is unknown").
///
/// Two TAP devices, one on each side of the link, and threads that copy every Ethernet frame from
/// one to the other. Each direction holds a delay line: a frame is dropped with probability
/// `loss`, or written out `delay` seconds after it was read, in order, as netem's
/// `delay D loss P` does on an interface's egress. The daemons on either side keep their real
/// kernel TCP stacks, which see real lost and late segments; nothing about their sockets is
/// simulated.
final class LinkEmulator: @unchecked Sendable {
    struct Impairment: Sendable, Equatable {
        var delay: Double = 0
        var loss: Double = 0
        static let none = Impairment()
    }

    /// The two sides, by the name the TAP device had when it was made (in the test's own
    /// namespace; NetworkLab then moves each into its namespace and renames it).
    let nameA: String, nameB: String
    private let fdA: Int32, fdB: Int32
    private let lock = NSLock()
    private var impairments: [Impairment] = [.none, .none] // [A→B, B→A]
    private var stopped = false
    private var threads: [Thread] = []
    private let finished = DispatchSemaphore(value: 0)
    private(set) var forwarded = [0, 0], dropped = [0, 0]

    init(nameA: String, nameB: String) throws {
        self.nameA = nameA
        self.nameB = nameB
        fdA = try Self.openTap(nameA)
        do { fdB = try Self.openTap(nameB) } catch { close(fdA); throw error }
    }

    deinit { stop() }

    /// Sets the impairment of frames going from A to B (`aToB`) and from B to A.
    func set(aToB: Impairment? = nil, bToA: Impairment? = nil) {
        lock.withLock {
            if let aToB { impairments[0] = aToB }
            if let bToA { impairments[1] = bToA }
        }
    }

    func counts() -> (forwarded: [Int], dropped: [Int]) { lock.withLock { (forwarded, dropped) } }

    func start() {
        let lines = [DelayLine(out: fdB), DelayLine(out: fdA)]
        for (direction, input) in [fdA, fdB].enumerated() {
            let reader = Thread { [self] in self.readLoop(input, direction, lines[direction]) }
            let writer = Thread { [self] in
                lines[direction].run(until: { self.lock.withLock { self.stopped } })
                self.finished.signal()
            }
            reader.name = "link-emulator-read-\(direction)"
            writer.name = "link-emulator-write-\(direction)"
            threads += [reader, writer]
        }
        for t in threads { t.start() }
    }

    /// Stops the threads (each notices within 100 ms) and closes both TAP devices, which removes
    /// them from whatever namespace they are in. Safe to call more than once.
    func stop() {
        let running = lock.withLock { () -> Int? in
            if stopped { return nil }
            stopped = true
            return threads.count
        }
        guard let running else { return }
        for _ in 0..<running { _ = finished.wait(timeout: .now() + 5) }
        close(fdA)
        close(fdB)
    }

    private func readLoop(_ fd: Int32, _ direction: Int, _ line: DelayLine) {
        defer { finished.signal() }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !lock.withLock({ stopped }) {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65_536) }
            guard n > 0 else { continue }
            let rule = lock.withLock { impairments[direction] }
            if rule.loss > 0 && Double.random(in: 0..<1) < rule.loss {
                lock.withLock { dropped[direction] += 1 }
                continue
            }
            lock.withLock { forwarded[direction] += 1 }
            line.push(Array(buffer[0..<n]), due: DispatchTime.now().uptimeNanoseconds + UInt64(rule.delay * 1e9))
        }
    }

    /// Frames waiting for their time, in order, and the thread that writes them out.
    private final class DelayLine: @unchecked Sendable {
        let out: Int32
        private let condition = NSCondition()
        private var queue: [(due: UInt64, frame: [UInt8])] = []
        private var head = 0

        init(out: Int32) { self.out = out }

        func push(_ frame: [UInt8], due: UInt64) {
            condition.lock()
            queue.append((due, frame))
            condition.signal()
            condition.unlock()
        }

        func run(until stopped: () -> Bool) {
            while !stopped() {
                condition.lock()
                if head == queue.count {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: 0.1))
                    condition.unlock()
                    continue
                }
                let (due, frame) = queue[head]
                let now = DispatchTime.now().uptimeNanoseconds
                if due > now {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: min(0.1, Double(due - now) / 1e9)))
                    condition.unlock()
                    continue
                }
                head += 1
                if head > 4096 && head * 2 > queue.count {
                    queue.removeFirst(head)
                    head = 0
                }
                condition.unlock()
                // A side whose interface is down refuses the frame, as a cut cable would lose it.
                _ = frame.withUnsafeBytes { write(out, $0.baseAddress, frame.count) }
            }
        }
    }

    /// Opens a new TAP device (Ethernet frames, no packet-information header) named `name` in the
    /// calling process's network namespace; it lives until the descriptor is closed.
    private static func openTap(_ name: String) throws -> Int32 {
        let fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw LabError("open /dev/net/tun: \(String(cString: strerror(errno)))") }
        // struct ifreq: the name (IFNAMSIZ = 16), then the flags (short); 40 bytes in all.
        var ifr = [UInt8](repeating: 0, count: 40)
        let bytes = Array(name.utf8.prefix(15))
        ifr.replaceSubrange(0..<bytes.count, with: bytes)
        let flags: UInt16 = 0x0002 | 0x1000 // IFF_TAP | IFF_NO_PI
        ifr[16] = UInt8(flags & 0xFF)
        ifr[17] = UInt8(flags >> 8)
        let tunsetiff: UInt = 0x4004_54CA
        let rc = ifr.withUnsafeMutableBytes { ioctl(fd, tunsetiff, $0.baseAddress!) }
        guard rc == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw LabError("TUNSETIFF \(name): \(message)")
        }
        return fd
    }
}

struct LabError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
