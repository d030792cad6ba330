using System.Data.Common;
using Vigil.Core.Alerts;

namespace Vigil.Storage;

/// <summary>The alert workflow and audit log SQL, shared by both stores through the ADO.NET base classes.</summary>
internal static class StatusWorkflow
{
    public static async Task<(StatusChangeOutcome, Alert?)> ChangeAsync(DbConnection connection, string alertId, AlertStatus to,
        string actor, string? note, DateTimeOffset at, Func<DateTimeOffset, object> time,
        Func<DbDataReader, int, DateTimeOffset> readTime, CancellationToken ct)
    {
        // Optimistic: read the status, check the move, then update only if nobody changed it in between.
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var current = await ReadAsync(connection, alertId, readTime, ct);
            if (current is null)
            {
                return (StatusChangeOutcome.NotFound, null);
            }
            if (!Alert.CanMove(current.Status, to))
            {
                return (StatusChangeOutcome.NotAllowed, current);
            }
            await using var update = connection.CreateCommand();
            update.CommandText = """
                UPDATE security_alerts SET status = @to, status_by = @by, status_at = @at, status_note = @note
                WHERE alert_id = @id AND status = @from;
                """;
            Add(update, "@to", (int)to);
            Add(update, "@by", actor);
            Add(update, "@at", time(at));
            Add(update, "@note", (object?)note ?? DBNull.Value);
            Add(update, "@id", alertId);
            Add(update, "@from", (int)current.Status);
            if (await update.ExecuteNonQueryAsync(ct) == 1)
            {
                return (StatusChangeOutcome.Changed, current with { Status = to, StatusBy = actor, StatusAt = at, StatusNote = note });
            }
        }
        var latest = await ReadAsync(connection, alertId, readTime, ct);
        return (latest is null ? StatusChangeOutcome.NotFound : StatusChangeOutcome.NotAllowed, latest);
    }

    public static async Task AppendAuditAsync(DbConnection connection, AuditEntry entry, Func<DateTimeOffset, object> time, CancellationToken ct)
    {
        await using var insert = connection.CreateCommand();
        insert.CommandText = $"INSERT INTO audit_log ({AlertRows.AuditColumns}) VALUES (@at, @actor, @role, @action, @target, @detail);";
        Add(insert, "@at", time(entry.At));
        Add(insert, "@actor", entry.Actor);
        Add(insert, "@role", entry.Role);
        Add(insert, "@action", entry.Action);
        Add(insert, "@target", (object?)entry.Target ?? DBNull.Value);
        Add(insert, "@detail", (object?)entry.Detail ?? DBNull.Value);
        await insert.ExecuteNonQueryAsync(ct);
    }

    public static async Task<IReadOnlyList<AuditEntry>> RecentAuditAsync(DbConnection connection, int limit,
        Func<DbDataReader, int, DateTimeOffset> readTime, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {AlertRows.AuditColumns} FROM audit_log ORDER BY at DESC, id DESC LIMIT @limit;";
        Add(command, "@limit", Math.Clamp(limit, 0, 10_000));
        var result = new List<AuditEntry>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result.Add(AlertRows.ReadAudit(reader, readTime));
        }
        return result;
    }

    public static async Task<long> DeleteExpiredAsync(DbConnection connection, DateTimeOffset alertsBefore, bool includeOpen,
        DateTimeOffset deadLettersBefore, DateTimeOffset auditBefore, Func<DateTimeOffset, object> time, CancellationToken ct)
    {
        long deleted = 0;
        await using (var alerts = connection.CreateCommand())
        {
            alerts.CommandText = includeOpen
                ? "DELETE FROM security_alerts WHERE event_time < @before;"
                : "DELETE FROM security_alerts WHERE event_time < @before AND status <> @open;";
            Add(alerts, "@before", time(alertsBefore));
            if (!includeOpen)
            {
                Add(alerts, "@open", (int)AlertStatus.Open);
            }
            deleted += await alerts.ExecuteNonQueryAsync(ct);
        }
        await using (var letters = connection.CreateCommand())
        {
            letters.CommandText = "DELETE FROM dead_letters WHERE received_at < @before;";
            Add(letters, "@before", time(deadLettersBefore));
            deleted += await letters.ExecuteNonQueryAsync(ct);
        }
        await using (var audit = connection.CreateCommand())
        {
            audit.CommandText = "DELETE FROM audit_log WHERE at < @before;";
            Add(audit, "@before", time(auditBefore));
            deleted += await audit.ExecuteNonQueryAsync(ct);
        }
        return deleted;
    }

    private static async Task<Alert?> ReadAsync(DbConnection connection, string alertId, Func<DbDataReader, int, DateTimeOffset> readTime,
        CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {AlertRows.Columns.Replace("evidence", "CAST(evidence AS TEXT)", StringComparison.Ordinal)} FROM security_alerts WHERE alert_id = @id;";
        Add(command, "@id", alertId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? AlertRows.Read(reader, readTime) : null;
    }

    internal static void Add(DbCommand command, string name, object value)
    {
        var p = command.CreateParameter();
        p.ParameterName = name;
        p.Value = value;
        command.Parameters.Add(p);
    }
}
