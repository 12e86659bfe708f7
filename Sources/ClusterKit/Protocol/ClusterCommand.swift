/// Command names of the cluster protocol (wire §4), as they appear in the command field.
public enum ClusterCommand {
    // Responses.
    public static let ok = "ok"
    public static let err = "err"
    public static let okMaster = "ok-m"
    public static let okClient = "ok-c"
    /// Reply names that mean "this frame answers one of your requests".
    public static let responseNames: Set<String> = [ok, err, okMaster, okClient]

    // Every handler.
    public static let echo = "echo"
    public static let newFile = "new_file"
    public static let fileUpdate = "file_upd"
    public static let fileEnd = "file_end"
    public static let newString = "new_str"
    public static let stringUpdate = "str_upd"
    public static let errorString = "err_str"
    public static let cancelTask = "cancel_task"
    public static let dapiError = "dapi_err"

    // Master side.
    public static let hello = "hello"
    public static let keepalive = "echo-c"
    public static let integrityPermission = "syn_i_w_m_p"
    public static let integrityStart = "syn_i_w_m"
    public static let integrityEnd = "syn_i_w_m_e"
    public static let integrityError = "syn_i_w_m_r"
    public static let agentInfoPermission = "syn_a_w_m_p"
    public static let agentInfoStart = "syn_a_w_m"
    public static let agentGroupsFullRequest = "syn_w_g_c"
    public static let agentGroupsResult = "syn_w_g_e"
    public static let agentGroupsError = "syn_w_g_err"
    public static let agentGroupsFullResult = "syn_wgc_e"
    public static let agentGroupsFullError = "syn_wgc_err"
    public static let dapi = "dapi"
    public static let dapiResponse = "dapi_res"
    public static let dapiForward = "dapi_fwd"
    public static let getNodes = "get_nodes"
    public static let getHealth = "get_health"
    public static let getHash = "get_hash"
    public static let getConfig = "get_config"
    public static let sendSync = "sendsync"
    /// Ours, local socket only: a master's own failover state, and a leader's planned hand-over.
    public static let haStatus = "ha_status"
    public static let haResign = "ha_resign"

    // Worker side.
    public static let masterKeepalive = "echo-m"
    public static let integrityOK = "syn_m_c_ok"
    public static let integritySync = "syn_m_c"
    public static let integritySyncEnd = "syn_m_c_e"
    public static let integritySyncError = "syn_m_c_r"
    public static let agentGroups = "syn_g_m_w"
    public static let agentGroupsFull = "syn_g_m_w_c"
    public static let agentInfoResult = "syn_m_a_e"
    public static let agentInfoError = "syn_m_a_err"
    public static let controlResponse = "control_res"
    public static let sendSyncResponse = "sendsyn_res"
    public static let sendSyncError = "sendsyn_err"

    /// The text the reference's worker answers a forwarded local request with, before the real
    /// answer arrives as a `control_res` request.
    public static let sentToMaster = "Sent request to master node"

    /// The master's acknowledgement of a worker's `sendsync`, and the worker's of the master's
    /// `sendsyn_res` / `sendsyn_err` (wire §4.4–4.5).
    public static let sendSyncQueued = "Added request to SendSync requests queue"
    public static let sendSyncForwarded = "Response forwarded to worker"
    public static let sendSyncErrorForwarded = "SendSync error forwarded to worker"
}
