import ClusterKit
import Foundation
import Testing
@testable import ClusterNode

@Suite struct HookRunnerTests {
    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hook-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func randomBytes(_ n: Int) -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        return (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
    }

    /// 1 MiB is far past the 64 KiB pipe buffer: the write gets EPIPE once the hook is gone,
    /// which must neither kill the process (SIGPIPE) nor trap.
    @Test func hookThatExitsWithoutReadingReturnsItsStatus() throws {
        let input = Self.randomBytes(1 << 20)
        #expect(try HookRunner.run(command: "exit 0", input: input) == 0)
        #expect(try HookRunner.run(command: "exit 7", input: input) == 7)
    }

    @Test func hookThatReadsPartOfItsInputThenExits() throws {
        #expect(try HookRunner.run(command: "head -c 100 > /dev/null; exit 5", input: Self.randomBytes(1 << 20)) == 5)
    }

    @Test func hookReceivesTheExactBytes() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("report")
        let input = Self.randomBytes(300_000) + Array("{\"changed\": true}\n".utf8)
        #expect(try HookRunner.run(command: "cat > '\(out.path)'", input: input) == 0)
        #expect(try [UInt8](Data(contentsOf: out)) == input)
    }

    @Test func emptyInputGivesTheHookEndOfFile() throws {
        #expect(try HookRunner.run(command: "test -z \"$(cat)\"", input: []) == 0)
    }

    @Test func exitStatusIsReturned() throws {
        #expect(try HookRunner.run(command: "exit 3", input: Array("{}\n".utf8)) == 3)
    }

    @Test func hookKilledBySignalReportsItLikeAShell() throws {
        #expect(try HookRunner.run(command: "kill -TERM $$", input: []) == 128 + 15)
    }

    #if os(Linux)
    /// The runner ignores SIGPIPE in this process; the hook must not inherit that (a shell cannot
    /// undo a signal ignored at its start), so `cmd | head` in a hook ends as it would anywhere.
    @Test func hookStartsWithTheDefaultSIGPIPE() throws {
        let check = "ign=$(awk '/^SigIgn/ {print $2}' /proc/$$/status); test $(( 0x$ign & 0x1000 )) -eq 0"
        #expect(try HookRunner.run(command: check, input: []) == 0)
        #expect(try HookRunner.run(command: "exit 0", input: []) == 0)
        #expect(try HookRunner.run(command: check, input: []) == 0)
    }

    /// A descriptor the daemon opened without close-on-exec does not live on in the hook.
    @Test func hookDoesNotInheritTheDaemonsDescriptors() throws {
        let fd = open("/dev/null", O_RDONLY)
        #expect(fd > 2)
        defer { close(fd) }
        #expect(try HookRunner.run(command: "test ! -e /proc/$$/fd/\(fd)", input: []) == 0)
        #expect(try HookRunner.run(command: "test -e /proc/$$/fd/0", input: []) == 0)
    }
    #endif
}
