import ClusterKit
import Foundation
import Testing

/// The generated man pages render cleanly and say what the tools do: no groff or man warning on
/// any page, examples set as written (pasteable), SEE ALSO well formed, cluster.json(5) covering
/// every key the configuration reader accepts, and --help's examples never wrapped mid-command.
@Suite struct ManPageTests {
    static let root = ToolRunner.packageRoot

    static var pages: [String] {
        ["man/man1", "man/man5"].flatMap { dir -> [String] in
            let full = root.appendingPathComponent(dir).path
            let names = (try? FileManager.default.contentsOfDirectory(atPath: full)) ?? []
            return names.sorted().map { "\(dir)/\($0)" }
        }
    }

    /// The page as man shows it (formatting stripped, 80 columns unless asked).
    static func rendered(_ page: String, width: Int = 80) throws -> String {
        let r = try ToolRunner.shell("MANWIDTH=\(width) man -l '\(page)'", in: root)
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdoutText
    }

    @Test func thereIsAPagePerToolAndOneForTheConfiguration() {
        #expect(Self.pages.count == 7, "\(Self.pages)")
        #expect(Self.pages.contains("man/man5/cluster.json.5"))
    }

    @Test(arguments: ManPageTests.pages)
    func groffAndManPrintNoWarning(page: String) throws {
        let groff = try ToolRunner.shell("groff -ww -man -Tutf8 '\(page)' > /dev/null", in: Self.root)
        #expect(groff.status == 0 && groff.stderr.isEmpty, "groff: \(groff.stderr)")
        let man = try ToolRunner.shell("man --warnings -l '\(page)' > /dev/null", in: Self.root)
        #expect(man.status == 0 && man.stderr.isEmpty, "man: \(man.stderr)")
    }

    @Test(arguments: ManPageTests.pages)
    func everyPageHasTheSectionsAManPageHas(page: String) throws {
        let text = try Self.rendered(page)
        var sections = ["NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES", "SEE ALSO"]
        if page.hasPrefix("man/man1") { sections += ["OPTIONS", "EXIT STATUS"] }
        for s in sections {
            #expect(text.contains("\n\(s)\n"), "\(page) has no \(s)")
        }
        #expect(!text.contains(",)"), "\(page): a SEE ALSO entry renders as NAME(N,)")
        // Every hyphen is the ASCII one, which can be pasted into a shell.
        #expect(!text.contains("\u{2010}") && !text.contains("\u{2212}") && !text.contains("\u{2019}"), "\(page) has typographic hyphens or quotes")
    }

    /// Each example line of man/sections/*.json appears whole on one line of the rendered page:
    /// unfilled, unhyphenated, with the characters as typed.
    @Test func examplesRenderAsWritten() throws {
        let dir = Self.root.appendingPathComponent("man/sections")
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() {
            let data = try Data(contentsOf: dir.appendingPathComponent(file))
            let sections = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let page = file.hasSuffix(".5.json") ? "man/man5/\(file.dropLast(5))" : "man/man1/\(file.dropLast(5)).1"
            let lines = Set(try Self.rendered(page).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
            let examples = try #require(sections["examples"] as? [[String: Any]], "\(file) has no examples")
            for example in examples {
                for line in try #require(example["code"] as? [String]) {
                    #expect(lines.contains(line.trimmingCharacters(in: .whitespaces)), "\(page): the example line \(line) is not rendered as written")
                }
            }
        }
    }

    @Test func clusterJsonPageCoversEveryKeyTheReaderAccepts() throws {
        let text = try Self.rendered("man/man5/cluster.json.5", width: 200)
        let keys = try ClusterConfig.keysRead()
        #expect(keys.count > 50)
        for key in keys.sorted() {
            #expect(text.contains(key), "cluster.json(5) does not document \(key)")
        }
        // The default file rules, and what SIGHUP reloads.
        for rule in ["client.keys", "etc/shared/", "etc/rules/", "etc/decoders/", "etc/lists/", "merged.mg"] {
            #expect(text.contains(rule), "cluster.json(5) does not show the default rule \(rule)")
        }
        #expect(text.contains("SIGHUP"))
        #expect(text.contains("intervals.worker.sync_integrity (seconds; default 9; 0.001 to 31,536,000; reloaded on SIGHUP)"))
        #expect(text.contains("node.root (path; required: yes; read at start)"))
    }

    /// The examples in a command's discussion (a crontab line, a pipeline) are printed by --help
    /// on lines of their own, never wrapped in the middle.
    @Test func helpExamplesAreNotWrapped() throws {
        let examples: [(String, String)] = [
            ("cl-worker sync integrity --help", "*/5 * * * * cl-worker sync integrity -c /etc/clustertools/cluster.json"),
            ("cl-integrity check --help", "@hourly cl-integrity check --root $R --against $B --cache $C --quiet"),
            ("cl-integrity check --help", "cl-integrity scan --root /var/ossec > /etc/clustertools/baseline.json"),
            ("cl-integrity compare --help", "cl-integrity scan --root /var/ossec |"),
            ("cl-dapi call --help", #"cl-dapi call agents.list --all --args '{"limit":10,"sort":"name"}'"#),
            ("cl-dapi call --help", #"cl-dapi call node.logs --nodes worker-1 --args '{"level":"error"}'"#),
            ("cl-dapi call --help", #"echo '{"f": "cluster.health", "request_type": "local_master"}' |"#),
        ]
        for (command, line) in examples {
            let r = try ToolRunner.shell(command, environment: ["COLUMNS": "80"])
            #expect(r.status == 0)
            let lines = r.stdoutText.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(lines.contains(line), "\(command) wraps \(line)")
        }
    }
}
