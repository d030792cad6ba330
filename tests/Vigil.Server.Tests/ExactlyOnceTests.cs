using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Engine;
using Vigil.Server.Pipeline;

namespace Vigil.Server.Tests;

public sealed class ExactlyOnceTests
{
    private static Alert Alert(string id, int? occurrences) => new()
    {
        AlertId = id,
        Rule = "BRUTE_FORCE",
        Severity = Severity.High,
        UserId = "u-1",
        EventTime = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000),
        DetectedAt = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000),
        Summary = "s",
        Evidence = occurrences is { } n ? new Dictionary<string, object?> { [Evidence.Occurrences] = n, ["eventIds"] = new[] { "e1" } }
            : new Dictionary<string, object?> { ["eventIds"] = new[] { "e1" } },
    };

    [Fact]
    public void CheckpointEnvelope_WrapThenUnwrap_GivesTheSnapshotAndTheEnds()
    {
        var snapshot = new byte[] { 1, 2, 3, 4, 5 };
        var envelope = new CheckpointEnvelope(42, new Dictionary<int, long> { [0] = 7, [3] = 19 });

        var data = envelope.Wrap(9, snapshot);
        var inner = CheckpointEnvelope.Unwrap(data, out var read);

        Assert.Equal(CheckpointReadStatus.Ok, CheckpointReader.Verify(data));
        Assert.Equal(snapshot, inner.ToArray());
        Assert.Equal(42, read!.ResumeOffset);
        Assert.Equal(19, read.OutputEnds[3]);
        Assert.Equal(2, read.OutputEnds.Count);
    }

    [Fact]
    public void CheckpointEnvelope_UnwrapPlainSnapshot_ReturnsItUnchanged()
    {
        using var writer = new CheckpointWriter(1, [new SourceOffset(0, 5)]);
        writer.WriteWatermarks(new Empty());
        writer.WriteTimers(_ => { });
        var plain = writer.ToArray();

        var inner = CheckpointEnvelope.Unwrap(plain, out var envelope);

        Assert.Null(envelope);
        Assert.Equal(plain, inner.ToArray());
    }

    [Fact]
    public void PublishedAlerts_RecordOnTheTopic_IsSkippedOnceThenProducedAgain()
    {
        var published = new PublishedAlerts();
        published.AddRecord(AlertJson.ToUtf8Bytes(Alert("a-1", 1)));

        Assert.True(published.TryConsume(Alert("a-1", 1)));
        Assert.False(published.TryConsume(Alert("a-1", 1)));
        Assert.Equal(1, published.Skipped);
    }

    [Fact]
    public void PublishedAlerts_SuppressedRepeatWithHigherCount_IsNotSkipped()
    {
        var published = new PublishedAlerts();
        published.AddRecord(AlertJson.ToUtf8Bytes(Alert("a-1", 1)));

        Assert.False(published.TryConsume(Alert("a-1", 2)));
        Assert.True(published.TryConsume(Alert("a-1", 1)));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("{\"rule\":\"X\"}")]
    public void PublishedAlerts_RecordNotAnAlert_IsIgnored(string value)
    {
        var published = new PublishedAlerts();

        published.AddRecord(System.Text.Encoding.UTF8.GetBytes(value));

        Assert.Equal(0, published.Count);
    }

    [Fact]
    public void PublishedAlerts_AlertWithoutOccurrences_MatchesByIdAlone()
    {
        var published = new PublishedAlerts();
        published.AddRecord(AlertJson.ToUtf8Bytes(Alert("a-2", null)));

        Assert.True(published.TryConsume(Alert("a-2", null)));
    }

    private sealed class Empty : ICheckpointable
    {
        public string Name => "w";

        public void Snapshot(BinaryWriter writer)
        {
        }

        public void Restore(BinaryReader reader)
        {
        }
    }
}
