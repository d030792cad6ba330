namespace Vigil.Core.Detection;

/// <summary>
/// Which rules a <see cref="Processing.DetectionPipeline"/> runs, so that rules keyed by something other than the
/// user can run where every user's events meet.
/// </summary>
/// <remarks>
/// Input arrives partitioned by user, so a per-partition pipeline sees all of a user's events but only a slice of an
/// IP's or of the tenant's. The per-user rules run in every partition's pipeline (<see cref="PerUser"/>); the IP- and
/// tenant-keyed rules run in ONE further pipeline (<see cref="Shared"/>) that the host feeds with every partition's
/// events, each partition as one of its inputs (<see cref="Processing.PipelineOptions.Inputs"/>), so its watermark is
/// the minimum over them. A replay, which sees everything in one stream, runs <see cref="All"/>.
/// </remarks>
public enum DetectionScope : byte
{
    /// <summary>Every rule: one pipeline sees every event (replay, a single partition, tests).</summary>
    All,

    /// <summary>Rules keyed by the user (or the user name of an unknown account): BRUTE_FORCE, ACCOUNT_TAKEOVER,
    /// IMPOSSIBLE_TRAVEL, NEW_COUNTRY, RAPID_ACTIVITY, BEHAVIOR_ANOMALY, RESET_BOMBING.</summary>
    PerUser,

    /// <summary>Rules keyed by an IP or the whole tenant: BRUTE_FORCE_IP, PASSWORD_SPRAY, CREDENTIAL_STUFFING.</summary>
    Shared,
}
