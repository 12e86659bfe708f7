import Foundation
import Testing

/// Man pages and completions are generated from the ArgumentParser definitions and committed;
/// this fails when a tool's interface changed and they were not regenerated (bin/gen-docs).
@Suite struct DocsInStepTests {
    @Test func manPagesAndCompletionsMatchTheTools() throws {
        let r = try ToolRunner.shell("bin/gen-docs --check --bin '\(ToolRunner.productsDirectory.path)'", in: ToolRunner.packageRoot)
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func everyToolHasAManPageAndThreeCompletions() throws {
        let root = ToolRunner.packageRoot
        let package = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let tools = package.matches(of: /executableTarget\(\s*name:\s*"([^"]+)"/).map { String($0.1) }
        #expect(!tools.isEmpty)
        for tool in tools {
            for rel in ["man/man1/\(tool).1", "completions/bash/\(tool)", "completions/zsh/_\(tool)", "completions/fish/\(tool).fish"] {
                #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent(rel).path), "\(rel) is missing")
            }
        }
    }
}
