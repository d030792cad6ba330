using Vigil.Core.Alerts;
using Vigil.Core.Engine;
using Vigil.Core.Events;
using Vigil.Core.Features;
using Vigil.Core.Ml;
using static Vigil.Core.Tests.Features.FeatureStreams;

namespace Vigil.Core.Tests.Features;

public sealed class UserFeaturesOperatorTests
{
    private static PartitionRuntime<UserEvent, Alert> Runtime(UserFeaturesOperator op) =>
        new([op], new PartitionRuntimeOptions
        {
            Watermarks = new WatermarkOptions { OutOfOrderness = TimeSpan.FromSeconds(5), IdleTimeout = Timeout.InfiniteTimeSpan },
        });

    private static List<UserEvent> Stream(int users, int eventsPerUser)
    {
        var events = new List<UserEvent>();
        for (var i = 0; i < eventsPerUser; i++)
        {
            for (var u = 0; u < users; u++)
            {
                var type = (i + u) % 3 == 0 ? EventType.LoginSuccess : EventType.Search;
                events.Add(Event(type, At(0, 8, i, u), user: $"u-{u}", session: $"s-{u}-{i / 4}", ip: $"198.51.100.{u % 7}"));
            }
        }
        return events;
    }

    [Fact]
    public void TryGetFeatures_AfterEventsInTheRuntime_MatchesTheAggregator()
    {
        var op = new UserFeaturesOperator();
        var runtime = Runtime(op);
        var aggregator = new UserFeatureAggregator();
        var output = new ListOutput<Alert>();
        var offset = 0L;
        foreach (var e in Stream(3, 10))
        {
            runtime.Process(e, e.TimestampMs, offset++, output);
            aggregator.Add(e);
        }

        var fromOperator = new float[UserFeatures.Count];
        var fromAggregator = new float[UserFeatures.Count];
        Assert.True(op.TryGetFeatures("u-1", fromOperator));
        Assert.True(aggregator.TryGetFeatures("u-1", fromAggregator));
        Assert.Equal(fromAggregator, fromOperator);
        Assert.Equal(10, fromOperator.Get(UserFeature.Events));
        Assert.Empty(output.Items);
        Assert.False(op.TryGetFeatures("u-9", fromOperator));
    }

    [Fact]
    public void Snapshot_RestoreIntoFreshRuntime_ContinuesAsIfNeverStopped()
    {
        var events = Stream(4, 12);
        var straight = new UserFeaturesOperator();
        var straightRuntime = Runtime(straight);
        var output = new ListOutput<Alert>();
        for (var i = 0; i < events.Count; i++)
        {
            straightRuntime.Process(events[i], events[i].TimestampMs, i, output);
        }

        var first = new UserFeaturesOperator();
        var firstRuntime = Runtime(first);
        for (var i = 0; i < 20; i++)
        {
            firstRuntime.Process(events[i], events[i].TimestampMs, i, output);
        }
        var checkpoint = firstRuntime.Snapshot();
        var second = new UserFeaturesOperator();
        var secondRuntime = Runtime(second);
        Assert.Equal(CheckpointReadStatus.Ok, secondRuntime.Restore(checkpoint));
        for (var i = 20; i < events.Count; i++)
        {
            secondRuntime.Process(events[i], events[i].TimestampMs, i, output);
        }

        for (var u = 0; u < 4; u++)
        {
            var a = new float[UserFeatures.Count];
            var b = new float[UserFeatures.Count];
            Assert.True(straight.TryGetFeatures($"u-{u}", a));
            Assert.True(second.TryGetFeatures($"u-{u}", b));
            Assert.Equal(a, b);
        }
    }

    [Fact]
    public void Process_WithReservoir_OffersEachUsersLatestVector()
    {
        var reservoir = new FeatureReservoir(100);
        var op = new UserFeaturesOperator(reservoir: reservoir);
        var runtime = Runtime(op);
        var events = Stream(5, 6);
        for (var i = 0; i < events.Count; i++)
        {
            runtime.Process(events[i], events[i].TimestampMs, i, new ListOutput<Alert>());
        }

        var sample = reservoir.Snapshot();
        Assert.Equal(5, sample.Count);
        Assert.Equal(["u-0", "u-1", "u-2", "u-3", "u-4"], sample.UserIds);
        Assert.Equal(6, sample.Rows[(2 * UserFeatures.Count) + (int)UserFeature.Events]);
    }

    [Fact]
    public void Process_WithSegmentModel_AssignsOnceAfterMinimumAndChangesWhenRenamed()
    {
        var registry = new ModelRegistry();
        var sink = new ListInsightSink();
        var assigner = new SegmentAssigner(registry, sink, new SegmentAssignerOptions { MinEvents = 3, ReassessEvery = 2 });
        var op = new UserFeaturesOperator(segments: assigner);
        var runtime = Runtime(op);
        registry.Publish(MlTestModels.TwoSegments(registry.NextVersion(), nightOwlsFirst: true), null, null, null);
        var offset = 0L;
        void Feed(UserEvent e) => runtime.Process(e, e.TimestampMs, offset++, new ListOutput<Alert>());

        // Night-time events: the "night owls" segment.
        Feed(Event(EventType.PageView, At(0, 2)));
        Feed(Event(EventType.PageView, At(0, 2, 1)));
        Assert.Empty(sink.Items);
        Feed(Event(EventType.PageView, At(0, 2, 2)));
        var assigned = Assert.Single(sink.Items);
        Assert.Equal(InsightKinds.SegmentAssigned, assigned.Kind);
        Assert.Equal("u-1", assigned.UserId);
        Assert.Equal("night owls", assigned.Payload["segment"]);
        Feed(Event(EventType.PageView, At(0, 2, 3)));
        Feed(Event(EventType.PageView, At(0, 2, 4)));
        Assert.Single(sink.Items);

        // A retrain with the same segments in another order renames nobody.
        registry.Publish(MlTestModels.TwoSegments(registry.NextVersion(), nightOwlsFirst: false), null, null, null);
        Feed(Event(EventType.PageView, At(0, 2, 5)));
        Assert.Single(sink.Items);

        // Daytime events pull the night share down: the user changes segment.
        for (var i = 0; i < 12; i++)
        {
            Feed(Event(EventType.PageView, At(0, 12, i)));
        }
        var changed = sink.Items[^1];
        Assert.Equal(InsightKinds.SegmentChanged, changed.Kind);
        Assert.Equal("night owls", changed.Payload["previousSegment"]);
        Assert.Equal("casual users", changed.Payload["segment"]);
        Assert.Equal(2, sink.Items.Count);
    }
}

internal sealed class ListInsightSink : IInsightSink
{
    public List<Insight> Items { get; } = [];

    public void Publish(Insight insight) => Items.Add(insight);
}
