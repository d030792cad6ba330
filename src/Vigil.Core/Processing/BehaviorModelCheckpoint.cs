using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Engine;
using Vigil.Core.Events;

namespace Vigil.Core.Processing;

/// <summary>
/// Puts a learning <see cref="BehaviorModel"/> into its pipeline's checkpoints: an operator that takes no part in the
/// stream and only snapshots and restores the model (its sample, generator, last refit and forest).
/// </summary>
internal sealed class BehaviorModelCheckpoint(BehaviorModel model) : Operator<UserEvent, Alert>
{
    /// <summary>The section name; a checkpoint written before this section existed restores with an empty model.</summary>
    public const string SectionName = "BEHAVIOR_ANOMALY.model";

    public override string Name => SectionName;

    public override void OnEvent(in UserEvent evt, long timestampMs, IOutput<Alert> output)
    {
    }

    public override void Snapshot(BinaryWriter writer) => model.WriteState(writer);

    public override void Restore(BinaryReader reader) => model.ReadState(reader);
}
