import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// One master's part in the failover election (docs/HA.md): a lease kept alive, a campaign on
/// it, leadership while the lease holds, and fencing when it may not.
///
/// Fencing rests on one inequality. etcd expires the lease no sooner than `ttl` after it last
/// renewed it, and it renewed it after this node sent the renewal. So a leader that stops
/// serving within `ttl / 2` of sending its last successful renewal, timed on its own monotonic
/// clock (not trusting the network or the wall clock), has stopped before any other master can
/// be elected. Renewals go every `ttl / 5`, so two may fail before the deadline.
final class LeaderElection: Sendable {
    let client: EtcdClient
    let config: HAConfig
    let nodeName: String
    let logger: Logger
    private let state = NIOLockedValueBox(State())

    /// What `cl-master ha status` and `/healthz` read.
    struct State: Sendable {
        enum Role: String, Sendable { case starting, follower, leader }
        var role: Role = .starting
        var lease: Int64 = 0
        var leader: EtcdClient.LeaderKey?
        /// Why this node is not the leader, when it could be (etcd unreachable, fenced...).
        var note: String?
        var since = Date()
        var elections = 0
    }

    init(client: EtcdClient, config: HAConfig, nodeName: String, logger: Logger) {
        self.client = client
        self.config = config
        self.nodeName = nodeName
        var log = logger
        log[metadataKey: "subtag"] = "HA"
        self.logger = log
    }

    var snapshot: State { state.withLockedValue { $0 } }
    var isLeader: Bool { state.withLockedValue { $0.role == .leader } }

    /// What this master stores as its campaign value: its name and where it is reached.
    var value: [UInt8] {
        JSONWriter.compact.bytes(["node": .string(nodeName), "address": .string(config.advertise?.description ?? "")])
    }

    /// A campaign value read back (nil when it is not one of ours).
    static func parseValue(_ bytes: [UInt8]) -> (node: String, address: HostPort?)? {
        guard let v = try? JSON.parse(bytes, source: "a campaign value"), let node = v["node"]?.stringValue else { return nil }
        let address = v["address"]?.stringValue.flatMap { ClusterConfig.parseHostPort($0, defaultPort: -1) }.map { HostPort(host: $0.0, port: $0.1) }
        return (node, address)
    }

    private func set(_ role: State.Role, note: String?) {
        state.withLockedValue {
            if $0.role != role { $0.since = Date() }
            $0.role = role
            $0.note = note
            if role != .leader { $0.leader = nil }
        }
    }

    /// How the node serves while it leads: `lead` is called once elected and returns when the
    /// node stops leading of its own accord (shutdown or resign); `stepDown` must stop serving at
    /// once, synchronously (fencing calls it from the deadline).
    struct Leadership: Sendable {
        var lead: @Sendable (_ fenced: ShutdownSignal) async -> Void
        var stepDown: @Sendable (_ why: String) -> Void
    }

    /// Campaigns, leads, steps down and campaigns again until `shutdown`. On shutdown while
    /// leading it resigns, so that a follower takes over at once.
    func run(until shutdown: ShutdownSignal, resign: ResignRequests, _ leadership: Leadership) async {
        resign.reset()
        var failures = 0
        while !shutdown.isTriggered && !Task.isCancelled {
            let outcome = await term(shutdown: shutdown, resign: resign, leadership)
            if shutdown.isTriggered || Task.isCancelled { break }
            var pause = 0.5
            switch outcome {
            case .resigned:
                // Let another master win this round: wait about one renewal before campaigning.
                pause = max(1, config.leaseTTL / 5)
                failures = 0
                resign.reset()
            case .failed(let why):
                failures += 1
                pause = min(Double(failures), 5)
                set(.follower, note: why)
                logger.error("\(why); campaigning again in \(Int(pause)) s.")
            }
            _ = await shutdown.wait(timeout: pause)
        }
        set(.follower, note: "stopped")
    }

    enum TermOutcome { case resigned, failed(String) }

