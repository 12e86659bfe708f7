import Testing
@testable import ClusterKit

/// The adaptive container size of sync §4.5, with the reference's defaults: 1 GiB, 30 MiB, 0.2.
@Suite struct ZipSizeLimitTests {
    static let max = 1_073_741_824
    static let min = 31_457_280

    static func limit() -> ZipSizeLimit { ZipSizeLimit(maxZipSize: max, minZipSize: min, tolerance: 0.2) }

    @Test func startsAtTheMaximum() {
        #expect(Self.limit().current == Self.max)
    }

    /// What got through, less the tolerance: not the floor, which is what a caller that passes
    /// 0 bytes sent always gets.
    @Test func interruptionKeepsEightyPercentOfWhatGotThrough() {
        var l = Self.limit()
        l.recordInterrupted(bytesSentBeforeInterruption: 500_000_000)
        #expect(l.current == 400_000_000)
        l.recordInterrupted(bytesSentBeforeInterruption: 100_000_000)
        #expect(l.current == 80_000_000)
    }

    @Test func interruptionNeverGoesBelowTheFloor() {
        var l = Self.limit()
        l.recordInterrupted(bytesSentBeforeInterruption: 10_000_000)
        #expect(l.current == Self.min)
        l.recordInterrupted(bytesSentBeforeInterruption: 0)
        #expect(l.current == Self.min)
        l.recordInterrupted(bytesSentBeforeInterruption: -5)
        #expect(l.current == Self.min)
    }

    @Test func interruptionAfterMoreThanTheMaximumStaysAtTheMaximum() {
        var l = Self.limit()
        l.recordInterrupted(bytesSentBeforeInterruption: Int.max)
        #expect(l.current == Self.max)
    }

    @Test func quickSendGrowsByAQuarterUpToTheMaximum() {
        var l = Self.limit()
        l.recordInterrupted(bytesSentBeforeInterruption: 500_000_000)
        l.recordCompleted(seconds: 10, timeoutReceivingFile: 120)
        #expect(l.current == 500_000_000)
        l.recordCompleted(seconds: 10, timeoutReceivingFile: 120)
        #expect(l.current == 625_000_000)
        l.recordCompleted(seconds: 10, timeoutReceivingFile: 120)
        #expect(l.current == 781_250_000)
        l.recordCompleted(seconds: 10, timeoutReceivingFile: 120)
        #expect(l.current == 976_562_500)
        l.recordCompleted(seconds: 10, timeoutReceivingFile: 120)
        #expect(l.current == Self.max)
        l.recordCompleted(seconds: 10, timeoutReceivingFile: 120)
        #expect(l.current == Self.max)
    }

    /// 96 s is 120 s less the tolerance: a send that took that long or longer was close to being
    /// cancelled.
    @Test func slowSendDoesNotGrow() {
        var l = Self.limit()
        l.recordInterrupted(bytesSentBeforeInterruption: 100_000_000)
        l.recordCompleted(seconds: 96, timeoutReceivingFile: 120)
        #expect(l.current == 80_000_000)
        l.recordCompleted(seconds: 110, timeoutReceivingFile: 120)
        #expect(l.current == 80_000_000)
        l.recordCompleted(seconds: 95.9, timeoutReceivingFile: 120)
        #expect(l.current == 100_000_000)
    }

    @Test func readsTheConfiguredIntervals() throws {
        let config = try ClusterConfig(json: [
            "cluster": ["name": "wazuh", "key": "0123456789abcdef0123456789abcdef"],
            "node": ["name": "master", "type": "master", "root": "/tmp"],
            "intervals": ["communication": ["max_zip_size": 1000, "min_zip_size": 100, "zip_limit_tolerance": 0.5]],
        ], baseDirectory: "/tmp")
        var l = ZipSizeLimit(intervals: config.intervals)
        #expect(l.current == 1000 && l.minZipSize == 100 && l.tolerance == 0.5)
        l.recordInterrupted(bytesSentBeforeInterruption: 600)
        #expect(l.current == 300)
        l.recordCompleted(seconds: 1, timeoutReceivingFile: 120)
        #expect(l.current == 600)
    }
}
