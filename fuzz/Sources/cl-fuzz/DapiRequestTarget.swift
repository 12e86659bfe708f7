import ClusterKit

/// A distributed API request as a peer sends it (the reference's 13 keys), refused or read
/// within its size and timeout bounds.
enum DapiRequestTarget {
    static let target = FuzzTarget(name: "dapi-request", summary: "DapiRequest") { input in
        guard let r = try? DapiRequest(bytes: [UInt8](input)) else { return }
        require(r.apiTimeout.map { $0 >= 0 && $0 <= DapiRequest.maxTimeout } ?? true, "timeout \(r.apiTimeout!) out of bounds")
    }
}
