using Vigil.Core.Events;

namespace Vigil.Core.Engine;

/// <summary>The checkpoint form of a <see cref="UserEvent"/>: a presence bit-set, then the fields present.</summary>
public sealed class UserEventSerializer : IStateSerializer<UserEvent>
{
    public static UserEventSerializer Instance { get; } = new();

    [Flags]
    private enum Present : byte
    {
        None = 0,
        RawType = 1,
        UserId = 2,
        Username = 4,
        SessionId = 8,
        IpAddress = 16,
        UserAgent = 32,
        Properties = 64,
    }

    public void Write(BinaryWriter writer, UserEvent value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        var present = Present.None;
        if (value.RawType is not null) present |= Present.RawType;
        if (value.UserId is not null) present |= Present.UserId;
        if (value.Username is not null) present |= Present.Username;
        if (value.SessionId is not null) present |= Present.SessionId;
        if (value.IpAddress is not null) present |= Present.IpAddress;
        if (value.UserAgent is not null) present |= Present.UserAgent;
        if (value.Properties is not null) present |= Present.Properties;
        writer.Write((byte)present);
        writer.Write(value.EventId);
        writer.Write((byte)value.Type);
        writer.Write(value.TimestampMs);
        if (value.RawType is { } rawType) writer.Write(rawType);
        if (value.UserId is { } userId) writer.Write(userId);
        if (value.Username is { } username) writer.Write(username);
        if (value.SessionId is { } sessionId) writer.Write(sessionId);
        if (value.IpAddress is { } ip) writer.Write(ip);
        if (value.UserAgent is { } ua) writer.Write(ua);
        if (value.Properties is { } properties)
        {
            // Sorted, so equal events give equal bytes whatever dictionary holds them.
            var keys = new string[properties.Count];
            var i = 0;
            foreach (var key in properties.Keys)
            {
                keys[i++] = key;
            }
            Array.Sort(keys, StringComparer.Ordinal);
            writer.Write(keys.Length);
            foreach (var key in keys)
            {
                writer.Write(key);
                writer.Write(properties[key]);
            }
        }
    }

    public UserEvent Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var present = (Present)reader.ReadByte();
        var eventId = reader.ReadString();
        var type = (EventType)reader.ReadByte();
        var timestamp = reader.ReadInt64();
        var rawType = (present & Present.RawType) != 0 ? reader.ReadString() : null;
        var userId = (present & Present.UserId) != 0 ? reader.ReadString() : null;
        var username = (present & Present.Username) != 0 ? reader.ReadString() : null;
        var sessionId = (present & Present.SessionId) != 0 ? reader.ReadString() : null;
        var ip = (present & Present.IpAddress) != 0 ? reader.ReadString() : null;
        var ua = (present & Present.UserAgent) != 0 ? reader.ReadString() : null;
        Dictionary<string, string>? properties = null;
        if ((present & Present.Properties) != 0)
        {
            var count = reader.ReadInt32();
            if (count is < 0 or > 1_000_000)
            {
                throw new InvalidDataException($"A checkpointed event claims {count} properties.");
            }
            properties = new Dictionary<string, string>(count, StringComparer.Ordinal);
            for (var i = 0; i < count; i++)
            {
                var key = reader.ReadString();
                properties[key] = reader.ReadString();
            }
        }
        return new UserEvent
        {
            EventId = eventId,
            Type = type,
            TimestampMs = timestamp,
            RawType = rawType,
            UserId = userId,
            Username = username,
            SessionId = sessionId,
            IpAddress = ip,
            UserAgent = ua,
            Properties = properties,
        };
    }
}
