using Vigil.Core.Engine;
using Vigil.Core.Events;

namespace Vigil.Core.Tests.Engine;

public sealed class UserEventSerializerTests
{
    private static UserEvent RoundTrip(UserEvent e)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            UserEventSerializer.Instance.Write(writer, e);
        }
        stream.Position = 0;
        using var reader = new BinaryReader(stream);
        var back = UserEventSerializer.Instance.Read(reader);
        Assert.Equal(stream.Length, stream.Position);
        return back;
    }

    [Fact]
    public void Write_EveryField_RoundTrips()
    {
        var e = new UserEvent
        {
            EventId = "e-1", Type = EventType.Other, RawType = "WEIRD", TimestampMs = 1_767_571_200_123, UserId = "u-1",
            Username = "alice", SessionId = "s-1", IpAddress = "2001:db8::1", UserAgent = "curl/8",
            Properties = new Dictionary<string, string> { ["z"] = "1", ["a"] = "2" },
        };

        var back = RoundTrip(e);

        Assert.Equal(e with { Properties = null }, back with { Properties = null });
        Assert.Equal(e.Properties.OrderBy(p => p.Key), back.Properties!.OrderBy(p => p.Key));
    }

    [Fact]
    public void Write_OnlyRequiredFields_RoundTripsWithNulls()
    {
        var e = new UserEvent { EventId = "e-2", Type = EventType.LoginFailed, TimestampMs = 5 };

        Assert.Equal(e, RoundTrip(e));
    }
}
