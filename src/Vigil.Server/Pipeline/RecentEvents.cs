using Vigil.Core.Events;

namespace Vigil.Server.Pipeline;

/// <summary>What the user page shows of a user's recent events.</summary>
public sealed record RecentEvent(string EventId, string Type, DateTimeOffset Timestamp, string? IpAddress, string? UserAgent, string? SessionId);

/// <summary>
/// The last events of the most recently active users, for the user page: bounded (users × events per user) with
/// least-recently-active users dropped first, so memory stays fixed however many users there are.
/// </summary>
public sealed class RecentEvents(int maxUsers = 20_000, int perUser = 25)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, LinkedListNode<(string User, Queue<RecentEvent> Events)>> _users = new(StringComparer.Ordinal);
    private readonly LinkedList<(string User, Queue<RecentEvent> Events)> _order = new();

    public void Add(UserEvent evt)
    {
        ArgumentNullException.ThrowIfNull(evt);
        var user = evt.SubjectKey;
        if (user.Length == 0)
        {
            return;
        }
        var item = new RecentEvent(evt.EventId, evt.Type == EventType.Other ? evt.RawType ?? "OTHER" : evt.Type.ToWireName(),
            evt.Timestamp, evt.IpAddress, evt.UserAgent, evt.SessionId);
        lock (_lock)
        {
            if (_users.TryGetValue(user, out var node))
            {
                _order.Remove(node);
            }
            else
            {
                node = new LinkedListNode<(string, Queue<RecentEvent>)>((user, new Queue<RecentEvent>(perUser)));
                _users[user] = node;
                if (_users.Count > maxUsers && _order.Last is { } oldest)
                {
                    _order.RemoveLast();
                    _users.Remove(oldest.Value.User);
                }
            }
            _order.AddFirst(node);
            var events = node.Value.Events;
            if (events.Count == perUser)
            {
                events.Dequeue();
            }
            events.Enqueue(item);
        }
    }

    /// <summary>Newest first; empty when the user has not been seen lately.</summary>
    public IReadOnlyList<RecentEvent> For(string user)
    {
        lock (_lock)
        {
            if (!_users.TryGetValue(user, out var node))
            {
                return [];
            }
            var list = node.Value.Events.ToList();
            list.Reverse();
            return list;
        }
    }
}
