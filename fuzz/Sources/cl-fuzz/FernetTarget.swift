import ClusterKit

/// A Fernet token off the wire: refused unless it verifies under the key, and the in-place
/// decryption the tools use gives the same answer as the one the link uses.
enum FernetTarget {
    static let fernet = Fernet(key: try! ClusterKey(text: "c98b62a9b6169ac5f67dae55ae4a9088"))

    static let target = FuzzTarget(name: "fernet", summary: "Fernet token parsing and decryption") { input in
        let token = [UInt8](input)
        let plain = try? fernet.decrypt(token)
        var raw = (try? Fernet.decode(token)) ?? []
        let inPlace = (try? fernet.decryptInPlace(&raw)).map { Array(raw[$0]) }
        require(plain == inPlace, "decrypt and decryptInPlace disagree")
        _ = try? fernet.decrypt(token, ttl: 60, now: 1_700_000_000)
    }
}
