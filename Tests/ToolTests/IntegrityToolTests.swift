import Foundation
import Testing

/// cl-integrity as a user runs it: pipes, files, exit statuses.
@Suite struct IntegrityToolTests {
    /// Two small trees: `m` (master) and `w` (worker), and a copy of the worker.
    func trees() throws -> URL {
        let dir = try ToolRunner.temporaryDirectory("cli")
        let r = try ToolRunner.shell("""
            set -e
            mkdir -p m/etc/shared/default m/etc/shared/g1 m/etc/rules w/etc/shared/default w/etc/shared/old w/etc/rules
            printf '001 a any k\\n' > m/etc/client.keys; printf '001 a any x\\n' > w/etc/client.keys
            printf '<agent_config/>' > m/etc/shared/default/agent.conf; cp m/etc/shared/default/agent.conf w/etc/shared/default/
            printf 'b' > m/etc/shared/default/b.conf; cp m/etc/shared/default/b.conf w/etc/shared/default/
            printf 'new' > 'm/etc/shared/g1/new file.conf'
            printf 'stale' > w/etc/shared/old/stale.conf
            printf '<group/>' > m/etc/rules/local_rules.xml; cp m/etc/rules/local_rules.xml w/etc/rules/
            """, in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        return dir
    }

    @Test func scanComparePackApplyPipeline() throws {
        let dir = try trees()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try ToolRunner.shell("""
            cl-integrity scan --root m > master.json
            cl-integrity scan --root w | cl-integrity compare master.json - > cls.json
            cl-integrity pack --root m < cls.json > c.bin
            cl-integrity apply --root w --durability none < c.bin > report.json
            cl-integrity check --root w --against master.json
            """, in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let cls = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("cls.json"))) as! [String: [String: Any]]
        #expect(Set(cls["missing"]!.keys) == ["etc/shared/g1/new file.conf"])
        #expect(Set(cls["extra"]!.keys) == ["etc/shared/old/stale.conf"])
        #expect(Set(cls["shared"]!.keys) == ["etc/client.keys"])
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("report.json"))) as! [String: Any]
        #expect(report["deleted"] as? [String] == ["etc/shared/old/stale.conf"])
        #expect(report["removed_directories"] as? [String] == ["etc/shared/old"])
    }

    @Test func scanOutputIsJsonDumpsWithoutNewline() throws {
        let dir = try trees()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try ToolRunner.shell("cl-integrity scan --root m --cache c.cache && cl-integrity scan --root m --cache c.cache --stats", in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdoutText.hasPrefix("{\"etc/client.keys\": {\"mod_time\": "))
        #expect(r.stdoutText.hasSuffix("}"))
        #expect(r.stderr.contains("\"files\":5"))
    }

    @Test func checkExitsOneWithADiff() throws {
        let dir = try trees()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try ToolRunner.shell("cl-integrity scan --root m > m.json; printf changed > m/etc/shared/default/b.conf; cl-integrity check --root m --against m.json", in: dir)
        #expect(r.status == 1)
        let diff = try JSONSerialization.jsonObject(with: Data(r.stdout)) as! [String: Any]
        #expect(diff["changed"] as? [String] == ["etc/shared/default/b.conf"])
        #expect(diff["identical"] as? Bool == false)
    }

    @Test func refusalsAndErrorsUseTheirExitStatuses() throws {
        let dir = try trees()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A container whose entry climbs out of the root: 65, and nothing written.
        let evil = try ToolRunner.shell("""
            python3 -c "
            import zlib, sys
            meta = b'{\\"missing\\": {\\"../escape.conf\\": {\\"mod_time\\": 1.0, \\"cluster_item_key\\": \\"etc/shared/\\", \\"merged\\": false, \\"hash\\": \\"0\\"}}, \\"extra\\": {}, \\"shared\\": {}}'
            sys.stdout.buffer.write(b'../escape.conf|//@@//|' + zlib.compress(b'x', 1) + b'|@@//@@|files_metadata.json|//@@//|' + zlib.compress(meta, 1))
            " | cl-integrity apply --root w
            """, in: dir)
        #expect(evil.status == 65, "\(evil.stderr)")
        #expect(errorLine(evil.stderr)?["exit"] as? Int == 65)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("escape.conf").path))
        // Truncated container: 65.
        let cut = try ToolRunner.shell("cl-integrity scan --root m > m.json; cl-integrity scan --root w | cl-integrity compare m.json - | cl-integrity pack --root m | head -c 40 | cl-integrity apply --root w", in: dir)
        #expect(cut.status == 65, "\(cut.stderr)")
        // Missing root: 66. Bad rules: 78, naming the key. Usage: 64.
        #expect(try ToolRunner.shell("cl-integrity scan --root nowhere", in: dir).status == 66)
        let rules = try ToolRunner.shell(#"echo '{"files": {"etc/": {"bogus": 1}}}' > bad.json; cl-integrity scan --root m --rules bad.json"#, in: dir)
        #expect(rules.status == 78)
        #expect(rules.stderr.contains("bogus"))
        #expect(try ToolRunner.shell("cl-integrity scan", in: dir).status == 64)
        // Mass deletion refused by compare: 65; --force lets it through.
        let mass = try ToolRunner.shell("echo '{}' > empty.json; cl-integrity scan --root w | cl-integrity compare empty.json -", in: dir)
        #expect(mass.status == 65)
        #expect(try ToolRunner.shell("cl-integrity scan --root w | cl-integrity compare --force empty.json -", in: dir).status == 0)
    }

    /// Hole 3 (issue 11): an entry whose content does not match the BLAKE2b-512 in its metadata
    /// (here the master's file changed between the comparison and the pack) refuses the whole
    /// container with 65, before anything is renamed: the worker's root stays byte-identical,
    /// the entries that did match included, and no staging directory is left.
    @Test func entryNotMatchingItsMetadataHashIsRefused() throws {
        let dir = try trees()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try ToolRunner.shell("""
            set -e
            cl-integrity scan --root m > m.json
            cl-integrity scan --root w | cl-integrity compare m.json - > cls.json
            printf 'tampered after the scan' > 'm/etc/shared/g1/new file.conf'
            cl-integrity pack --root m < cls.json > c.bin
            cp -a w before
            """, in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let apply = try ToolRunner.shell("cl-integrity apply --root w --durability none < c.bin", in: dir)
        #expect(apply.status == 65, "\(apply.stderr)")
        #expect(apply.stderr.contains("BLAKE2b-512"), "\(apply.stderr)")
        #expect(apply.stderr.contains("new file.conf"), "\(apply.stderr)")
        let same = try ToolRunner.shell("diff -r before w && test -z \"$(ls -A w | grep cl-integrity-staging)\"", in: dir)
        #expect(same.status == 0, "the root changed: \(same.stdout) \(same.stderr)")
        // The dry run checks the same, and the untampered container still applies.
        #expect(try ToolRunner.shell("cl-integrity apply --root w --dry-run < c.bin", in: dir).status == 65)
        let good = try ToolRunner.shell("""
            printf 'new' > 'm/etc/shared/g1/new file.conf'
            cl-integrity pack --root m < cls.json | cl-integrity apply --root w --durability none > /dev/null
            cl-integrity check --root w --against m.json
            """, in: dir)
        #expect(good.status == 0, "\(good.stderr)")
    }

    /// Hole 2 (issue 11): an apply killed with SIGKILL mid-way leaves its staging directory;
    /// the next apply removes it, and leaves alone the staging directory of an apply that is
    /// still running (it holds a lock on it), which then finishes normally.
    @Test func applyRemovesTheStagingOfAKilledApplyButNotALiveOne() throws {
        let dir = try trees()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try ToolRunner.shell("""
            set -e
            staging() { ls -A w | grep '^\\.cl-integrity-staging-' | sort; }
            waitfor() { for i in $(seq 200); do [ "$(staging | wc -l)" -ge "$1" ] && return 0; sleep 0.05; done; echo "no staging dir" >&2; exit 9; }
            cl-integrity scan --root m > m.json
            cl-integrity scan --root w | cl-integrity compare m.json - > cls.json
            cl-integrity pack --root m < cls.json > c.bin
            size=$(wc -c < c.bin)
            mkfifo dead.fifo live.fifo
            # One apply still running, waiting for the rest of its container.
            cl-integrity apply --root w --durability none < live.fifo > live.json 2> live.err &
            live=$!
            exec 4> live.fifo
            head -c $((size / 2)) c.bin >&4
            waitfor 1
            live_dir=$(staging)
            # One apply killed mid-way, its container half sent (it swept at start, and left
            # the live one's alone).
            cl-integrity apply --root w --durability none < dead.fifo > /dev/null 2>&1 &
            dead=$!
            exec 3> dead.fifo
            head -c $((size / 2)) c.bin >&3
            waitfor 2
            kill -9 $dead
            wait $dead || true
            exec 3>&-
            dead_dir=$(staging | grep -vx "$live_dir")
            [ -d "w/$live_dir" ] && [ -d "w/$dead_dir" ]
            # A whole apply now: the dead one's directory goes, the live one's stays.
            cl-integrity apply --root w --durability none < c.bin > /dev/null
            [ ! -e "w/$dead_dir" ] || { echo "the killed apply's $dead_dir is still there" >&2; exit 10; }
            [ -d "w/$live_dir" ] || { echo "the live apply's $live_dir was removed" >&2; exit 11; }
            # The live apply finishes and cleans up after itself.
            tail -c +$((size / 2 + 1)) c.bin >&4
            exec 4>&-
            wait $live || { echo "the live apply failed: $(cat live.err)" >&2; exit 12; }
            [ -z "$(staging)" ] || { echo "left: $(staging)" >&2; exit 13; }
            cl-integrity check --root w --against m.json
            """, in: dir)
        #expect(r.status == 0, "\(r.status): \(r.stderr)")
    }

    @Test func dryRunChangesNothing() throws {
        let dir = try trees()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try ToolRunner.shell("""
            cl-integrity scan --root m > m.json
            cl-integrity scan --root w > w1.json
            cl-integrity compare m.json w1.json | cl-integrity pack --root m | cl-integrity apply --root w --dry-run > plan.json
            cl-integrity check --root w --against w1.json
            """, in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let plan = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("plan.json"))) as! [String: Any]
        #expect(plan["dry_run"] as? Bool == true)
        #expect(plan["created"] as? [String] == ["etc/shared/g1/new file.conf"])
    }
}
