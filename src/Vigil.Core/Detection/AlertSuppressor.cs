using Vigil.Core.Alerts;
using Vigil.Core.Engine;
using Vigil.Core.Events;

namespace Vigil.Core.Detection;

/// <summary>Settings of <see cref="AlertSuppressor"/>.</summary>
public sealed record SuppressionOptions
{
    public bool Enabled { get; init; } = true;

    /// <summary>How long after an alert repeats of the same (rule, entity) update it instead of raising new ones.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromHours(1);
}

/// <summary>
/// One open alert per (rule, entity) per suppression window. The first alert passes (with <c>occurrences</c> 1); a
/// repeat within <see cref="SuppressionOptions.Window"/> of it is not a new alert but an update of the open one:
/// the SAME alert id with a higher <c>occurrences</c>, <c>lastSeen</c>, the repeat's event ids, user, IP and summary
/// in the evidence, and a window stretched to cover it. A repeat of higher severity is an escalation and passes as a
/// new alert, which becomes the open one.
/// </summary>
/// <remarks>
/// Sits between the operators and the pipeline's output (it is the <see cref="IOutput{T}"/> they emit into) and in
/// the runtime as an operator of its own, so its state is checkpointed with theirs and expires by event time.
/// Deterministic: an update is rebuilt from the stored JSON of the first alert, so an update after a restore is
/// byte-identical to one without. The entity is the <see cref="Evidence.Entity"/> evidence, else the user or IP.
/// </remarks>
public sealed class AlertSuppressor : Operator<UserEvent, Alert>, IOutput<Alert>
{
    private readonly SuppressionOptions _options;
    private readonly long _windowMs;
    private IOutput<Alert>? _downstream;

    /// <param name="options">The window.</param>
    public AlertSuppressor(SuppressionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _windowMs = (long)options.Window.TotalMilliseconds;
        State = new KeyedState<OpenAlert>(options.Window, new DelegateStateSerializer<OpenAlert>((w, s) => s.Write(w), OpenAlert.Read));
    }

    public override string Name => "suppression";

    /// <summary>The open alerts by (rule, entity).</summary>
    public KeyedState<OpenAlert> State { get; }

    /// <summary>Repeats folded into open alerts over this instance's life (not checkpointed).</summary>
    public long Suppressed { get; private set; }

    /// <summary>
    /// A rule's own window in ms (the declarative rules' <c>suppression</c>), or a negative number for
    /// <see cref="SuppressionOptions.Window"/>; capped at that window, which is how long open alerts are kept.
    /// </summary>
    public Func<string, long>? RuleWindowMs { get; set; }

    /// <summary>Where alerts go after suppression; set before the runtime emits anything.</summary>
    public IOutput<Alert> Downstream
    {
        get => _downstream ?? throw new InvalidOperationException("The suppressor has no downstream output.");
        set => _downstream = value;
    }

    public void Emit(Alert value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!_options.Enabled)
        {
            Downstream.Emit(value);
            return;
        }
        var key = string.Concat(value.Rule, "\u001f", Evidence.EntityOf(value));
        var timeMs = value.EventTime.ToUnixTimeMilliseconds();
        ref var open = ref State.GetOrAdd(key, timeMs, out var created);
        var windowMs = RuleWindowMs?.Invoke(value.Rule) ?? -1;
        windowMs = windowMs < 0 ? _windowMs : Math.Min(windowMs, _windowMs);
        if (created || open is null || timeMs - open.FirstMs >= windowMs || value.Severity > open.Severity)
        {
            var first = Decorate(value, 1, value.EventTime, value.EventTime, null);
            open = new OpenAlert(AlertJson.ToUtf8Bytes(first), timeMs, timeMs, 1, value.Severity);
            Downstream.Emit(first);
            return;
        }
        open.Occurrences++;
        open.LastMs = Math.Max(open.LastMs, timeMs);
        Suppressed++;
        var original = AlertJson.Parse(open.Json);
        var last = DateTimeOffset.FromUnixTimeMilliseconds(open.LastMs);
        var windowEnd = original.WindowEnd is { } end && end > (value.WindowEnd ?? value.EventTime) ? end : value.WindowEnd ?? value.EventTime;
        Downstream.Emit(Decorate(original with
        {
            WindowEnd = windowEnd,
            Score = Math.Max(original.Score, Math.Round(value.Score, 4)),
            Summary = $"{original.Summary} [seen {open.Occurrences} times, last at {AlertJson.Format(last)}]",
        }, open.Occurrences, DateTimeOffset.FromUnixTimeMilliseconds(open.FirstMs), last, value));
    }

    public override void OnEvent(in UserEvent evt, long timestampMs, IOutput<Alert> output)
    {
    }

    public override void OnWatermark(long watermarkMs, IOutput<Alert> output) => State.EvictExpired(watermarkMs);

    public override void Snapshot(BinaryWriter writer) => State.Write(writer);

    public override void Restore(BinaryReader reader) => State.Read(reader);

    private static Alert Decorate(Alert alert, int occurrences, DateTimeOffset first, DateTimeOffset last, Alert? repeat)
    {
        var evidence = new Dictionary<string, object?>(alert.Evidence.Count + 8, StringComparer.Ordinal);
        foreach (var (k, v) in alert.Evidence)
        {
            evidence[k] = v;
        }
        evidence[Evidence.Occurrences] = occurrences;
        evidence[Evidence.FirstSeen] = AlertJson.Format(first);
        evidence[Evidence.LastSeen] = AlertJson.Format(last);
        if (repeat is not null)
        {
            evidence[Evidence.LastEventIds] = repeat.Evidence.TryGetValue(Evidence.EventIds, out var ids) ? ids : null;
            evidence[Evidence.LastSummary] = repeat.Summary;
            evidence["lastUserId"] = repeat.UserId;
            evidence["lastIpAddress"] = repeat.IpAddress;
            evidence["lastAlertId"] = repeat.AlertId;
        }
        return alert with { Evidence = evidence };
    }
}

/// <summary>An open alert of <see cref="AlertSuppressor"/>: the first alert's JSON and the counts since.</summary>
public sealed class OpenAlert(byte[] json, long firstMs, long lastMs, int occurrences, Severity severity)
{
    public byte[] Json { get; } = json;

    public long FirstMs { get; } = firstMs;

    public long LastMs { get; set; } = lastMs;

    public int Occurrences { get; set; } = occurrences;

    public Severity Severity { get; } = severity;

    public void Write(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(Json.Length);
        writer.Write(Json);
        writer.Write(FirstMs);
        writer.Write(LastMs);
        writer.Write(Occurrences);
        writer.Write((byte)Severity);
    }

    public static OpenAlert Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var length = reader.ReadInt32();
        if (length is < 0 or > 16 * 1024 * 1024)
        {
            throw new InvalidDataException($"A checkpointed open alert claims {length} bytes.");
        }
        return new OpenAlert(reader.ReadBytes(length), reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt32(), (Severity)reader.ReadByte());
    }
}
