import Foundation
import Testing
@testable import ClusterKit

@Suite struct SafePathTests {
    @Test func plainRelativePathsPass() throws {
        for p in ["etc/client.keys", "etc/shared/group1/my file.txt", "a", "naïve-日本語.txt", "a/.hidden", "a/..b", "a/b..", "x\\y"] {
            #expect(try SafePath.validateRelative(p) == p)
        }
    }

    @Test func unsafePathsAreRefusedAsBadData() {
        let bad = ["", "/etc/passwd", "../x", "a/../../b", "a/..", "..", ".", "./a", "a/./b", "a//b", "a/", "a\u{0}b",
                   String(repeating: "a/", count: 2100) + "b", String(repeating: "x", count: 256)]
        for p in bad {
            do {
                try SafePath.validateRelative(p)
                Issue.record("accepted \(p.debugDescription)")
            } catch let e as ClusterError {
                #expect(e.exit == .dataError)
                #expect(e.message.contains("refused path"))
            } catch { Issue.record("\(error)") }
        }
    }

    @Test func componentsRefuseSeparators() {
        #expect(throws: ClusterError.self) { try SafePath.validateComponent("a/b") }
        #expect(throws: ClusterError.self) { try SafePath.validateComponent("..") }
        #expect(throws: ClusterError.self) { try SafePath.validateComponent("") }
        #expect((try? SafePath.validateComponent("worker-1")) == "worker-1")
    }

    @Test func resolveAllowsMissingTailsAndInsideLinks() throws {
        let t = try ScratchTree()
        try t.write("etc/real/file", "x")
        try t.symlink("etc/alias", to: "real")
        #expect(try SafePath.resolve("etc/new/dir/file", under: t.root) == t.path("etc/new/dir/file"))
        #expect(try SafePath.resolve("etc/alias/file", under: t.root) == t.path("etc/real/file"))
        // A link as the last component is returned as itself (a rename replaces the link).
        try t.symlink("etc/link-to-file", to: "real/file")
        #expect(try SafePath.resolve("etc/link-to-file", under: t.root) == t.path("etc/link-to-file"))
    }

    @Test func resolveRefusesLinksLeadingOutOfTheRoot() throws {
        let outside = try ScratchTree("outside")
        let t = try ScratchTree()
        try t.symlink("etc/shared/evil", to: outside.root)
        try t.symlink("etc/shared/evil-file", to: outside.path("x"))
        try outside.write("x", "secret")
        try t.symlink("etc/shared/dangling", to: "/nonexistent/target")
        for p in ["etc/shared/evil/anything", "etc/shared/evil", "etc/shared/evil-file", "etc/shared/dangling/x"] {
            do {
                _ = try SafePath.resolve(p, under: t.root)
                Issue.record("accepted \(p)")
            } catch let e as ClusterError {
                #expect(e.exit == .dataError, "\(p): \(e)")
            }
        }
    }
}