    /// One lease: campaign on it, lead while it holds.
    private func term(shutdown: ShutdownSignal, resign: ResignRequests, _ leadership: Leadership) async -> TermOutcome {
        let lease: Int64
        do { lease = try await client.grantLease(ttl: config.leaseTTL) } catch {
            return .failed("cannot get a lease from etcd: \(error)")
        }
        state.withLockedValue { $0.lease = lease; if $0.role == .starting { $0.role = .follower } }
        let fenced = ShutdownSignal()
        // Set once the campaign is won: from then on the leader's own task resigns on shutdown.
        let elected = NIOLockedValueBox(false)
        let renewedAt = NIOLockedValueBox(ContinuousClock.now)
        let ttl = config.leaseTTL
        let result: TermOutcome = await withTaskGroup(of: TermOutcome?.self) { group in
            // Renewals, every ttl/5, each bounded by ttl/5 itself; after a failed one, the next
            // goes sooner (to the next etcd member, when there are several).
            group.addTask {
                let renewer = self.client.with(timeout: ttl / 5)
                while !fenced.isTriggered {
                    let sent = ContinuousClock.now
                    var pause = ttl / 5
                    do {
                        let left = try await renewer.keepAlive(lease: lease)
                        if left <= 0 {
                            fenced.trigger()
                            return .failed("the lease expired in etcd before it was renewed")
                        }
                        renewedAt.withLockedValue { $0 = max($0, sent) }
                    } catch {
                        self.logger.warning("Could not renew the lease: \(error)")
                        pause = min(0.25, ttl / 20)
                    }
                    if await fenced.wait(timeout: pause) { return nil }
                }
                return nil
            }
            // The local deadline: no renewal sent in the last ttl/2 that etcd confirmed.
            group.addTask {
                while !fenced.isTriggered {
                    let age = ContinuousClock.now - renewedAt.withLockedValue { $0 }
                    let left = ttl / 2 - Self.seconds(age)
                    if left <= 0 {
                        let why = "no lease renewal confirmed by etcd for \(String(format: "%.1f", Self.seconds(age))) s (half the \(Int(ttl)) s lease): stepping down"
                        if self.isLeader { leadership.stepDown(why) }
                        fenced.trigger()
                        return .failed(why)
                    }
                    if await fenced.wait(timeout: min(left, 0.1)) { return nil }
                }
                return nil
            }
            // A follower that is stopping ends its campaign; a leader resigns below.
            group.addTask {
                await withTaskGroup(of: Void.self) { g in
                    g.addTask { await shutdown.wait() }
                    g.addTask { await fenced.wait() }
                    await g.next()
                    g.cancelAll()
                }
                return shutdown.isTriggered && !elected.withLockedValue({ $0 }) ? .resigned : nil
            }
            // The campaign, then the leadership.
            group.addTask {
                let key: EtcdClient.LeaderKey
                do {
                    self.logger.info("Campaigning for \(self.config.election) (lease \(String(lease, radix: 16))).")
                    key = try await self.client.campaign(election: self.config.election, lease: lease, value: self.value)
                } catch {
                    if fenced.isTriggered || Task.isCancelled { return nil }
                    return .failed("the campaign failed: \(error)")
                }
                let mine = elected.withLockedValue { e -> Bool in
                    guard !fenced.isTriggered, !Task.isCancelled, !shutdown.isTriggered else { return false }
                    e = true
                    return true
                }
                if !mine { return nil }
                self.state.withLockedValue {
                    $0.role = .leader
                    $0.leader = key
                    $0.note = nil
                    $0.since = Date()
                    $0.elections += 1
                }
                self.logger.info("Elected leader of \(self.config.election) at revision \(key.revision).")
                await withTaskGroup(of: Void.self) { inner in
                    inner.addTask { await leadership.lead(fenced) }
                    inner.addTask {
                        if await resign.wait(or: shutdown, or: fenced) {
                            self.logger.info("Resigning on request.")
                        }
                    }
                    await inner.next()
                    inner.cancelAll()
                }
                // Fenced: the deadline child has stepped down and ends the term.
                guard self.isLeader, !fenced.isTriggered, !Task.isCancelled else { return nil }
                leadership.stepDown(shutdown.isTriggered ? "the node is stopping" : "resigning leadership")
                self.set(.follower, note: shutdown.isTriggered ? "stopping" : "resigned on request")
                fenced.trigger()
                do {
                    try await self.client.resign(key)
                    self.logger.info("Resigned leadership of \(self.config.election).")
                } catch {
                    self.logger.warning("Could not resign in etcd (the lease will expire): \(error)")
                }
                return .resigned
            }
            var outcome: TermOutcome = .failed("the term ended")
            for await r in group {
                if let r {
                    outcome = r
                    break
                }
            }
            fenced.trigger()
            group.cancelAll()
            return outcome
        }
        if isLeader {
            leadership.stepDown("the term ended")
        }
        set(.follower, note: { if case .failed(let why) = result { return why } else { return nil } }())
        // Best effort: a lease given back is one the others need not wait out.
        try? await client.with(timeout: 1).revokeLease(lease)
        return result
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

/// `cl-master ha resign` requests, waited on by the leader.
final class ResignRequests: Sendable {
    private let signal = NIOLockedValueBox(ShutdownSignal())

    func request() { signal.withLockedValue { $0 }.trigger() }
    func reset() { signal.withLockedValue { $0 = ShutdownSignal() } }

    /// True when a resignation was asked; false when `a` or `b` fired first.
    func wait(or a: ShutdownSignal, or b: ShutdownSignal) async -> Bool {
        let mine = signal.withLockedValue { $0 }
        return await withTaskGroup(of: Bool.self) { g in
            g.addTask { await mine.wait(); return true }
            g.addTask { await a.wait(); return false }
            g.addTask { await b.wait(); return false }
            let first = await g.next() ?? false
            g.cancelAll()
            return first
        }
    }
}
